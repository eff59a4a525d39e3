package imageverify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/kubeguard/kubeguard/internal/sigtest"
	"github.com/kubeguard/kubeguard/pkg/config"
)

// tufRepo writes a TUF repository serving target as trusted_root.json
// into dir and returns its root.json.
func tufRepo(t *testing.T, dir string, target []byte) []byte {
	t.Helper()
	expires := time.Now().Add(24 * time.Hour)
	root, targets, snapshot, timestamp := metadata.Root(expires), metadata.Targets(expires), metadata.Snapshot(expires), metadata.Timestamp(expires)
	root.Signed.ConsistentSnapshot = false
	tf, err := metadata.TargetFile().FromBytes("trusted_root.json", target, "sha256")
	if err != nil {
		t.Fatal(err)
	}
	targets.Signed.Targets["trusted_root.json"] = tf
	signers := map[string]signature.Signer{}
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		key, err := metadata.KeyFromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if err := root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
		if signers[role], err = signature.LoadSigner(priv, crypto.Hash(0)); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(s func(signature.Signer) (*metadata.Signature, error), role string) {
		if _, err := s(signers[role]); err != nil {
			t.Fatal(err)
		}
	}
	sign(root.Sign, "root")
	sign(targets.Sign, "targets")
	sign(snapshot.Sign, "snapshot")
	sign(timestamp.Sign, "timestamp")
	os.MkdirAll(filepath.Join(dir, "targets"), 0o755)
	for name, write := range map[string]func(string, bool) error{
		"1.root.json": root.ToFile, "targets.json": targets.ToFile, "snapshot.json": snapshot.ToFile, "timestamp.json": timestamp.ToFile} {
		if err := write(filepath.Join(dir, name), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "targets", "trusted_root.json"), target, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The trusted root is pinned; a TUF repository, when configured, replaces
// it in the background once it answers: images signed by a Sigstore the
// pinned root does not know verify after the refresh, and an unreachable
// repository leaves the pinned root in force.
func TestTrustedRootFromTUF(t *testing.T) {
	f := newFixture(t) // f.rootFile trusts f.ss
	rotated := sigtest.New(t)
	newRoot, err := os.ReadFile(rotated.WriteTrustedRoot(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	rootJSON := tufRepo(t, repo, newRoot)
	var up atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		http.FileServer(http.Dir(repo)).ServeHTTP(w, r)
	}))
	defer srv.Close()
	cfgDir := t.TempDir()
	os.WriteFile(filepath.Join(cfgDir, "tuf-root.json"), rootJSON, 0o644)

	d := f.push(t, "acme/shop", "1.0")
	sigtest.PushTag(t, d, ".sig", rotated.KeylessSignature(t, d, ciIdentity, ciIssuer, time.Time{}))
	src := &Source{Base: config.ImageVerify{TrustedRoot: f.rootFile, TUF: &config.TUFMirror{URL: srv.URL, Root: "tuf-root.json", Cache: filepath.Join(t.TempDir(), "cache")},
		Policies: []config.ImagePolicy{{Name: "acme", Images: []string{"**"}, Authorities: []config.Authority{keyless(ciIdentity)}}}}, Dir: cfgDir}
	ps, err := Compile(src.Base, src.Dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(ps, Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Watch(ctx, nil, v, src, 20*time.Millisecond, log)

	// the repository is down: the pinned root stays, and says why
	if _, err := FetchTUF(src.Base.TUF, src.Dir); err == nil {
		t.Fatal("an unreachable TUF repository gave a root")
	}
	res, err := v.Verify(ctx, d.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdicts[0].OK() {
		t.Fatal("a signature by a Sigstore the pinned root does not know verified")
	}
	gen := v.Policies().Generation

	up.Store(true)
	go RefreshTUF(ctx, src, time.Hour, log)
	deadline := time.Now().Add(10 * time.Second)
	for v.Policies().Generation == gen || !strings.Contains(logs.String(), "trusted root refreshed from TUF") {
		if time.Now().After(deadline) {
			t.Fatalf("the TUF root never replaced the pinned one:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, err = v.Verify(ctx, d.String())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verdicts[0].OK() {
		t.Fatalf("after the refresh: %+v\n%s", res.Verdicts[0], logs.String())
	}
}

// syncBuffer is a log sink the test reads while the goroutines write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
