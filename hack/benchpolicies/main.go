// Command benchpolicies measures the team's policies (make
// bench-policies): every template of the Gatekeeper policy library with
// the constraints of its suite, enabled in kubeguard's webhook handler
// served over loopback TLS with a static inventory of the corpus, at a
// fixed rate of AdmissionReviews of the corpus's objects; a scan of the
// corpus with and without them, and the time per object per constraint;
// and kubeguard test against gator verify on the library's suites, when
// gator is built (.cache/gator).
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubeguard/kubeguard/hack/internal/load"
	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/tlsutil"
	"github.com/kubeguard/kubeguard/pkg/userpolicy"
	"github.com/kubeguard/kubeguard/pkg/webhook"
)

func main() {
	rate := flag.Int("rate", 500, "requests per second")
	dur := flag.Duration("duration", 10*time.Second, "length of the fixed-rate run")
	corpus := flag.String("corpus", "../shared/corpus/k8s", "manifests to scan and send")
	library := flag.String("library", "../shared/corpus/k8s/gatekeeper-library/library", "Gatekeeper policy library with its suites")
	gator := flag.String("gator", ".cache/gator", "gator binary for the side-by-side suite run")
	flag.Parse()
	// as kubeguard webhook runs
	debug.SetGCPercent(400)

	ctls, nTemplates, policyFile := libraryControls(*library)
	defer os.Remove(policyFile)
	fmt.Printf("%d templates, %d constraints from %s\n", nTemplates, len(ctls), *library)

	objs := corpusObjects(*corpus)
	fmt.Printf("%d objects from %s\n\n", len(objs), *corpus)

	// scan with and without the policies
	base := scanTime(objs, nil)
	with := scanTime(objs, ctls)
	fmt.Printf("scan of the corpus: %.0f ms without, %.0f ms with the constraints: %.1f µs per object per constraint\n\n",
		ms(base), ms(with), float64((with-base).Microseconds())/float64(len(objs)*len(ctls)))

	webhookRun(objs, ctls, *rate, *dur)
	bin := filepath.Join(os.TempDir(), "kubeguard-benchpolicies")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kubeguard")
	build.Stderr = os.Stderr
	check(build.Run())
	defer os.Remove(bin)
	sameObjects(bin, *gator, objs, policyFile, len(ctls))
	suites(bin, *library, *gator)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// libraryControls loads every template of the library with the
// constraints its suite names, and writes them to one file (the last
// constraint of a name kept, as kubeguard keeps it) for gator.
func libraryControls(dir string) ([]*control.Control, int, string) {
	suites, _ := filepath.Glob(filepath.Join(dir, "*", "*", "suite.yaml"))
	var paths []string
	for _, s := range suites {
		gs, err := userpolicy.LoadGatorSuite(s)
		check(err)
		seen := map[string]bool{}
		for _, t := range gs.Tests {
			for _, p := range []string{t.Template, t.Constraint} {
				if p = filepath.Join(filepath.Dir(s), p); !seen[p] && !t.Invalid {
					seen[p] = true
					paths = append(paths, p)
				}
			}
		}
	}
	// suites reuse constraint names: the last of a name is kept
	set, diags := userpolicy.LoadFiles(paths)
	for _, d := range diags {
		if d.Severity == object.SeverityError {
			fail(fmt.Errorf("%s", d))
		}
	}
	var docs [][]byte
	at := map[string]int{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		check(err)
		key := ""
		for _, l := range bytes.Split(data, []byte("\n")) {
			if bytes.HasPrefix(l, []byte("kind:")) || bytes.HasPrefix(l, []byte("  name:")) {
				key += string(l)
			}
		}
		if i, ok := at[key]; ok {
			docs[i] = data
			continue
		}
		at[key] = len(docs)
		docs = append(docs, data)
	}
	f, err := os.CreateTemp("", "kubeguard-library-*.yaml")
	check(err)
	_, err = f.Write(bytes.Join(docs, []byte("\n---\n")))
	check(err)
	check(f.Close())
	return set.Controls(), len(suites), f.Name()
}

// sameObjects runs gator test and kubeguard scan on the same objects
// (the corpus's first 1,000 Pods and 1,000 objects of other kinds) with
// the same templates and constraints: violations found and time.
func sameObjects(bin, gator string, objs []*object.Object, policyFile string, nConstraints int) {
	var pods, others [][]byte
	for _, o := range objs {
		if o.Ref.Kind == "Namespace" || o.Ref.Group() == "test.gatekeeper.sh" {
			continue
		}
		raw, err := json.Marshal(o.Content)
		check(err)
		if o.Ref.Kind == "Pod" && len(pods) < 1000 {
			pods = append(pods, raw)
		} else if o.Ref.Kind != "Pod" && len(others) < 1000 {
			others = append(others, raw)
		}
	}
	f, err := os.CreateTemp("", "kubeguard-objects-*.yaml")
	check(err)
	defer os.Remove(f.Name())
	_, err = f.Write(bytes.Join(append(pods, others...), []byte("\n---\n")))
	check(err)
	check(f.Close())
	n := len(pods) + len(others)
	fmt.Printf("the same %d objects (%d Pods) with the %d constraints, best of three\n", n, len(pods), nConstraints)
	timed := func(name string, count func([]byte) int, args ...string) {
		best := time.Duration(1 << 62)
		var out []byte
		for range 3 {
			start := time.Now()
			cmd := exec.Command(args[0], args[1:]...)
			var err error
			out, err = cmd.Output()
			if _, exit := err.(*exec.ExitError); err != nil && !exit {
				fail(err)
			}
			best = min(best, time.Since(start))
		}
		fmt.Printf("%-40s %8.0f ms  %6.1f µs per object per constraint  %d violations\n", name, ms(best),
			float64(best.Microseconds())/float64(n*nConstraints), count(out))
	}
	timed("kubeguard scan", func(out []byte) int {
		var r struct {
			Findings []any `json:"findings"`
		}
		check(json.Unmarshal(out, &r))
		return len(r.Findings)
	}, bin, "scan", f.Name(), "--policies", policyFile, "--controls", "GK-*", "-o", "json", "--fail-on", "none")
	if _, err := os.Stat(gator); err != nil {
		fmt.Printf("gator test: not built (%s); make .cache/gator\n\n", gator)
		return
	}
	timed("gator test", func(out []byte) int {
		var r []any
		if len(bytes.TrimSpace(out)) > 0 {
			check(json.Unmarshal(out, &r))
		}
		return len(r)
	}, gator, "test", "-f", policyFile, "-f", f.Name(), "-o", "json")
	fmt.Println()
}

func corpusObjects(dir string) []*object.Object {
	inputs, _ := object.Expand([]string{dir}, nil)
	var objs []*object.Object
	for _, in := range inputs {
		in.Split(object.DefaultLimits, func(b object.Batch) {
			o, _ := object.DecodeBatch(b, object.DefaultLimits)
			for _, x := range o {
				// the library's own files are policies, not workloads
				if x.Ref.Group() != "templates.gatekeeper.sh" && x.Ref.Group() != "constraints.gatekeeper.sh" && x.Native == nil {
					objs = append(objs, x)
				}
			}
		})
	}
	return objs
}

func newEngine(ctls []*control.Control, workers int) *engine.Engine {
	cat, err := controls.Catalog(controls.Options{Extra: ctls})
	check(err)
	eng, err := engine.New(engine.Options{Catalog: cat, Workers: workers, Config: &config.Config{}})
	check(err)
	return eng
}

// scanTime is the best of three scans.
func scanTime(objs []*object.Object, ctls []*control.Control) time.Duration {
	eng := newEngine(ctls, 0)
	best := time.Duration(1 << 62)
	for range 3 {
		start := time.Now()
		eng.ScanObjects(slices.Clone(objs))
		best = min(best, time.Since(start))
	}
	return best
}

// static is an inventory that never changes, always synced.
type static struct{ inv *inventory.Inventory }

func (s static) Snapshot() (*inventory.Inventory, bool) { return s.inv, true }

func webhookRun(objs []*object.Object, ctls []*control.Control, rate int, d time.Duration) {
	inv := inventory.New()
	var bodies [][]byte
	for i, o := range objs {
		inv.Add(o, nil)
		if o.Ref.Namespace != "" {
			bodies = append(bodies, review(o, i))
		}
	}
	cfg := &config.Config{}
	run := func(name string, ctls []*control.Control) {
		h, err := webhook.New(webhook.Options{Engine: newEngine(ctls, 1), Config: &cfg.Webhook, Inventory: static{inv}})
		check(err)
		url, pool, stop := serve(h)
		defer stop()
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
			ForceAttemptHTTP2: false, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}, MaxIdleConnsPerHost: 128}}
		send := func(i int) error { return send(client, url, bodies[i%len(bodies)]) }
		load.Open(rate, time.Second, send) // warm up
		r := load.Open(rate, d, send)
		fmt.Printf("%-26s %9d %9.2f %9.2f %9.2f %7d\n", name, len(r.Lat), r.Quantile(.5), r.Quantile(.99), r.Quantile(.999), r.Errors)
		sat := load.Closed(8, d/2, send)
		fmt.Printf("%-26s %9d answered at saturation (8 in flight): %.0f req/s\n", "", len(sat.Lat), sat.Throughput())
	}
	fmt.Printf("webhook, %d req/s over loopback TLS, %d distinct requests\n", rate, len(bodies))
	fmt.Printf("%-26s %9s %9s %9s %9s %7s\n", "run", "requests", "p50 ms", "p99 ms", "p99.9 ms", "errors")
	run("built-in controls", nil)
	run(fmt.Sprintf("+ %d constraints", len(ctls)), ctls)
	fmt.Println()
}

