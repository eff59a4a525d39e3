package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/internal/testcluster"
)

func TestNode(t *testing.T) {
	code, out, errOut := run(t, "", "node", "--root", "../../examples/node/kubeadm", "--benchmark", "cis-1.12", "-o", "json")
	if code == ExitError {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep struct {
		Checklists []struct {
			Benchmark string
			Target    struct{ Kind, Name string }
			Sections  []struct {
				ID      string
				Results []struct{ ID, Status, Detail, Control string }
			}
		}
		Findings []struct {
			ControlID string
			Object    struct{ Kind, Name string }
			Position  struct {
				File string
				Line int
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Checklists) != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	c := rep.Checklists[0]
	got := map[string]string{}
	for _, s := range c.Sections {
		for _, r := range s.Results {
			got[r.ID] = r.Status
		}
	}
	if c.Benchmark != "cis-1.12" || c.Target.Kind != "Node" || c.Target.Name != "worker-1" || len(got) != 34 ||
		got["4.2.1"] != "pass" || got["4.2.14"] != "warn" || got["4.3.1"] != "not applicable" {
		t.Errorf("%s %v: %v", c.Benchmark, c.Target, got)
	}
	// a finding per failed or warning item, on the Node, where it is fixed
	findings := map[string]string{}
	for _, f := range rep.Findings {
		if f.Object.Kind != "Node" || f.Object.Name != "worker-1" {
			t.Errorf("%s on %v", f.ControlID, f.Object)
		}
		findings[f.ControlID] = fmt.Sprintf("%s:%d", f.Position.File, f.Position.Line)
	}
	want := map[string]string{"CIS-4.1.1": "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf:0", "CIS-4.1.5": "/etc/kubernetes/kubelet.conf:0",
		"CIS-4.1.9": "/var/lib/kubelet/config.yaml:0", "CIS-4.2.9": "/var/lib/kubelet/config.yaml:0", "CIS-4.2.12": "/var/lib/kubelet/config.yaml:0",
		"CIS-4.2.13": "/var/lib/kubelet/config.yaml:0", "CIS-4.2.14": "/var/lib/kubelet/config.yaml:0"}
	if fmt.Sprint(findings) != fmt.Sprint(want) {
		t.Errorf("findings %v\nwant %v", findings, want)
	}
	// the configuration suppresses as everywhere: the item says so, and
	// the finding no longer fails the run
	dir := t.TempDir()
	cfg := dir + "/kubeguard.yaml"
	os.WriteFile(cfg, []byte("exclude:\n- controls: [CIS-4.1.*]\n  reason: the image bakes these files in\n"), 0o644)
	code, out, _ = run(t, "", "node", "--root", "../../examples/node/kubeadm", "--benchmark", "cis-1.12", "--config", cfg, "--fail-on", "medium")
	if code != ExitOK || !strings.Contains(out, "(suppressed: the image bakes these files in)") {
		t.Errorf("suppressed: exit %d\n%s", code, out)
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

// On the machine running the test cluster, node reads the real
// kube-apiserver, controller manager and etcd processes the harness
// started, and its verdicts follow the flags they run with.
func TestE2ENodeControlPlane(t *testing.T) {
	testcluster.Shared(t)
	type result struct {
		status string
		read   []string
	}
	var got map[string]result
	var missing string
	// the flags of the very process each verdict read (another test
	// binary's cluster may stop meanwhile: then read again)
	var argsErr error
	argsOf := func(id string) map[string]string {
		r := got[id]
		var pid int
		if len(r.read) != 1 {
			argsErr = fmt.Errorf("%s read %v", id, r.read)
			return nil
		}
		if _, err := fmt.Sscanf(r.read[0], "process %d", &pid); err != nil {
			argsErr = fmt.Errorf("%s read %q, not a process", id, r.read[0])
			return nil
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			argsErr = err
			return nil
		}
		out := map[string]string{}
		for _, a := range strings.Split(strings.TrimRight(string(data), "\x00"), "\x00") {
			if name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok {
				out[name] = value
			}
		}
		return out
	}
	var api, cm, etcd map[string]string
	for attempt := 0; attempt < 3; attempt++ {
		code, out, errOut := run(t, "", "node", "--benchmark", "cis-1.12", "-o", "json")
		if code == ExitError {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var rep struct {
			Checklists []struct {
				Notes    []string
				Sections []struct {
					Results []struct {
						ID, Status, Detail string
						Read               []string
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Checklists) != 1 {
			t.Fatalf("%v: %s", err, out)
		}
		got, missing = map[string]result{}, strings.Join(rep.Checklists[0].Notes, "; ")
		for _, s := range rep.Checklists[0].Sections {
			for _, r := range s.Results {
				got[r.ID] = result{r.Status, r.Read}
			}
		}
		argsErr = nil
		api, cm, etcd = argsOf("1.2.2"), argsOf("1.3.3"), argsOf("2.1")
		if argsErr == nil {
			break
		}
	}
	if argsErr != nil {
		t.Fatal(argsErr)
	}
	if !strings.Contains(missing, "section 4 not checked") || got["4.2.1"].status != "" {
		t.Errorf("the test machine runs no kubelet, yet section 4 ran: %q", missing)
	}
	verdict := func(ok bool) string {
		if ok {
			return "pass"
		}
		return "fail"
	}
	_, token := api["token-auth-file"]
	_, audit := api["audit-log-path"]
	for id, want := range map[string]string{
		"1.2.2":  verdict(!token),
		"1.2.7":  verdict(strings.Contains(api["authorization-mode"], "Node")),
		"1.2.12": verdict(!strings.Contains(api["disable-admission-plugins"], "ServiceAccount")),
		"1.2.15": verdict(api["profiling"] == "false"),
		"1.2.16": verdict(audit),
		"1.2.25": verdict(api["client-ca-file"] != ""),
		"1.3.3":  verdict(cm["use-service-account-credentials"] != "false"),
		"1.3.5":  verdict(cm["root-ca-file"] != ""),
		"2.1":    verdict(etcd["cert-file"] != "" && etcd["key-file"] != ""),
	} {
		if got[id].status != want {
			t.Errorf("%s: %s, want %s (from the process's flags)", id, got[id].status, want)
		}
	}
	// the harness's choices, as a reader of its code knows them
	if got["1.2.2"].status != "fail" || got["1.2.12"].status != "fail" || got["1.3.3"].status != "fail" || got["2.1"].status != "fail" {
		t.Errorf("token file, ServiceAccount admission off, shared controller credentials and plain-HTTP etcd: %v %v %v %v",
			got["1.2.2"], got["1.2.12"], got["1.3.3"], got["2.1"])
	}
}
