package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
	"go.yaml.in/yaml/v3"

	"golava/server/store"
)

// notifyJob sends every callback and mail of spec for job j in state.
func (s *Service) notifyJob(ctx context.Context, log *slog.Logger, j *store.Job, state string, spec *Spec) {
	for i, cb := range spec.Callbacks {
		target := fmt.Sprintf("callback:%d:%s", i, cb.URL)
		s.once(ctx, log, j.ID, state, target, func() error { return s.callback(ctx, j, cb) })
	}
	to := s.recipients(ctx, log, j, spec)
	for _, addr := range to {
		s.once(ctx, log, j.ID, state, "email:"+addr, func() error { return s.mail(ctx, j, addr) })
	}
}

// once claims the notification, tries it with back-off and records the outcome.
func (s *Service) once(ctx context.Context, log *slog.Logger, jobID int64, state, target string, send func() error) {
	claimed, err := s.st.ClaimNotification(ctx, jobID, state, target)
	if err != nil || !claimed {
		if err != nil {
			log.Warn("notify: claim", slog.String("target", target), slog.Any("error", err))
		}
		return
	}
	wait := s.cfg.Backoff
	var last error
	attempt := 1
	for ; attempt <= s.cfg.Attempts; attempt++ {
		if last = send(); last == nil {
			break
		}
		log.Warn("notify: attempt failed", slog.String("target", target), slog.Int("attempt", attempt), slog.Any("error", last))
		if attempt == s.cfg.Attempts {
			break
		}
		select {
		case <-ctx.Done():
			last = ctx.Err()
		case <-time.After(wait):
		}
		if ctx.Err() != nil {
			break
		}
		wait *= 2
	}
	detail := ""
	if last != nil {
		detail = last.Error()
		log.Error("notify: giving up", slog.String("target", target), slog.Any("error", last))
	} else {
		log.Info("notify: sent", slog.String("target", target), slog.Int("attempts", min(attempt, s.cfg.Attempts)))
	}
	if err := s.st.FinishNotification(context.WithoutCancel(ctx), jobID, state, target, last == nil, min(attempt, s.cfg.Attempts), detail); err != nil {
		log.Warn("notify: record outcome", slog.Any("error", err))
	}
}

// recipients are the email addresses of the block: given ones, those of
// named users, or the submitter's when the block has neither recipients nor
// callbacks (as LAVA). IRC recipients are skipped (see README).
func (s *Service) recipients(ctx context.Context, log *slog.Logger, j *store.Job, spec *Spec) []string {
	var out []string
	users := []string{}
	for _, r := range spec.Recipients {
		switch r.To.Method {
		case "email":
			if r.To.Email != "" {
				out = append(out, r.To.Email)
			} else if r.To.User != "" {
				users = append(users, r.To.User)
			}
		case "irc":
			log.Info("notify: IRC notifications are not supported; recipient skipped", slog.String("handle", r.To.Handle))
		}
	}
	if len(spec.Recipients) == 0 && len(spec.Callbacks) == 0 {
		users = append(users, j.Submitter)
	}
	for _, name := range users {
		u, err := s.st.UserByName(ctx, name)
		if err != nil || u.Email == "" {
			log.Warn("notify: user has no email address", slog.String("user", name))
			continue
		}
		out = append(out, u.Email)
	}
	return out
}

