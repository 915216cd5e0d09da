package workerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxLinesPerPost is the most records one POST carries, as lava-run.
const MaxLinesPerPost = 1000

// LogSenderConfig configures a LogSender.
type LogSenderConfig struct {
	// URL is the server root (without /scheduler/...).
	URL   string
	JobID string
	// Token is the job token, sent as LAVA-Token.
	Token string
	// Interval between two uploads when fewer than MaxLinesPerPost records
	// are pending; default 5 s (--job-log-interval).
	Interval time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed upload;
	// defaults 1 s and 30 s. Tests shorten them.
	MinBackoff, MaxBackoff time.Duration
	// Client defaults to a client without timeout: a slow server must not
	// make us drop lines, and Close bounds the final flush.
	Client *http.Client
	Logger *slog.Logger
	// SpoolDir, when set, is where records beyond MemoryRecords wait (one
	// file, removed by Close), so a slow or absent server cannot make the
	// sender's memory grow with the console output. Empty keeps all in memory.
	SpoolDir string
	// MemoryRecords is how many records are kept in memory before spooling;
	// default 20000 (a few megabytes).
	MemoryRecords int
}

// LogSender uploads numbered log records to the server in the background.
// Records are only dropped once the server acknowledged them; because each
// request carries the index of its first record and the server skips what
// it already stored, a retry after a lost reply duplicates nothing.
type LogSender struct {
	cfg      LogSenderConfig
	endpoint string

	mu      sync.Mutex
	pending []string // oldest records, in order; pending[head:] are unsent
	head    int
	spool   *spool // newer records when memory is full; nil when unused
	index   int    // records acknowledged so far

	wake    chan struct{}
	closing chan struct{}
	done    chan struct{}
	cancel  context.CancelFunc
	once    sync.Once
	tickDue bool
}

// NewLogSender starts the upload loop; call Close to flush and stop it.
func NewLogSender(cfg LogSenderConfig) *LogSender {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MemoryRecords <= 0 {
		cfg.MemoryRecords = 20000
	}
	cfg.MemoryRecords = max(cfg.MemoryRecords, MaxLinesPerPost)
	ctx, cancel := context.WithCancel(context.Background())
	s := &LogSender{
		cfg:      cfg,
		endpoint: strings.TrimRight(cfg.URL, "/") + Prefix + "jobs/" + cfg.JobID + "/logs/",
		wake:     make(chan struct{}, 1),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		cancel:   cancel,
	}
	go s.loop(ctx)
	return s
}

// Send queues one encoded record (logfmt.Encode output, without "- ";
// one line). It never blocks on the network.
func (s *LogSender) Send(record string) {
	s.mu.Lock()
	if s.spool.count() > 0 || s.memCount() >= s.cfg.MemoryRecords {
		if s.spool == nil && s.cfg.SpoolDir != "" {
			s.spool = newSpool(s.cfg.SpoolDir)
		}
		if err := s.spool.put(record); err == nil {
			s.mu.Unlock()
			s.signal()
			return
		}
	}
	s.pending = append(s.pending, record)
	s.mu.Unlock()
	s.signal()
}

func (s *LogSender) memCount() int { return len(s.pending) - s.head }

// signal wakes the loop when a full batch is waiting.
func (s *LogSender) signal() {
	if s.pendingCount() < MaxLinesPerPost {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Acknowledged returns how many records the server has acknowledged.
func (s *LogSender) Acknowledged() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

// Close flushes every pending record, retrying until ctx is done, and
// stops the loop. It returns an error naming how many records were lost
// when ctx ended first. Calling it twice is safe.
func (s *LogSender) Close(ctx context.Context) error {
	s.once.Do(func() { close(s.closing) })
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancel()
		<-s.done
	}
	s.cancel()
	s.mu.Lock()
	lost := s.memCount() + s.spool.count()
	s.spool.remove()
	s.mu.Unlock()
	if lost > 0 {
		return fmt.Errorf("send logs of job %s: %d records not acknowledged", s.cfg.JobID, lost)
	}
	return nil
}

func (s *LogSender) loop(ctx context.Context) {
	defer close(s.done)
	ticker := time.NewTicker(s.cfg.Interval)
	defer ticker.Stop()
	backoff := s.cfg.MinBackoff
	closing := false
	for {
		n := s.pendingCount()
		if closing && n == 0 {
			return
		}
		if n > 0 && (closing || n >= MaxLinesPerPost || s.due()) {
			if err := s.postBatch(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.cfg.Logger.Warn("log upload failed", slog.String("job_id", s.cfg.JobID), slog.Any("error", err), slog.Duration("retry_in", backoff))
				if !sleepCtx(ctx, backoff) {
					return
				}
				backoff = min(backoff*2, s.cfg.MaxBackoff)
				continue
			}
			backoff = s.cfg.MinBackoff
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			closing = true
		case <-s.wake:
		case <-ticker.C:
			s.markDue()
		}
	}
}

// dueFlag is set by a tick and consumed by the next upload so that a tick
// that arrives while nothing is pending does not trigger an early send later.
func (s *LogSender) due() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tickDue
	if d {
		s.tickDue = false
	}
	return d
}

func (s *LogSender) markDue() {
	s.mu.Lock()
	s.tickDue = s.memCount()+s.spool.count() > 0
	s.mu.Unlock()
}

func (s *LogSender) pendingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.memCount() + s.spool.count()
}

// postBatch sends up to MaxLinesPerPost records. On success the
// acknowledged records are dropped; on failure nothing changes.
func (s *LogSender) postBatch(ctx context.Context) error {
	s.mu.Lock()
	s.refill()
	n := min(s.memCount(), MaxLinesPerPost)
	batch := s.pending[s.head : s.head+n : s.head+n]
	index := s.index
	s.mu.Unlock()

	form := url.Values{
		"lines": {"- " + strings.Join(batch, "\n- ")},
		"index": {strconv.Itoa(index)},
	}
	count, err := s.post(ctx, form)
	if err != nil {
		return err
	}
	if count <= 0 || count > n {
		return fmt.Errorf("server acknowledged %d of %d lines", count, n)
	}
	s.mu.Lock()
	clear(s.pending[s.head : s.head+count]) // let the strings be collected
	s.head += count
	if s.head > len(s.pending)/2 {
		s.pending = append(s.pending[:0], s.pending[s.head:]...)
		s.head = 0
	}
	s.index += count
	if s.memCount()+s.spool.count() > 0 {
		s.tickDue = true // keep draining without waiting a whole interval
	}
	s.mu.Unlock()
	return nil
}

// refill moves spooled records to memory when fewer than a batch remain
// there; s.mu must be held. A spool that cannot be read is reported and
// its records are lost rather than blocking the log forever.
func (s *LogSender) refill() {
	if s.memCount() >= MaxLinesPerPost || s.spool.count() == 0 {
		return
	}
	recs, err := s.spool.take(s.cfg.MemoryRecords - s.memCount())
	if err != nil {
		s.cfg.Logger.Error("log spool unreadable", slog.String("job_id", s.cfg.JobID), slog.Any("error", err))
	}
	s.pending = append(s.pending, recs...)
}

func (s *LogSender) post(ctx context.Context, form url.Values) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, fmt.Errorf("build log request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(TokenHeader, s.cfg.Token)
	req.Header.Set("User-Agent", "lava "+Version)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post logs: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return 0, fmt.Errorf("read log reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("post logs: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var reply LogReply
	if err := json.Unmarshal(body, &reply); err != nil {
		return 0, fmt.Errorf("decode log reply: %w", err)
	}
	return reply.LineCount, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
