package secrets

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// Source lines quoted by reports: credentials go, everything else stays.
func TestRedactLines(t *testing.T) {
	text := strings.Join([]string{
		"env:",
		"- name: DB_PASSWORD",
		"  value: s3cr3t-Pa55w0rd",
		"- name: LOG_LEVEL",
		"  value: debug",
		"  DB_URL: postgres://app:opensesame@db:5432/app",
		"ENV API_TOKEN=R8sT2kLm9QxV4nZb7WcY LANG=C.UTF-8",
		"image: registry.example.com/shop:1.4.2",
		"password: changeme",
	}, "\n")
	got := RedactLines(text)
	for _, secret := range []string{"s3cr3t-Pa55w0rd", "opensesame", "R8sT2kLm9QxV4nZb7WcY"} {
		if strings.Contains(strings.Join(got, "\n"), secret) {
			t.Errorf("%s is quoted:\n%s", secret, strings.Join(got, "\n"))
		}
	}
	for i, keep := range map[int]string{4: "  value: debug", 7: "image: registry.example.com/shop:1.4.2", 8: "password: changeme", 1: "- name: DB_PASSWORD"} {
		if got[i] != keep {
			t.Errorf("line %d: %q, want it unchanged", i+1, got[i])
		}
	}
	if !strings.Contains(got[6], "LANG=C.UTF-8") || !strings.Contains(got[2], "<redacted") {
		t.Errorf("redacted lines: %q, %q", got[6], got[2])
	}
}

// A private key spans lines: every line of its body is redacted, not
// only the line it starts on.
func TestRedactLinesPrivateKey(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	block := strings.Split(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))), "\n")
	text := "data:\n  tls.key: |\n    " + strings.Join(block, "\n    ") + "\n  name: web\n"
	got := RedactLines(text)
	for i, l := range block[1 : len(block)-1] {
		if strings.Contains(got[3+i], l) || !strings.Contains(got[3+i], "<redacted") {
			t.Errorf("line %d of the key: %q", i+2, got[3+i])
		}
	}
	if got[len(got)-2] != "  name: web" || got[1] != "  tls.key: |" {
		t.Errorf("lines around the key changed: %q", got)
	}
}
