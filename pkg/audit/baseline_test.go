package audit

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kubeguard/kubeguard/internal/auditgen"
)

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func ev(user, verb, resource, ns, ip, agent string, at time.Time) *auditv1.Event {
	return &auditv1.Event{Stage: auditv1.StageResponseComplete, Verb: verb, User: authnv1.UserInfo{Username: user},
		SourceIPs: []string{ip}, UserAgent: agent, ObjectRef: &auditv1.ObjectReference{Resource: resource, Namespace: ns},
		ResponseStatus: &metav1.Status{Code: 200}, StageTimestamp: metav1.NewMicroTime(at)}
}

const reporter = "system:serviceaccount:shop:reporter"

// learn feeds the reporter's habits for days: get configmaps in shop
// from the pod network, as its own client.
func learn(b *Baseline, days int) {
	for h := 0; h < days*24; h++ {
		for k := 0; k < 10; k++ {
			b.Observe(ev(reporter, "get", "configmaps", "shop", "10.244.3.7", "reporter/v1.2", t0.Add(time.Duration(h)*time.Hour+time.Duration(k)*time.Minute)))
		}
	}
}

func TestBaselineAnomalies(t *testing.T) {
	b := NewBaseline(BaselineOptions{})
	// learning: new things are learned, not reported
	if as := b.Observe(ev(reporter, "list", "secrets", "kube-system", "10.244.3.7", "reporter/v1.2", t0)); len(as) != 0 {
		t.Fatalf("reported while learning: %v", as)
	}
	learn(b, 14)
	later := t0.Add(15 * 24 * time.Hour)
	cases := []struct {
		e       *auditv1.Event
		control string
		msg     string
	}{
		{ev(reporter, "get", "configmaps", "shop", "10.244.9.1", "reporter/v1.3", later), "", ""}, // same network, new version
		{ev(reporter, "list", "secrets", "kube-system", "10.244.3.7", "reporter/v1.2", later), "", ""},
		{ev(reporter, "get", "secrets", "kube-system", "10.244.3.7", "reporter/v1.2", later), "AUD-ANOMALY-ACCESS",
			"sa:shop/reporter read secrets in kube-system for the first time in 15 days of baseline"},
		{ev(reporter, "get", "configmaps", "shop", "203.0.113.9", "reporter/v1.2", later), "AUD-ANOMALY-SOURCE", "came from 203.0.113.0/24"},
		{ev(reporter, "get", "configmaps", "shop", "10.244.3.7", "kubectl/v1.37.2 (linux/amd64) kubernetes/abc", later), "AUD-ANOMALY-AGENT", "used kubectl"},
		{ev(reporter, "get", "configmaps", "shop", "10.244.3.7", "kubectl/v1.37.2", later), "", ""}, // reported once
		{ev(reporter, "get", "configmaps", "billing", "10.244.3.7", "reporter/v1.2", later), "AUD-ANOMALY-ACCESS", "read configmaps in billing"},
	}
	for i, c := range cases {
		as := b.Observe(c.e)
		if c.control == "" {
			if len(as) != 0 {
				t.Errorf("%d: %v, want nothing", i, as)
			}
			continue
		}
		if len(as) != 1 || as[0].Control.ID != c.control || !strings.Contains(as[0].Message, c.msg) {
			t.Errorf("%d: %+v, want %s %q", i, as, c.control, c.msg)
		}
	}
	// a third and fourth namespace: the identity works across namespaces
	b.Observe(ev(reporter, "get", "configmaps", "web", "10.244.3.7", "reporter/v1.2", later))
	if as := b.Observe(ev(reporter, "get", "configmaps", "data", "10.244.3.7", "reporter/v1.2", later)); len(as) != 0 {
		t.Errorf("a namespace-wide identity's new namespace: %v", as)
	}
	// but reading Secrets in one more namespace still counts
	if as := b.Observe(ev(reporter, "get", "secrets", "shop", "10.244.3.7", "reporter/v1.2", later)); len(as) != 1 || !strings.Contains(as[0].Message, "read secrets in shop") {
		t.Errorf("secrets in a further namespace: %+v", as)
	}
	// the rate: four times the busiest hour, at least 200
	spike := later.Add(2 * time.Hour)
	var rate []Anomaly
	for k := 0; k < 250; k++ {
		rate = append(rate, b.Observe(ev(reporter, "get", "configmaps", "shop", "10.244.3.7", "reporter/v1.2", spike.Add(time.Duration(k)*time.Second)))...)
	}
	if len(rate) != 1 || rate[0].Control.ID != "AUD-ANOMALY-RATE" || !strings.Contains(rate[0].Message, "made 201 requests within the hour") {
		t.Errorf("rate: %+v", rate)
	}
	if b.Identities[reporter].Peak != 11 {
		t.Errorf("peak %d, want 11 (a spike is not learned as the peak)", b.Identities[reporter].Peak)
	}
}

