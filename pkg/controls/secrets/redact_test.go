package secrets

import (
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
