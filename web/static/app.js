// golava web UI: progressive enhancement only; every page works without it.
(function () {
  "use strict";

  // Level filter: a class on the log container hides a level's lines.
  function levelFilter(log) {
    document.querySelectorAll(".lvl-toggle").forEach(function (box) {
      box.addEventListener("change", function () {
        log.classList.toggle("hide-" + box.value, !box.checked);
      });
    });
  }

  // A #L<n> link to a line on another page goes to the page holding it.
  function followLineAnchor(log) {
    var m = /^#L(\d+)$/.exec(location.hash);
    if (!m || document.getElementById("L" + m[1])) { return; }
    var url = new URL(location.href);
    if (url.searchParams.get("line") === m[1]) { return; }
    url.searchParams.delete("log_start");
    url.searchParams.set("line", m[1]);
    location.replace(url.toString());
  }

  function setText(id, text, cls) {
    var el = document.getElementById(id);
    if (!el) { return; }
    el.textContent = text;
    if (cls) { el.className = cls; }
  }

  // Live log: while the job runs and the page shows the end, fetch the
  // lines after the last one shown and append them. The events WebSocket
  // (/ws/, LAVA's format) wakes the viewer at once when the job changes;
  // a slow poll covers the log lines in between and a missing socket.
  function follow(log) {
    var job = log.dataset.job, next = parseInt(log.dataset.next, 10), status = document.getElementById("log-end");
    var timer = null, busy = false, done = false, ws = null;
    var atBottom = function () { return log.scrollHeight - log.scrollTop - log.clientHeight < 40; };
    function schedule(ms) {
      if (done) { return; }
      clearTimeout(timer);
      timer = setTimeout(poll, ms);
    }
    function finish(f) {
      done = true;
      clearTimeout(timer);
      if (ws) { ws.close(); }
      status.textContent = "End of log: the job finished (" + f.health + ").";
      status.dataset.done = "1";
    }
    function poll() {
      if (busy) { schedule(200); return; }
      busy = true;
      fetch("/scheduler/job/" + job + "/log_fragment?start=" + next, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (f) {
          busy = false;
          var stick = atBottom();
          if (f.html) { log.insertAdjacentHTML("beforeend", f.html); }
          next = f.next;
          log.dataset.next = String(next);
          setText("log-total", String(f.total));
          setText("job-state", f.state, "st st-" + f.state.toLowerCase());
          setText("job-health", f.health, "h h-" + f.health.toLowerCase());
          if (stick) { log.scrollTop = log.scrollHeight; }
          if (next < f.total) { schedule(0); return; }
          if (f.finished) { finish(f); return; }
          schedule(1000);
        })
        .catch(function () { busy = false; schedule(5000); });
    }
    try {
      ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/");
      ws.onopen = function () { log.dataset.ws = "open"; };
      ws.onmessage = function (ev) {
        try {
          var m = JSON.parse(ev.data), d = typeof m[4] === "string" ? JSON.parse(m[4]) : m[4];
          if (/\.testjob$/.test(m[0]) && String(d.job) === job) { schedule(0); }
        } catch (e) { /* not an event for us */ }
      };
    } catch (e) { ws = null; }
    log.scrollTop = log.scrollHeight;
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var log = document.getElementById("log");
    if (!log) { return; }
    levelFilter(log);
    followLineAnchor(log);
    if (location.hash === "#log-end") { log.scrollTop = log.scrollHeight; }
    var target = /^#L\d+$/.test(location.hash) && document.getElementById(location.hash.slice(1));
    if (target) { log.scrollTop = target.offsetTop - log.offsetTop - 40; }
    if (log.dataset.live === "1") { follow(log); }
  });
})();