func review(o *object.Object, i int) []byte {
	raw, err := json.Marshal(o.Content)
	check(err)
	gv, _ := o.Content["apiVersion"].(string)
	g, v := "", gv
	if j := bytes.IndexByte([]byte(gv), '/'); j >= 0 {
		g, v = gv[:j], gv[j+1:]
	}
	r := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: types.UID(fmt.Sprintf("bench-%d", i)), Kind: metav1.GroupVersionKind{Group: g, Version: v, Kind: o.Ref.Kind},
			Namespace: o.Ref.Namespace, Name: o.Ref.Name, Operation: admissionv1.Create, Object: kruntime.RawExtension{Raw: raw}}}
	b, err := json.Marshal(r)
	check(err)
	return b
}

func serve(h *webhook.Handler) (string, *x509.CertPool, func()) {
	ca, err := tlsutil.NewCA("bench", time.Hour)
	check(err)
	certPEM, keyPEM, err := ca.Issue(tlsutil.Leaf{CommonName: "kubeguard", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	check(err)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	check(err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		webhook.Serve(ctx, l, webhook.ServerOptions{Handler: h, TLS: tlsutil.ServerConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }), ShutdownGrace: time.Second})
		close(done)
	}()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	return "https://" + l.Addr().String(), pool, func() { cancel(); <-done }
}

