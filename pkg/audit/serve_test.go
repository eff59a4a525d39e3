package audit

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/finding"
)

// eventList is the attack script as the webhook backend posts it.
func eventList(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("testdata/attacks.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Join(lines, ",") + `]}`
}

func post(h http.Handler, body string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(body)))
	return w
}

func TestReceiver(t *testing.T) {
	var mu sync.Mutex
	var got []string
	r := &Receiver{Detector: detector(t), Queue: 1, Alerts: func(fs []*finding.Finding) {
		mu.Lock()
		defer mu.Unlock()
		for _, f := range fs {
			got = append(got, f.ControlID)
		}
	}}
	m := r.NewMetrics(prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// a batch is answered once judged: its alerts are out by then
	if w := post(r, eventList(t)); w.Code != 200 {
		t.Fatalf("batch: %d %s", w.Code, w.Body)
	}
	mu.Lock()
	if n := strings.Count(strings.Join(got, " "), "AUD-"); n != 18 {
		t.Errorf("%d AUD alerts after the answer, want 18: %v", n, got)
	}
	mu.Unlock()
	if n := testutil.ToFloat64(m.Events); n != 42 {
		t.Errorf("events metric %v, want 42", n)
	}
	if n := testutil.ToFloat64(m.Alerts.WithLabelValues("AUD-EXEC")); n != 1 {
		t.Errorf("AUD-EXEC alerts metric %v", n)
	}
	// not audit events: 400, counted
	if w := post(r, `{"kind":"Pod","apiVersion":"v1"}`); w.Code != 400 || testutil.ToFloat64(m.Invalid) != 1 {
		t.Errorf("invalid body: %d", w.Code)
	}
	// a standby replica refuses and closes the connection
	r.Active = func() bool { return false }
	if w := post(r, eventList(t)); w.Code != 503 || w.Header().Get("Connection") != "close" {
		t.Errorf("standby: %d %v", w.Code, w.Header())
	}
	r.Active = nil
}

// A full queue answers 429 at once (the API server retries); nothing
// accepted is dropped.
func TestReceiverBackPressure(t *testing.T) {
	var judged atomic.Int64
	block := make(chan struct{})
	r := &Receiver{Detector: detector(t), Queue: 1, Alerts: func(fs []*finding.Finding) { <-block; judged.Add(1) }}
	m := r.NewMetrics(prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	codes := make(chan int, 3)
	for i := 0; i < 3; i++ {
		go func() { codes <- post(r, eventList(t)).Code }()
		time.Sleep(100 * time.Millisecond) // one judged (blocked), one queued, one refused
	}
	if c := <-codes; c != http.StatusTooManyRequests {
		t.Errorf("third batch: %d, want 429", c)
	}
	close(block)
	for i := 0; i < 2; i++ {
		if c := <-codes; c != 200 {
			t.Errorf("accepted batch: %d", c)
		}
	}
	cancel()
	<-done
	if judged.Load() != 2 || testutil.ToFloat64(m.Batches.WithLabelValues("rejected_full")) != 1 {
		t.Errorf("judged %d batches; rejected %v", judged.Load(), testutil.ToFloat64(m.Batches.WithLabelValues("rejected_full")))
	}
}

func TestForwarder(t *testing.T) {
	var calls atomic.Int64
	bodies := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable) // retried
			return
		}
		b, _ := io.ReadAll(req.Body)
		bodies <- string(b)
	}))
	defer srv.Close()
	for _, slack := range []bool{false, true} {
		calls.Store(0)
		fw := &Forwarder{URL: srv.URL, Slack: slack, MinSeverity: finding.Medium, Backoff: 10 * time.Millisecond}
		r := &Receiver{}
		fw.Metrics = r.NewMetrics(prometheus.NewRegistry())
		ctx, cancel := context.WithCancel(context.Background())
		fw.Start(ctx)
		fw.Send([]*finding.Finding{
			{ControlID: "AUD-EXEC", Severity: finding.Medium, Message: "mallory ran a command", Activity: &finding.Activity{User: "mallory"}},
			{ControlID: "AUD-PORT-FORWARD", Severity: finding.Low, Message: "below the threshold"},
		})
		select {
		case b := <-bodies:
			if slack {
				var p map[string]string
				if json.Unmarshal([]byte(b), &p) != nil || !strings.Contains(p["text"], "*AUD-EXEC* [medium] mallory ran a command") {
					t.Errorf("slack payload %s", b)
				}
			} else {
				var as []Alert
				if json.Unmarshal([]byte(b), &as) != nil || len(as) != 1 || as[0].ControlID != "AUD-EXEC" || as[0].Activity.User != "mallory" {
					t.Errorf("payload %s", b)
				}
			}
		case <-time.After(5 * time.Second):
			t.Fatal("nothing forwarded")
		}
		for deadline := time.Now().Add(2 * time.Second); testutil.ToFloat64(fw.Metrics.Forwards.WithLabelValues("sent")) == 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond) // counted when the response is read
		}
		if testutil.ToFloat64(fw.Metrics.Forwards.WithLabelValues("retried")) != 1 || testutil.ToFloat64(fw.Metrics.Forwards.WithLabelValues("sent")) != 1 {
			t.Errorf("forward metrics: retried %v sent %v", testutil.ToFloat64(fw.Metrics.Forwards.WithLabelValues("retried")), testutil.ToFloat64(fw.Metrics.Forwards.WithLabelValues("sent")))
		}
		cancel()
	}
}

