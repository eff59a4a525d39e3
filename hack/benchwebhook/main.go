// Command benchwebhook load-tests kubeguard webhook (make bench-webhook). It
// builds the binary, serves it over loopback TLS without a cluster, and
// sends AdmissionReviews of the pods of the shared corpus: first at a fixed
// rate (open loop, latency measured from the scheduled send time so a slow
// server cannot hide its queueing), then as fast as it answers to find the
// saturation throughput. It prints p50/p99/p99.9 latency, throughput,
// errors and the server's peak RSS, and compares the in-process cost per
// review with k8s.io/pod-security-admission evaluating the same pods.
package main

import (
	"bytes"
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
	"runtime"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/kubeguard/kubeguard/hack/internal/load"
	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/engine"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/tlsutil"
	"github.com/kubeguard/kubeguard/pkg/webhook"
)

func main() {
	rate := flag.Int("rate", 1000, "requests per second for the fixed-rate run")
	dur := flag.Duration("duration", 10*time.Second, "length of each run")
	corpus := flag.String("corpus", "../shared/corpus/k8s", "manifests whose pods are sent")
	burn := flag.Bool("burn", false, "burn every core until killed (the competing load of the contended run)")
	flag.Parse()
	if *burn {
		for range runtime.NumCPU() - 1 {
			go func() {
				for {
				}
			}()
		}
		for {
		}
	}

	pods := corpusPods(*corpus, 2000)
	if len(pods) == 0 {
		fail(fmt.Errorf("no pods found in %s", *corpus))
	}
	bodies := make([][]byte, len(pods))
	for i, p := range pods {
		bodies[i] = reviewBody(p, i)
	}
	fmt.Printf("%d pods from %s\n", len(pods), *corpus)

	tmp, err := os.MkdirTemp("", "kubeguard-benchwebhook")
	check(err)
	defer os.RemoveAll(tmp)
	url, pid, stop := startServer(tmp)
	defer stop()
	client := newClient(tmp)

	// Warm up connections and caches.
	runClosed(client, url, bodies, 8, time.Second)

	fmt.Printf("\n%-22s %9s %9s %9s %9s %10s %7s\n", "run", "requests", "p50 ms", "p99 ms", "p99.9 ms", "req/s", "errors")
	r := runOpen(client, url, bodies, *rate, *dur)
	r.print(fmt.Sprintf("fixed %d req/s", *rate))
	// The same fixed rate while another process keeps every core busy:
	// answers must still come (or be shed) within the deadline.
	burner := exec.Command(os.Args[0], "-burn")
	check(burner.Start())
	r = runOpen(client, url, bodies, *rate, *dur)
	burner.Process.Kill()
	burner.Wait()
	r.print(fmt.Sprintf("fixed %d, CPU contended", *rate))
	for _, workers := range []int{4, 16, 64} {
		r := runClosed(client, url, bodies, workers, *dur/2)
		r.print(fmt.Sprintf("saturation, %d workers", workers))
	}
	fmt.Printf("server peak RSS: %d MiB\n", peakRSS(pid)/1024)

	inProcess(pods, bodies)
}

// corpusPods turns every workload of the corpus into the Pod its template
// would create.
func corpusPods(dir string, limit int) []map[string]any {
	inputs, _ := object.Expand([]string{dir}, nil)
	var pods []map[string]any
	for _, in := range inputs {
		in.Split(object.Limits{}, func(b object.Batch) {
			objs, _ := object.DecodeBatch(b, object.Limits{})
			for _, o := range objs {
				w, err := inventory.ExtractWorkload(o)
				if err != nil || w == nil || len(pods) >= limit {
					continue
				}
				spec, _ := object.Get(o.Content, w.SpecPath)
				md := map[string]any{"name": fmt.Sprintf("%s-%d", strings.ToLower(o.Name), len(pods)), "namespace": "bench"}
				if l := w.Meta.Labels; len(l) > 0 {
					md["labels"] = l
				}
				if a := w.Meta.Annotations; len(a) > 0 {
					md["annotations"] = a
				}
				pods = append(pods, map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec})
			}
		})
	}
	return pods
}

func reviewBody(pod map[string]any, i int) []byte {
	raw, err := json.Marshal(pod)
	check(err)
	md := pod["metadata"].(map[string]any)
	r := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: types.UID(fmt.Sprintf("bench-%d", i)),
			Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: "bench", Name: md["name"].(string), Operation: admissionv1.Create, Object: kruntime.RawExtension{Raw: raw}}}
	b, err := json.Marshal(r)
	check(err)
	return b
}