func TestBaselineForgetAndBounds(t *testing.T) {
	b := NewBaseline(BaselineOptions{Forget: 10 * 24 * time.Hour, MaxIdentities: 100})
	learn(b, 2)
	b.Observe(ev("alice", "get", "pods", "shop", "192.168.1.4", "kubectl/v1", t0))
	b.Observe(ev(reporter, "list", "nodes", "", "10.244.3.7", "reporter/v1.2", t0.Add(20*24*time.Hour)))
	terms, ids := b.Forget()
	if ids != 1 || b.Identities["alice"] != nil || terms != 2 { // get configmaps in shop, and shop
		t.Errorf("forgot %d terms, %d identities: %v", terms, ids, b.Identities)
	}
	if _, ok := b.Identities[reporter].Access["list nodes|"]; !ok {
		t.Errorf("kept the recent term: %v", b.Identities[reporter].Access)
	}
	for i := 0; i < 1000; i++ {
		b.Observe(ev("user-"+time.Duration(i).String(), "get", "pods", "shop", "192.168.1.4", "kubectl/v1", t0.Add(time.Duration(i)*time.Hour)))
	}
	if len(b.Identities) > 100 || b.Evicted == 0 {
		t.Errorf("%d identities, %d evicted", len(b.Identities), b.Evicted)
	}
}

func TestBaselineFileStore(t *testing.T) {
	b := NewBaseline(BaselineOptions{})
	learn(b, 8)
	store := FileStore(filepath.Join(t.TempDir(), "b.json.gz"))
	if err := store.Save(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	got, err := store.Load(context.Background(), BaselineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := got.Identities[reporter]
	if p == nil || p.Events != b.Identities[reporter].Events || p.Peak != 10 || !got.Updated.Equal(b.Updated) {
		t.Fatalf("round trip: %+v", p)
	}
	// the loaded baseline goes on judging as the saved one would
	if as := got.Observe(ev(reporter, "get", "secrets", "shop", "10.244.3.7", "reporter/v1.2", t0.Add(9*24*time.Hour))); len(as) != 1 {
		t.Errorf("after loading: %v", as)
	}
}

// A month of 200 identities' benign activity with deviations injected
// after two weeks: how many deviations are found (recall), how many
// anomalies are deviations (precision), and false positives per
// identity-day after learning.
func TestAnomalyPrecisionRecall(t *testing.T) {
	b := NewBaseline(BaselineOptions{})
	type found struct {
		user string
		at   time.Time
		a    Anomaly
	}
	var anomalies []found
	tr := auditgen.Generate(auditgen.Options{Seed: 1}, func(e *auditv1.Event) {
		for _, a := range b.Observe(e) {
			anomalies = append(anomalies, found{a.Identity, e.StageTimestamp.Time, a})
		}
	})
	tp, fp := 0, 0
	for _, a := range anomalies {
		hit := false
		for _, in := range tr.Injections {
			if in.User == a.user && a.at.Sub(in.At) >= 0 && a.at.Sub(in.At) < time.Hour {
				in.Detected, hit = true, true
			}
		}
		if hit {
			tp++
		} else {
			fp++
			if testing.Verbose() && fp < 40 {
				t.Logf("false positive: %s %s", a.a.Control.ID, a.a.Message)
			}
		}
	}
	detected := 0
	missed := map[string]int{}
	for _, in := range tr.Injections {
		if in.Detected {
			detected++
		} else {
			missed[in.Kind]++
		}
	}
	recall := float64(detected) / float64(len(tr.Injections))
	precision := float64(tp) / float64(max(1, tp+fp))
	days := tr.Opts.Days - 7 // anomalies start after the 7-day window
	fpRate := float64(fp) / float64(len(tr.Users)*days)
	t.Logf("%d events, %d identities, %d days; %d deviations injected, %d detected (recall %.2f, missed %v); %d anomalies, %d true (precision %.2f); %.4f false positives per identity-day",
		tr.Events, len(tr.Users), tr.Opts.Days, len(tr.Injections), detected, recall, missed, tp+fp, tp, precision, fpRate)
	if recall < 0.95 || precision < 0.5 || fpRate > 0.01 {
		t.Errorf("recall %.2f (want ≥ 0.95), precision %.2f (want ≥ 0.5), false positives %.4f per identity-day (want ≤ 0.01)", recall, precision, fpRate)
	}
}