// mail sends one message.
func (s *Service) mail(ctx context.Context, j *store.Job, to string) error {
	if s.cfg.SMTPHost == "" {
		return fmt.Errorf("no SMTP server configured")
	}
	m := mail.NewMsg()
	if err := m.From(s.cfg.From); err != nil {
		return fmt.Errorf("sender %q: %w", s.cfg.From, err)
	}
	if err := m.To(to); err != nil {
		return fmt.Errorf("recipient %q: %w", to, err)
	}
	desc := j.Description
	if len(desc) > 200 {
		desc = desc[:200]
	}
	m.Subject(fmt.Sprintf("LAVA notification for Test Job %d %s", j.ID, desc))
	m.SetBodyString(mail.TypeTextPlain, s.mailBody(j))
	opts := []mail.Option{mail.WithPort(s.cfg.SMTPPort), mail.WithTimeout(30 * time.Second)}
	switch s.cfg.SMTPTLS {
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if s.cfg.SMTPUser != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(s.cfg.SMTPUser), mail.WithPassword(s.cfg.SMTPPassword))
	}
	c, err := mail.NewClient(s.cfg.SMTPHost, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	c.SetTLSConfig(&tls.Config{ServerName: s.cfg.SMTPHost, MinVersion: tls.VersionTLS12})
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("send mail to %s: %w", to, err)
	}
	return nil
}

// mailBody is golava's own plain-text notification.
func (s *Service) mailBody(j *store.Job) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Job %d: %s\n\n", j.ID, j.Description)
	fmt.Fprintf(&b, "State:     %s\nHealth:    %s\n", j.State, j.Health)
	fmt.Fprintf(&b, "Submitter: %s\n", j.Submitter)
	if j.ActualDevice != nil {
		fmt.Fprintf(&b, "Device:    %s\n", *j.ActualDevice)
	}
	if j.RequestedDeviceType != nil {
		fmt.Fprintf(&b, "Type:      %s\n", *j.RequestedDeviceType)
	}
	if j.StartTime != nil && j.EndTime != nil {
		fmt.Fprintf(&b, "Duration:  %s\n", j.EndTime.Sub(*j.StartTime).Round(time.Second))
	}
	if j.FailureComment != nil && *j.FailureComment != "" {
		fmt.Fprintf(&b, "Failure:   %s\n", *j.FailureComment)
	}
	if s.cfg.BaseURL != "" {
		fmt.Fprintf(&b, "\n%s/scheduler/job/%d\n", strings.TrimRight(s.cfg.BaseURL, "/"), j.ID)
	}
	return b.String()
}

