package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/internal/testcluster"
)

func TestMain(m *testing.M) { os.Exit(testcluster.Main(m)) }

const escalation = "../../pkg/rbac/testdata/escalation.yaml"

func TestRBACCommands(t *testing.T) {
	code, out, errOut := run(t, "", "rbac", "who-can", "create", "pods", "-n", "team", escalation, "-o", "json")
	if code != ExitOK {
		t.Fatalf("who-can: exit %d: %s", code, errOut)
	}
	var grants []struct {
		Subject struct{ Kind, Name string }
		Binding struct{ Name string }
		Source  struct {
			File string
			Line int
		}
	}
	if err := json.Unmarshal([]byte(out), &grants); err != nil || len(grants) != 3 {
		t.Fatalf("who-can JSON: %v\n%s", err, out)
	}
	if g := grants[2]; g.Subject.Name != "alice" || g.Binding.Name != "alice-pods" || g.Source.Line == 0 {
		t.Errorf("alice's grant: %+v", g)
	}

	code, out, _ = run(t, "", "rbac", "access", "user:alice", "-n", "team", escalation)
	row := ""
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 9 && f[0] == "team" && f[1] == "pods" {
			row = strings.Join(f[2:], " ")
		}
	}
	if code != ExitOK || row != "yes - - yes - - -" {
		t.Errorf("access: exit %d, pods row %q, want get and create\n%s", code, row, out)
	}

	for format, want := range map[string]string{"table": "1. sa:team/admin-sa (score 100)", "dot": "digraph rbac_risks", "mermaid": "flowchart LR"} {
		code, out, _ := run(t, "", "rbac", "risks", escalation, "-o", format)
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("risks -o %s: exit %d, want %q in\n%s", format, code, want, out)
		}
	}
	if code, out, _ := run(t, "", "rbac", "hygiene", escalation); code != ExitOK || !strings.Contains(out, "missing-role") {
		t.Errorf("hygiene: exit %d\n%s", code, out)
	}

	// Usage errors and unreadable input say so with exit 2.
	if code, _, errOut := run(t, "", "rbac", "access", "robot", escalation); code != ExitError || !strings.Contains(errOut, "sa:NAMESPACE/NAME") {
		t.Errorf("bad subject: exit %d, %q", code, errOut)
	}
	code, out, errOut = run(t, "", "rbac", "who-can", "get", "secrets", escalation, "../../pkg/report/testdata/broken.yaml")
	if code != ExitError || !strings.Contains(out, "SUBJECT") || !strings.Contains(errOut, "broken.yaml:") {
		t.Errorf("broken input: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// --cluster reads RBAC from a real API server: the bootstrap policy lets
// everyone read /healthz.
func TestE2ERBACCluster(t *testing.T) {
	c := testcluster.Shared(t)
	code, out, errOut := run(t, "", "rbac", "who-can", "get", "/healthz", "--cluster", "--kubeconfig", c.Kubeconfig)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"group:system:authenticated", "group:system:unauthenticated", "ClusterRole/system:public-info-viewer"} {
		if !strings.Contains(out, want) {
			t.Errorf("who-can get /healthz lacks %s:\n%s", want, out)
		}
	}
	if code, _, _ := run(t, "", "rbac", "risks", "--cluster", "--kubeconfig", c.Kubeconfig, "--include-system"); code != ExitOK {
		t.Errorf("risks --cluster: exit %d", code)
	}
}

// The analysis commands read objects whose suppression annotations name
// controls of the scan catalog (kubeguard's own manifests do); they must
// not reject them.
func TestAnalysisCommandsAcceptSuppressions(t *testing.T) {
	for _, args := range [][]string{
		{"rbac", "risks", "../../deploy/"},
		{"rbac", "hygiene", "../../deploy/"},
		{"rbac", "who-can", "get", "secrets", "../../deploy/"},
		{"netpol", "matrix", "../../deploy/"},
	} {
		if code, _, errOut := run(t, "", args...); code != ExitOK || errOut != "" {
			t.Errorf("%s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
	}
}

// Bindings to the API server's default roles grant what those roles hold.
func TestRBACDefaultRoles(t *testing.T) {
	const fixture = "../../pkg/controls/testdata/rbac-builtin.yaml"
	code, out, errOut := run(t, "", "rbac", "access", "sa:ci/ci", fixture)
	row := ""
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 9 && f[0] == "ci" && f[1] == "secrets" {
			row = strings.Join(f[2:], " ")
		}
	}
	if code != ExitOK || row != "yes yes yes yes yes yes yes" {
		t.Errorf("access sa:ci/ci: exit %d, secrets row %q\n%s%s", code, row, out, errOut)
	}
	code, out, _ = run(t, "", "rbac", "who-can", "create", "pods/exec", "-n", "ci", fixture)
	for _, want := range []string{"sa:ci/ci", "sa:ci/deployer", "group:support", "user:oncall@example.com"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("who-can create pods/exec: exit %d, want %s in\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "sa:ci/dash") {
		t.Errorf("view does not grant exec:\n%s", out)
	}
}

// Policies the API server rejects are input errors at their field, and
// none is evaluated with a guessed meaning.
func TestNetpolRejectsInvalidPolicies(t *testing.T) {
	const f = "testdata/netpol/invalid.yaml"
	code, _, errOut := run(t, "", "netpol", "matrix", f)
	for _, want := range []string{
		f + ":10:7: error: NetworkPolicy/shop/both: spec.ingress[0].from[0]: may not specify both ipBlock and another peer",
		f + ":20:20: error: NetworkPolicy/shop/ports: spec.ingress[0].ports[0].endPort: must be greater than or equal to `port` (9000)",
		f + ":21:20: error: NetworkPolicy/shop/ports: spec.ingress[0].ports[1].endPort: may not be specified when `port` is non-numeric",
		f + `:30:17: error: NetworkPolicy/shop/cidr: spec.egress[0].to[0].ipBlock.cidr: "10.0.0.300/8" is not a valid CIDR`,
		f + ":40:12: error: NetworkPolicy/shop/dup is defined again",
		f + `:52:5: error: AdminNetworkPolicy/drop: spec.ingress[0].action: Unsupported value: "Drop"`,
		f + ":54:5: error: AdminNetworkPolicy/drop: spec.ingress[1].action: Required value",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("want %q in\n%s", want, errOut)
		}
	}
	if code != ExitError {
		t.Errorf("exit %d", code)
	}
	// scan says the same
	if code, _, out := run(t, "", "scan", f); code != ExitError || !strings.Contains(out, "may not specify both ipBlock and another peer") {
		t.Errorf("scan: exit %d\n%s", code, out)
	}
}

// A kubectl get pods snapshot: kind-less items of a typed list, pods of a
// ReplicaSet that is not in the input (shown once, as the ReplicaSet),
// pods without a namespace (in default), rows for ipBlock exceptions and
// admin policy networks.
func TestNetpolSnapshot(t *testing.T) {
	const f = "testdata/netpol/snapshot.yaml"
	code, out, errOut := run(t, "", "netpol", "matrix", f, "-o", "csv")
	for _, want := range []string{
		"default/Pod/tool,shop/ReplicaSet/web-7d9f,none",
		"0.0.0.0/0 except 192.168.0.0/16,shop/ReplicaSet/web-7d9f,all",
		"192.168.0.0/16,shop/ReplicaSet/web-7d9f,none",
		"default/Pod/tool,169.254.169.254/32,none",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("want row %q in\n%s", want, out)
		}
	}
	if code != ExitOK || errOut != "" || strings.Count(out, "shop/Pod/") > 0 {
		t.Errorf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	code, out, _ = run(t, "", "netpol", "explain", "default/tool", "169.254.169.254:80", f)
	if code != ExitOK || !strings.Contains(out, "(metadata) denies all") {
		t.Errorf("explain: exit %d\n%s", code, out)
	}
}
