package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kubeguard/kubeguard/pkg/tlsutil"
)

// serve posts the log to audit serve as the API server's webhook backend
// does: EventLists of 400 events (--audit-webhook-batch-max-size), from
// several senders at once, over TLS with a client certificate; a refused
// batch is sent again after a pause, as the API server retries.
func serve(kg, dir, log string) {
	ca, err := tlsutil.NewCA("bench-ca", time.Hour)
	check(err)
	srvCert, srvKey, err := ca.Issue(tlsutil.Leaf{CommonName: "kubeguard-audit", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	check(err)
	cliCert, cliKey, err := ca.Issue(tlsutil.Leaf{CommonName: "kube-apiserver"})
	check(err)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		check(os.WriteFile(p, data, 0o600))
		return p
	}
	addr, metrics := freeAddr(), freeAddr()
	cmd := exec.Command(kg, "audit", "serve", "--listen", addr, "--metrics-listen", metrics, "--tls-cert-file", write("tls.crt", srvCert),
		"--tls-key-file", write("tls.key", srvKey), "--client-ca-file", write("ca.crt", ca.CertPEM), "--baseline", filepath.Join(dir, "serve-baseline.json.gz"))
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	check(err)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = devnull, &stderr
	check(cmd.Start())

	// the batches, prepared before the clock starts
	f, err := os.Open(log)
	check(err)
	var batches [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			batches = append(batches, []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[`+strings.Join(cur, ",")+`]}`))
			cur = nil
		}
	}
	events := 0
	for sc.Scan() {
		cur = append(cur, sc.Text())
		events++
		if len(cur) == 400 {
			flush()
		}
	}
	flush()
	f.Close()

	cert, err := tls.X509KeyPair(cliCert, cliKey)
	check(err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 8,
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	url := "https://" + addr + "/"
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := client.Get("http://" + metrics + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			check(fmt.Errorf("audit serve did not start:\n%s", stderr.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	var next, refused atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 { // the API server sends batches concurrently
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batches) {
					return
				}
				for {
					resp, err := client.Post(url, "application/json", bytes.NewReader(batches[i]))
					check(err)
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
					refused.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	resp, err := client.Get("http://" + metrics + "/metrics")
	check(err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	judged := regexp.MustCompile(`(?m)^kubeguard_audit_events_total (\S+)`).FindSubmatch(body)
	check(cmd.Process.Signal(syscall.SIGTERM))
	check(cmd.Wait())
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("| serve (batches of 400, 4 senders, TLS) | %s | %s | %.0f | %d MiB |\n\n", wall.Round(time.Millisecond), cpu.Round(time.Millisecond),
		float64(events)/wall.Seconds(), ru.Maxrss>>10)
	fmt.Printf("audit serve judged %s of %d events; %d batches refused (429, sent again), none dropped\n", judged[1], events, refused.Load())
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().String()
}
