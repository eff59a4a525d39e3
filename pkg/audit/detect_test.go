package audit

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
)

func detector(t testing.TB) *Detector {
	t.Helper()
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Live: true})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDetector(eng, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Each attack of the script is found on its line, by its rule, and the
// benign events beside them raise nothing.
func TestAttacks(t *testing.T) {
	f, err := os.Open("testdata/attacks.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := detector(t)
	aud := map[int][]string{}
	all := map[int][]string{}
	diags := Read(f, "attacks.jsonl", func(e *Event) {
		fs, ds := d.Event(e)
		if len(ds) > 0 {
			t.Errorf("%v", ds)
		}
		for _, f := range fs {
			all[f.Position.Line] = append(all[f.Position.Line], f.ControlID)
			if strings.HasPrefix(f.ControlID, "AUD-") {
				aud[f.Position.Line] = append(aud[f.Position.Line], f.ControlID)
			}
		}
	})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	want := map[int][]string{
		4: {"AUD-EXEC"}, 5: {"AUD-PORT-FORWARD"}, 6: {"AUD-EPHEMERAL-CONTAINER"}, 7: {"AUD-CLUSTER-ADMIN-BINDING"},
		8: {"AUD-SA-KUBE-SYSTEM"}, 9: {"AUD-SECRETS-ALL-NAMESPACES"}, 10: {"AUD-ANONYMOUS"}, 11: {"AUD-CONFIGMAP-CREDENTIALS"},
		12: {"AUD-NODEPORT"}, 13: {"AUD-IMPERSONATION"}, 14: {"AUD-WILDCARD-ROLE"},
		20: {"AUD-TOKEN-REQUEST"}, 22: {"AUD-CSR-APPROVAL"}, 24: {"AUD-RBAC-ESCALATION"}, 26: {"AUD-BINDING-BY-WORKLOAD"},
		28: {"AUD-POD-KUBE-SYSTEM"}, 30: {"AUD-SYSTEM-ROLE-CHANGED"}, 41: {"AUD-PROBING"},
	}
	for line := 1; line <= 42; line++ {
		got := aud[line]
		sort.Strings(got)
		if !slices.Equal(got, want[line]) {
			t.Errorf("line %d: %v, want %v", line, got, want[line])
		}
	}
	// the objects the events carry meet the same controls as in scan
	if !slices.Contains(all[2], "PSS-PRIVILEGED") || !slices.Contains(all[3], "PSS-HOST-PATH-VOLUMES") || !slices.Contains(all[3], "VOL-HOSTPATH-SENSITIVE") {
		t.Errorf("objects: line 2 %v, line 3 %v", all[2], all[3])
	}
	if len(all[1]) > 0 || slices.ContainsFunc(all[19], func(id string) bool { return strings.HasPrefix(id, "PSS-") }) {
		t.Errorf("the request stage or the hardened pod: %v %v", all[1], all[19])
	}
	if d.Events != 41 || d.Skipped != 1 {
		t.Errorf("events %d, skipped %d", d.Events, d.Skipped)
	}
}

// Lines that are not audit events are named and skipped; the rest is
// read.
func TestBadLines(t *testing.T) {
	good, _ := os.ReadFile("testdata/attacks.jsonl")
	first := strings.SplitN(string(good), "\n", 3)[1]
	in := strings.Join([]string{first[:len(first)/2], `{"apiVersion":"v1","kind":"Pod"}`, `{"apiVersion":"audit.k8s.io/v2","kind":"Event"}`, "",
		`{"apiVersion":"audit.k8s.io/v1","kind":"Event","verb":5}`, first}, "\n")
	n := 0
	diags := Read(strings.NewReader(in), "audit.log", func(*Event) { n++ })
	if n != 1 || len(diags) != 4 {
		t.Fatalf("%d events, diagnostics %v", n, diags)
	}
	for i, want := range []string{"audit.log:1: error: not JSON", "audit.log:2: error: not an audit event: apiVersion \"v1\"",
		"audit.log:3: error: not an audit event: apiVersion \"audit.k8s.io/v2\"", "audit.log:5: error: audit event: json: cannot unmarshal number"} {
		if !strings.HasPrefix(diags[i].String(), want) {
			t.Errorf("%q, want %q", diags[i].String(), want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := os.ReadFile("testdata/attacks.jsonl")
	for _, l := range strings.Split(string(good), "\n") {
		f.Add([]byte(l))
	}
	f.Add([]byte(`{"apiVersion":"audit.k8s.io/v1","kind":"EventList","items":[{}]}`))
	cat, err := controls.Catalog(controls.Options{})
	if err != nil {
		f.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Catalog: cat, Live: true})
	if err != nil {
		f.Fatal(err)
	}
	d, _ := NewDetector(eng, &config.AuditConfig{Networks: []string{"10.0.0.0/8"}})
	d.Baseline = NewBaseline(BaselineOptions{Window: time.Hour})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := Decode(b)
		if err != nil {
			return
		}
		for i := range evs {
			d.Event(&evs[i]) // must not panic, whatever the event holds
		}
	})
}

// The fast decoder and encoding/json agree on every input: both accept
// it or both refuse it, and accepted events are equal.
func FuzzDecodeAgrees(f *testing.F) {
	good, _ := os.ReadFile("testdata/attacks.jsonl")
	for _, l := range strings.Split(string(good), "\n") {
		f.Add([]byte(l))
	}
	f.Add([]byte(`{"apiVersion":"audit.k8s.io/v1","kind":"Event","stageTimestamp":"2026-13-01T00:00:00Z"}`))
	f.Add([]byte(`{"apiVersion":"audit.k8s.io/v1","kind":"Event","user":{"username":"\ud800"},"VERB":"get"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, std auditv1.Event
		errFast := unmarshal(b, &fast)
		errStd := json.Unmarshal(b, &std)
		if (errFast == nil) != (errStd == nil) {
			t.Fatalf("fast: %v, encoding/json: %v", errFast, errStd)
		}
		if errStd == nil && !reflect.DeepEqual(fast, std) {
			t.Fatalf("decoded differently:\n%+v\n%+v", fast, std)
		}
	})
}

// An object's catalog finding is told at the first event that shows it;
// an update that keeps it repeats nothing, one that adds a finding tells
// that one.
func TestCatalogFindingsToldOnce(t *testing.T) {
	d := detector(t)
	f, err := os.Open("testdata/attacks.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var privileged *Event
	Read(f, "attacks.jsonl", func(e *Event) {
		if e.At.Line == 2 {
			privileged = e
		}
	})
	count := func(e *Event) int {
		fs, _ := d.Event(e)
		n := 0
		for _, f := range fs {
			if !strings.HasPrefix(f.ControlID, "AUD-") {
				n++
			}
		}
		return n
	}
	first := count(privileged)
	if first == 0 {
		t.Fatal("the privileged pod raised nothing")
	}
	if again := count(privileged); again != 0 {
		t.Errorf("the same pod again: %d findings, want 0", again)
	}
	privileged.RequestObject.Raw = []byte(strings.Replace(string(privileged.RequestObject.Raw), `"spec":{`, `"spec":{"hostNetwork":true,`, 1))
	fs, _ := d.Event(privileged)
	if len(fs) != 1 || fs[0].ControlID != "PSS-HOST-NAMESPACES" {
		var ids []string
		for _, f := range fs {
			ids = append(ids, f.ControlID)
		}
		t.Errorf("an update adding hostNetwork: %v, want only PSS-HOST-NAMESPACES", ids)
	}
}

// Events out of order or from a clock ahead are counted and still judged.
func TestClockSkew(t *testing.T) {
	d := detector(t)
	d.Now = func() time.Time { return t0.Add(time.Hour) }
	for i, at := range []time.Time{t0, t0.Add(time.Minute), t0.Add(-10 * time.Minute), t0.Add(3 * time.Hour), t0.Add(time.Minute)} {
		e := &Event{Event: *ev("alice", "create", "pods", "shop", "10.0.0.1", "kubectl/v1", at)}
		e.ObjectRef.Subresource = "exec"
		if fs, _ := d.Event(e); len(fs) != 1 || fs[0].ControlID != "AUD-EXEC" {
			t.Errorf("event %d not judged: %v", i, fs)
		}
	}
	if d.Late != 2 || d.Future != 1 {
		t.Errorf("late %d, future %d; want 2 and 1", d.Late, d.Future)
	}
}