// callback makes one HTTP call with the job's data, as LAVA's
// NotificationCallback.invoke_callback.
func (s *Service) callback(ctx context.Context, j *store.Job, cb Callback) error {
	u := substituteURL(j, cb.URL)
	var body io.Reader
	contentType := ""
	if cb.Method != "GET" {
		data, err := s.jobData(ctx, j, cb)
		if err != nil {
			return err
		}
		if cb.ContentType == "json" {
			b, err := json.Marshal(data)
			if err != nil {
				return fmt.Errorf("encode job data: %w", err)
			}
			body, contentType = bytes.NewReader(b), "application/json"
		} else {
			form := url.Values{}
			for k, v := range data {
				form.Set(k, formValue(v))
			}
			body, contentType = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
		}
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, cb.Method, u, body)
	if err != nil {
		return fmt.Errorf("callback %s: %w", u, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if cb.Token != "" {
		req.Header.Set(cb.Header, cb.Token)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("callback %s: %w", u, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 400 {
		return fmt.Errorf("callback %s: %s", u, resp.Status)
	}
	return nil
}

func formValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "None"
	case map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

var urlVar = regexp.MustCompile(`{\s*[A-Z_-]*\s*}`)

// substituteURL replaces {ID}, {STATUS}, {STATUS_STRING}, {STATE},
// {HEALTH}, {SUBMITTER}, {DESCRIPTION} ... with the job's fields.
func substituteURL(j *store.Job, u string) string {
	return urlVar.ReplaceAllStringFunc(u, func(v string) string {
		name := strings.ToLower(strings.TrimSpace(strings.Trim(v, "{}")))
		switch name {
		case "id":
			return strconv.FormatInt(j.ID, 10)
		case "status":
			return strconv.Itoa(legacyStatus(j))
		case "status_string":
			return strings.ToLower(legacyStatusString(j))
		case "state":
			return j.State
		case "health":
			return j.Health
		case "description":
			return url.PathEscape(j.Description)
		case "priority":
			return strconv.Itoa(j.Priority)
		}
		return v
	})
}

func legacyStatus(j *store.Job) int {
	switch {
	case j.State == "Submitted" || j.State == "Scheduling" || j.State == "Scheduled":
		return 0
	case j.State == "Running":
		return 1
	case j.State == "Canceling":
		return 5
	case j.Health == "Complete":
		return 2
	case j.Health == "Unknown" || j.Health == "Incomplete":
		return 3
	}
	return 4
}

func legacyStatusString(j *store.Job) string {
	return [...]string{"Submitted", "Running", "Complete", "Incomplete", "Canceled", "Canceling"}[legacyStatus(j)]
}

// pyTime is Python's str() of an aware datetime, "None" when unset.
func pyTime(t *time.Time) string {
	if t == nil {
		return "None"
	}
	u := t.UTC()
	if u.Nanosecond()/1000 == 0 {
		return u.Format("2006-01-02 15:04:05") + "+00:00"
	}
	return u.Format("2006-01-02 15:04:05.000000") + "+00:00"
}

// jobData is LAVA's TestJob.create_job_data.
func (s *Service) jobData(ctx context.Context, j *store.Job, cb Callback) (map[string]any, error) {
	var failure any
	if j.FailureComment != nil {
		failure = *j.FailureComment
	}
	var device any
	if j.ActualDevice != nil {
		device = *j.ActualDevice
	}
	var meta struct {
		Metadata map[string]any `yaml:"metadata"`
	}
	_ = yaml.Unmarshal([]byte(j.Definition), &meta)
	if meta.Metadata == nil {
		meta.Metadata = map[string]any{}
	}
	d := map[string]any{
		"id": j.ID, "status": legacyStatus(j), "status_string": strings.ToLower(legacyStatusString(j)),
		"state": j.State, "state_string": j.State, "health": j.Health, "health_string": j.Health,
		"submit_time": pyTime(&j.SubmitTime), "start_time": pyTime(j.StartTime), "end_time": pyTime(j.EndTime),
		"submitter_username": j.Submitter, "failure_comment": failure, "priority": j.Priority,
		"description": j.Description, "actual_device_id": device, "definition": j.Definition,
		"metadata": meta.Metadata,
	}
	if cb.Token != "" {
		d["token"] = cb.Token
	}
	if cb.Dataset == "logs" || cb.Dataset == "all" {
		lines, err := s.st.ReadLog(ctx, j.ID, 0, -1)
		if err == nil {
			d["log"] = strings.Join(lines, "\n")
		}
	}
	if cb.Dataset == "results" || cb.Dataset == "all" {
		res, err := s.results(ctx, j.ID)
		if err != nil {
			return nil, err
		}
		d["results"] = res
	}
	return d, nil
}

// results is suite -> YAML list of its test cases.
func (s *Service) results(ctx context.Context, jobID int64) (map[string]any, error) {
	cases, _, err := s.st.TestCases(ctx, jobID, store.ResultFilter{})
	if err != nil {
		return nil, fmt.Errorf("results of job %d: %w", jobID, err)
	}
	bySuite := map[string][]map[string]any{}
	for _, c := range cases {
		tc := map[string]any{"job": strconv.FormatInt(jobID, 10), "suite": c.Suite, "name": c.Name,
			"result": c.Result, "logged": pyTime(&c.Logged), "unit": c.Units, "measurement": c.Measurement}
		bySuite[c.Suite] = append(bySuite[c.Suite], tc)
	}
	out := map[string]any{}
	for suite, list := range bySuite {
		b, err := yaml.Marshal(list)
		if err != nil {
			return nil, fmt.Errorf("encode results: %w", err)
		}
		out[suite] = string(b)
	}
	return out, nil
}
