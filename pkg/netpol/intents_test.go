package netpol_test

import (
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubeguard/kubeguard/pkg/netpol"
)

func intents(t *testing.T) []netpol.Intent {
	f, err := os.Open("../../examples/netpol/shop.intents")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in, err := netpol.ParseIntents("shop.intents", f)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestCheckNamesTheFailingIntentAndWhy(t *testing.T) {
	data, _ := os.ReadFile("../../examples/netpol/shop.yaml")
	inv := loadString(t, "shop.yaml", string(data))
	m := netpol.Of(inv)
	eps := append(netpol.Workloads(inv), netpol.Internet)
	results, err := m.Check(intents(t), eps)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, r := range results {
		if !r.OK {
			failed = append(failed, r.Intent.Text+": "+r.Why())
		}
	}
	want := "frontend -> payments:8443 allow: shop/default-deny-ingress selects shop/Deployment/payments for ingress; none of its rules matches shop/Deployment/frontend"
	if len(failed) != 1 || failed[0] != want {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(failed, "\n"), want)
	}
	if len(results) != 7 {
		t.Errorf("%d connections checked, want 7", len(results))
	}
}

// Generated policies, analysed again, realise exactly the intents: the
// allowed flows on their ports, DNS for everyone, nothing else.
func TestGeneratedPoliciesRealiseExactlyTheIntents(t *testing.T) {
	data, _ := os.ReadFile("../../examples/netpol/shop.yaml")
	var workloadsOnly []string
	for _, doc := range strings.Split(string(data), "\n---\n") {
		if !strings.Contains(doc, "kind: NetworkPolicy") {
			workloadsOnly = append(workloadsOnly, doc)
		}
	}
	bare := loadString(t, "shop.yaml", strings.Join(workloadsOnly, "\n---\n"))
	in := intents(t)
	pols, err := netpol.Generate(in, netpol.Workloads(bare))
	if err != nil {
		t.Fatal(err)
	}
	docs := workloadsOnly
	for _, p := range pols {
		y, err := yaml.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(y))
	}
	inv := loadString(t, "generated.yaml", strings.Join(docs, "\n---\n"))
	m := netpol.Of(inv)
	eps := netpol.Workloads(inv)
	results, err := m.Check(in, append(eps, netpol.Internet))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.OK {
			t.Errorf("generated policies break %q for %s -> %s: %s", r.Intent.Text, r.Src.Name, r.Dst.Name, r.Why())
		}
	}
	want := map[[2]string]string{
		{"frontend", "backend"}:  "TCP/8080",
		{"backend", "db"}:        "TCP/5432",
		{"frontend", "payments"}: "TCP/8443",
		{"payments", "internet"}: "TCP/443",
	}
	name := func(e *netpol.Endpoint) string { p := strings.Split(e.Name, "/"); return p[len(p)-1] }
	all := append(eps, netpol.Internet, netpol.DNS)
	for _, s := range eps {
		for _, d := range all {
			if s == d {
				continue
			}
			got := m.Connect(s, d, false).Ports
			exp := want[[2]string{name(s), name(d)}]
			switch {
			case d == netpol.DNS:
				if !got.Contains(corev1.ProtocolUDP, 53) || !got.Contains(corev1.ProtocolTCP, 53) || got.Contains(corev1.ProtocolTCP, 80) {
					t.Errorf("%s -> dns: %s, want UDP and TCP 53 only", s.Name, got)
				}
			case exp == "":
				if !got.Empty() {
					t.Errorf("%s -> %s: %s, want none", s.Name, d.Name, got)
				}
			case got.String() != exp:
				t.Errorf("%s -> %s: %s, want %s", s.Name, d.Name, got, exp)
			}
		}
	}
	if len(pols) < 6 {
		t.Errorf("only %d policies generated", len(pols))
	}
}

func TestParseIntentsErrors(t *testing.T) {
	for _, bad := range []string{"a b allow", "a -> b maybe", "a -> b:99999 allow", "a -> b:ICMP/1 allow", "a -> b deny except"} {
		_, err := netpol.ParseIntents("f", strings.NewReader("# ok\n\n"+bad))
		if err == nil || !strings.HasPrefix(err.Error(), "f:3: ") {
			t.Errorf("%q: %v, want an error at f:3", bad, err)
		}
	}
}