func send(c *http.Client, url string, body []byte) error {
	resp, err := c.Post(url+"/validate?timeout=10s", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var ar admissionv1.AdmissionReview
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &ar) != nil || ar.Response == nil {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, data)
	}
	// an answer from the failure path is an error of the benchmark
	if r := ar.Response.Result; r != nil && r.Code == http.StatusInternalServerError {
		return fmt.Errorf("failure answer: %s", r.Message)
	}
	return nil
}

// suites times kubeguard test and gator verify on the library.
func suites(bin, dir, gator string) {
	suites, _ := filepath.Glob(filepath.Join(dir, "*", "*", "suite.yaml"))
	timeRun := func(name string, args ...string) {
		best := time.Duration(1 << 62)
		var out []byte
		for range 3 {
			start := time.Now()
			var err error
			out, err = exec.Command(args[0], args[1:]...).CombinedOutput()
			if err != nil {
				fmt.Printf("%s failed: %v\n%s\n", name, err, tail(out))
				return
			}
			best = min(best, time.Since(start))
		}
		fmt.Printf("%-40s %8.0f ms  %s\n", name, ms(best), tail(out))
	}
	fmt.Printf("the library's %d suites, best of three\n", len(suites))
	timeRun("kubeguard test", append([]string{bin, "test"}, suites...)...)
	timeRun("kubeguard test --engine rego", append([]string{bin, "test", "--engine", "rego"}, suites...)...)
	if _, err := os.Stat(gator); err != nil {
		fmt.Printf("gator verify: not built (%s); make .cache/gator\n", gator)
		return
	}
	timeRun("gator verify", gator, "verify", dir+"/...")
	timeRun("gator verify --enable-k8s-native-validation=false", gator, "verify", "--enable-k8s-native-validation=false", dir+"/...")
}

func tail(out []byte) string {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	return string(lines[len(lines)-1])
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchpolicies:", err)
	os.Exit(1)
}
