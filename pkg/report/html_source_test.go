package report

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// Quoted lines are redacted a YAML document at a time: a private key
// whose body is quoted away from its BEGIN line is still redacted, in the
// document after another, and the documents around it keep their text.
func TestExcerptRedactsWholeDocuments(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	block := strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	body := strings.Split(block, "\n")
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: before\ndata:\n  greeting: hello\n---\n")
	keyDoc := strings.Count(b.String(), "\n") // the --- line, 1-based
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keys\ndata:\n  tls.key: |\n")
	first := strings.Count(b.String(), "\n") + 1 // the BEGIN line
	for _, l := range body {
		b.WriteString("    " + l + "\n")
	}
	b.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after\n")
	path := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	src := sources{}
	middle := first + len(body)/2
	quoted := ""
	for _, l := range src.excerpt(object.Position{File: path, Line: middle}) {
		quoted += l.Text + "\n"
	}
	for _, l := range body[1 : len(body)-1] {
		if len(l) > 20 && strings.Contains(quoted, l) {
			t.Fatalf("line %d quotes the key's body:\n%s", middle, quoted)
		}
	}
	if quoted == "" {
		t.Fatal("nothing quoted")
	}
	f := src[path]
	if len(f.docs) != 3 || f.docs[1] != keyDoc-1 || !f.redacted[1] || f.redacted[0] || f.redacted[2] {
		t.Errorf("documents %v, redacted %v", f.docs, f.redacted)
	}
	if got := src.excerpt(object.Position{File: path, Line: 2}); len(got) != 4 || got[1].Text != "kind: ConfigMap" || !got[1].Hit {
		t.Errorf("the first document quoted as %+v", got)
	}
}