func startServer(tmp string) (url string, pid int, stop func()) {
	bin := filepath.Join(tmp, "kubeguard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kubeguard")
	build.Stderr = os.Stderr
	check(build.Run())
	ca, err := tlsutil.NewCA("bench", time.Hour)
	check(err)
	certPEM, keyPEM, err := ca.Issue(tlsutil.Leaf{CommonName: "kubeguard", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	check(err)
	check(os.WriteFile(filepath.Join(tmp, "ca.crt"), ca.CertPEM, 0o600))
	check(os.WriteFile(filepath.Join(tmp, "tls.crt"), certPEM, 0o600))
	check(os.WriteFile(filepath.Join(tmp, "tls.key"), keyPEM, 0o600))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "webhook", "--no-cluster", "--listen", addr, "--log-level", "error",
		"--tls-cert-file", filepath.Join(tmp, "tls.crt"), "--tls-key-file", filepath.Join(tmp, "tls.key"))
	cmd.Stderr = os.Stderr
	check(cmd.Start())
	url = "https://" + addr
	client := newClient(tmp)
	for i := 0; ; i++ {
		resp, err := client.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			fail(fmt.Errorf("webhook did not start: %v", err))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return url, cmd.Process.Pid, func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
}

func newClient(tmp string) *http.Client {
	pem, err := os.ReadFile(filepath.Join(tmp, "ca.crt"))
	pool := x509.NewCertPool()
	if err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	// HTTP/1.1 with a connection per concurrent request, as the API server
	// calls admission webhooks.
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: false, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}, MaxIdleConnsPerHost: 128}}
}

type result struct{ load.Result }

func (r result) print(name string) {
	fmt.Printf("%-22s %9d %9.2f %9.2f %9.2f %10.0f %7d\n", name, len(r.Lat), r.Quantile(.5), r.Quantile(.99), r.Quantile(.999),
		r.Throughput(), r.Errors)
}

func runOpen(c *http.Client, url string, bodies [][]byte, rate int, d time.Duration) result {
	return result{load.Open(rate, d, func(i int) error { return send(c, url, bodies[i%len(bodies)]) })}
}

func runClosed(c *http.Client, url string, bodies [][]byte, workers int, d time.Duration) result {
	return result{load.Closed(workers, d, func(i int) error { return send(c, url, bodies[i%len(bodies)]) })}
}

// send posts one review and checks that an answer came back for it.
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
	if resp.StatusCode != http.StatusOK || !bytes.Contains(data, []byte(`"uid":"bench-`)) {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, data)
	}
	return nil
}

func peakRSS(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			var kb int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:")), "%d", &kb)
			return kb
		}
	}
	return 0
}

// inProcess compares, on one core and without the network, what kubeguard
// does per review (decode, 100+ controls, verdict) with what Pod Security
// Admission does (decode, the PSS checks at restricted).
func inProcess(pods []map[string]any, bodies [][]byte) {
	runtime.GOMAXPROCS(1)
	cat, err := controls.Catalog(controls.Options{})
	check(err)
	eng, err := engine.New(engine.Options{Catalog: cat, Workers: 1})
	check(err)
	h, err := webhook.New(webhook.Options{Engine: eng})
	check(err)
	validate := h.Validate()
	kg := timePerOp(len(bodies), func(i int) {
		r, _ := http.NewRequest("POST", "/validate", bytes.NewReader(bodies[i]))
		validate.ServeHTTP(discard{}, r)
	})
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	check(err)
	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	psa := timePerOp(len(bodies), func(i int) {
		var review admissionv1.AdmissionReview
		check(json.Unmarshal(bodies[i], &review))
		var pod corev1.Pod
		check(json.Unmarshal(review.Request.Object.Raw, &pod))
		eval.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec)
	})
	fmt.Printf("\nin process, 1 core, per review: kubeguard %d controls %.1f µs, pod-security-admission alone %.1f µs, ratio %.1fx\n",
		len(cat.All()), kg, psa, kg/psa)
}

func timePerOp(n int, f func(int)) float64 {
	for i := range n { // warm up
		f(i)
	}
	const rounds = 5
	start := time.Now()
	for range rounds {
		for i := range n {
			f(i)
		}
	}
	return float64(time.Since(start).Microseconds()) / float64(rounds*n)
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchwebhook:", err)
	os.Exit(1)
}
