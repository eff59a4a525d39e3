package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNode(t *testing.T) {
	code, out, errOut := run(t, "", "node", "--root", "../../examples/node/kubeadm", "--benchmark", "cis-1.12", "-o", "json")
	if code == ExitError {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Benchmark string
		Sections  []struct {
			ID      string
			Results []struct{ ID, Status, Detail string }
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range rep.Sections {
		for _, r := range s.Results {
			got[r.ID] = r.Status
		}
	}
	if rep.Benchmark != "cis-1.12" || len(got) != 25 || got["4.2.1"] != "pass" || got["4.2.14"] != "warn" || got["4.3.1"] != "not applicable" {
		t.Errorf("%s: %v", rep.Benchmark, got)
	}
	// no version to detect, an unknown benchmark, no kubelet: exit 2
	for _, args := range [][]string{
		{"node", "--root", "../../examples/node/kubeadm"},
		{"node", "--root", "../../examples/node/kubeadm", "--benchmark", "cis-1.5"},
		{"node", "--root", "../../examples/insecure", "--benchmark", "cis-1.12"},
	} {
		if code, _, errOut := run(t, "", args...); code != ExitError || !strings.Contains(errOut, "kubeguard:") {
			t.Errorf("%v: exit %d %s", args, code, errOut)
		}
	}
}
