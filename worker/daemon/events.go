package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"golava/pkg/workerapi"
)

// maxEventBytes bounds one WebSocket event; job events carry a description.
const maxEventBytes = 1 << 20

// listen follows the server's event WebSocket and asks the loop for a ping
// whenever a job of this worker is scheduled or canceled, so jobs start
// at once instead of at the next ping. It reconnects until ctx is done.
func (d *daemon) listen(ctx context.Context) {
	for {
		err := d.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		d.log.Debug("event stream lost", "url", d.cfg.WSURL, "error", err)
		timer := time.NewTimer(d.t.wsReconnect)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

func (d *daemon) listenOnce(ctx context.Context) error {
	dialCtx, cancel := context.WithTimeout(ctx, d.cfg.HTTPTimeout)
	conn, _, err := websocket.Dial(dialCtx, d.cfg.WSURL, &websocket.DialOptions{
		// The worker's credentials let /ws/ show it the events of private
		// jobs on its devices too (server/publisher.Visibility).
		HTTPHeader: http.Header{"User-Agent": {workerapi.UserAgent},
			workerapi.TokenHeader: {d.token}, "LAVA-Worker": {d.cfg.Name}},
	})
	cancel()
	if err != nil {
		return fmt.Errorf("connect events: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxEventBytes)
	d.log.Debug("listening to events", "url", d.cfg.WSURL)

	hbCtx, stopHB := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); d.heartbeat(hbCtx, conn) }()
	defer func() { stopHB(); <-hbDone }()

	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		if typ != websocket.MessageText {
			continue
		}
		if mentionsWorker(data, d.cfg.Name) {
			select {
			case d.wake <- struct{}{}:
			default: // a ping is already due
			}
		}
	}
}

// heartbeat pings the server so a dead connection (a proxy that dropped
// it silently) is noticed and replaced.
func (d *daemon) heartbeat(ctx context.Context, conn *websocket.Conn) {
	tick := time.NewTicker(d.t.wsHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pingCtx, cancel := context.WithTimeout(ctx, d.t.wsHeartbeat)
		err := conn.Ping(pingCtx)
		cancel()
		if err != nil && ctx.Err() == nil {
			conn.CloseNow()
			return
		}
	}
}

// mentionsWorker tells whether an event is a job of worker name becoming
// Scheduled or Canceling: [topic, uuid, datetime, username, data JSON].
func mentionsWorker(msg []byte, name string) bool {
	var frames []string
	if err := json.Unmarshal(msg, &frames); err != nil || len(frames) != 5 {
		return false
	}
	if !strings.HasSuffix(frames[0], ".testjob") {
		return false
	}
	var data struct {
		Worker any `json:"worker"`
		State  any `json:"state"`
	}
	if err := json.Unmarshal([]byte(frames[4]), &data); err != nil {
		return false
	}
	return data.Worker == name && (data.State == "Scheduled" || data.State == "Canceling")
}
