package auditpolicy

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func statuses(t *testing.T, policy string) map[string]string {
	t.Helper()
	res, err := CheckPolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range res {
		out[r.Request+" ["+r.Want+"]"] = r.Status
	}
	return out
}

func TestCheckPolicy(t *testing.T) {
	// the generated policy serves every rule and exposes nothing; ConfigMap
	// bodies are the one partial
	for req, st := range statuses(t, GeneratePolicy(false)) {
		want := "ok"
		if req == "create configmaps in shop by alice [Request]" {
			want = "partial"
		}
		if st != want {
			t.Errorf("generated policy: %s: %s, want %s", req, st, want)
		}
	}
	for req, st := range statuses(t, GeneratePolicy(true)) {
		want := "ok"
		if req == "create configmaps in shop by alice [Metadata at most]" {
			want = "partial"
		}
		if st != want {
			t.Errorf("with ConfigMap bodies: %s: %s, want %s", req, st, want)
		}
	}
	// everything at Metadata: rules that read objects are blind
	meta := statuses(t, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n")
	if meta["create pods in shop by alice [Request]"] != "blind" || meta["create pods/exec in shop by alice [Metadata]"] != "ok" {
		t.Errorf("Metadata policy: %v", meta)
	}
	// everything at RequestResponse: Secrets land in the log
	rr := statuses(t, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n")
	if rr["get secrets in shop by alice [Metadata at most]"] != "exposes" || rr["create pods in shop by alice [Request]"] != "ok" {
		t.Errorf("RequestResponse policy: %v", rr)
	}
	// the complete stage omitted: blind however high the level
	om := statuses(t, "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [ResponseComplete]\nrules:\n- level: Request\n")
	if om["create pods/exec in shop by alice [Metadata]"] != "blind" {
		t.Errorf("omitted stage: %v", om)
	}
	// anonymous and system users: a rule that drops them blinds AUD-ANONYMOUS
	anon := statuses(t, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  userGroups: [system:unauthenticated]\n- level: Request\n")
	if anon["get configmaps in kube-system by system:anonymous [Metadata]"] != "blind" {
		t.Errorf("anonymous dropped: %v", anon)
	}
	if _, err := CheckPolicy([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n")); err == nil || !strings.Contains(err.Error(), "Loud") {
		t.Errorf("invalid level: %v", err)
	}
	// the generated policy is YAML the API server reads (it parses here
	// with the same loader; the end-to-end test runs a server with it)
	var p map[string]any
	if err := yaml.Unmarshal([]byte(GeneratePolicy(true)), &p); err != nil || p["kind"] != "Policy" {
		t.Errorf("generated policy: %v", err)
	}
}
