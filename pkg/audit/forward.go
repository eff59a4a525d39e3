package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Forwarder posts alerts to an HTTP endpoint: generic JSON (one object
// per alert, in a list) or a Slack-compatible incoming-webhook payload.
// Alerts wait in a bounded queue; a failed post is retried with back-off
// and dropped (and counted) after the last attempt, so a slow endpoint
// never holds up the receiver.
type Forwarder struct {
	URL   string
	Slack bool
	// MinSeverity forwards only findings at least this severe.
	MinSeverity finding.Severity
	Client      *http.Client
	// Attempts per batch (default 5), starting Backoff apart (default
	// 1s), doubling.
	Attempts int
	Backoff  time.Duration
	Metrics  *Metrics
	Logger   *slog.Logger

	q chan []Alert
}

// Alert is a finding as streamed (JSON lines) and forwarded.
type Alert struct {
	ControlID string           `json:"controlID"`
	Severity  finding.Severity `json:"severity"`
	Object    object.Ref       `json:"object"`
	// Position is the event's file and line; events the webhook
	// received have none.
	Position   *object.Position     `json:"position,omitempty"`
	Message    string               `json:"message"`
	Suppressed *finding.Suppression `json:"suppressed,omitempty"`
	Activity   *finding.Activity    `json:"activity,omitempty"`
}

// AlertOf is the alert form of a finding.
func AlertOf(f *finding.Finding) Alert {
	a := Alert{ControlID: f.ControlID, Severity: f.Severity, Object: f.Object, Message: f.Message, Suppressed: f.Suppressed, Activity: f.Activity}
	if f.Position.Line > 0 {
		pos := f.Position
		a.Position = &pos
	}
	return a
}

// Start runs the forwarder until ctx ends.
func (fw *Forwarder) Start(ctx context.Context) {
	if fw.Client == nil {
		fw.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if fw.Attempts <= 0 {
		fw.Attempts = 5
	}
	if fw.Backoff <= 0 {
		fw.Backoff = time.Second
	}
	if fw.Logger == nil {
		fw.Logger = slog.New(slog.DiscardHandler)
	}
	fw.q = make(chan []Alert, 256)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case as := <-fw.q:
				fw.send(ctx, as)
			}
		}
	}()
}

// Send queues the findings that are not suppressed and severe enough.
func (fw *Forwarder) Send(fs []*finding.Finding) {
	var as []Alert
	for _, f := range fs {
		if f.Suppressed == nil && f.Severity >= fw.MinSeverity {
			as = append(as, AlertOf(f))
		}
	}
	if len(as) == 0 {
		return
	}
	select {
	case fw.q <- as:
	default:
		fw.count("dropped", len(as))
		fw.Logger.Warn("alert forwarding queue full; alerts dropped", "alerts", len(as))
	}
}

func (fw *Forwarder) count(result string, n int) {
	if fw.Metrics != nil {
		fw.Metrics.Forwards.WithLabelValues(result).Add(float64(n))
	}
}

func (fw *Forwarder) send(ctx context.Context, as []Alert) {
	body, err := fw.payload(as)
	if err != nil {
		fw.count("dropped", len(as))
		return
	}
	wait := fw.Backoff
	for attempt := 1; ; attempt++ {
		err := fw.post(ctx, body)
		if err == nil {
			fw.count("sent", len(as))
			return
		}
		if attempt == fw.Attempts || ctx.Err() != nil {
			fw.count("dropped", len(as))
			fw.Logger.Warn("forwarding alerts failed; dropped", "url", fw.URL, "attempts", attempt, "error", err)
			return
		}
		fw.count("retried", len(as))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (fw *Forwarder) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fw.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := fw.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s", resp.Status)
	}
	return nil
}

func (fw *Forwarder) payload(as []Alert) ([]byte, error) {
	if !fw.Slack {
		return json.Marshal(as)
	}
	var text bytes.Buffer
	for _, a := range as {
		fmt.Fprintf(&text, "*%s* [%s] %s\n", a.ControlID, a.Severity, a.Message)
	}
	return json.Marshal(map[string]string{"text": text.String()})
}