func TestUnexpectedNetwork(t *testing.T) {
	d := detector(t)
	nd, err := NewDetector(d.eng, &config.AuditConfig{Networks: []string{"10.0.0.0/24", "192.168.1.7"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ip   string
		want bool
	}{{"10.0.0.9", false}, {"192.168.1.7", false}, {"192.168.1.8", true}, {"203.0.113.5", true}, {"::ffff:10.0.0.3", false}} {
		e := &Event{Event: *ev("alice", "get", "pods", "shop", c.ip, "kubectl/v1", t0)}
		fs, _ := nd.Event(e)
		got := false
		for _, f := range fs {
			got = got || f.ControlID == "AUD-UNEXPECTED-NETWORK"
		}
		if got != c.want {
			t.Errorf("%s: flagged %v, want %v", c.ip, got, c.want)
		}
	}
	if _, err := NewDetector(d.eng, &config.AuditConfig{Networks: []string{"10.0.0.0/33"}}); err == nil {
		t.Error("a bad CIDR is accepted")
	}
}

// Follow reads on as lines are appended, and across a rotation.
func TestFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	lines, _ := os.ReadFile("testdata/attacks.jsonl")
	all := strings.SplitAfter(string(lines), "\n")
	os.WriteFile(path, []byte(strings.Join(all[:5], "")), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var ids []string
	done := make(chan struct{})
	go func() {
		Follow(ctx, path, func(e *Event) { mu.Lock(); ids = append(ids, string(e.AuditID)); mu.Unlock() }, func() {})
		close(done)
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(ids) }
	waitFor := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); count() < n && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if count() != n {
			t.Fatalf("%d events read, want %d", count(), n)
		}
	}
	waitFor(5)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(strings.Join(all[5:8], ""))
	f.Close()
	waitFor(8)
	// rotation: renamed, then a new file; a line written to the old one
	// just before is not lost
	f, _ = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(all[8])
	f.Close()
	os.Rename(path, path+".1")
	os.WriteFile(path, []byte(strings.Join(all[9:12], "")), 0o644)
	waitFor(12)
	cancel()
	<-done
	if ids[11] != "00000000-0000-0000-0000-000000000012" || ids[8] != "00000000-0000-0000-0000-000000000009" {
		t.Errorf("order: %v", ids)
	}
}
