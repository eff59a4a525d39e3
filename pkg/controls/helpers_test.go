package controls_test

import (
	"bytes"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubeguard/kubeguard/pkg/controls"
	"github.com/kubeguard/kubeguard/pkg/controls/image"
	"github.com/kubeguard/kubeguard/pkg/controls/secrets"
	"github.com/kubeguard/kubeguard/pkg/controls/workload"
	"github.com/kubeguard/kubeguard/pkg/rbac"
	"github.com/kubeguard/kubeguard/pkg/report"
)

func TestImageRepository(t *testing.T) {
	for _, c := range []struct{ image, reg, repo string }{
		{"nginx", "docker.io", "library/nginx"},
		{"bitnami/redis:7", "docker.io", "bitnami/redis"},
		{"registry.example.com:5000/app/api:1.2@sha256:ab", "registry.example.com:5000", "app/api"},
		{"localhost/app", "localhost", "app"},
		{"ghcr.io/acme/tool:v1", "ghcr.io", "acme/tool"},
	} {
		if reg, repo := image.Repository(c.image); reg != c.reg || repo != c.repo {
			t.Errorf("%s: got %s %s", c.image, reg, repo)
		}
	}
	allowed := []string{"registry.example.com", "*.gcr.io", "ghcr.io/acme/*"}
	for img, want := range map[string]bool{
		"registry.example.com/app:1": true, "eu.gcr.io/p/app": true, "ghcr.io/acme/tool:v1": true,
		"ghcr.io/evil/tool:v1": false, "nginx": false, "registry.example.com.evil.io/app": false,
	} {
		if got := image.Trusted(img, allowed); got != want {
			t.Errorf("Trusted(%s) = %v", img, got)
		}
	}
}

func TestScanPairs(t *testing.T) {
	for _, c := range []struct {
		name, value string
		found       bool
	}{
		{"DB_PASSWORD", "hunter2hunter2", true},
		{"AWS_ACCESS_KEY_ID", "AKIAZ7QX4PL2M6RT5VWN", true},
		{"AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", false}, // AWS's documented example key
		{"KEY", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmwIDAQABAoIBAQCc\n-----END RSA PRIVATE KEY-----", true},
		{"URL", "postgres://app:opensesame@db/app", true},
		{"TOKEN", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", true},
		{"DB_PASSWORD", "${DB_PASSWORD}", false},
		{"DB_PASSWORD_FILE", "/run/secrets/db", false},
		{"API_TOKEN", "{{ .Values.token }}", false},
		{"SECRET_NAME", "db-credentials", false},
		{"ENABLE_AUTH", "true", false},
		{"PASSWORD", "xxxxxxxx", false},
		{"LOG_LEVEL", "debug", false},
		{"URL", "https://example.com/path", false},
	} {
		if got := len(secrets.ScanPairs([]secrets.Pair{{Name: c.name, Value: c.value}}, true)) > 0; got != c.found {
			t.Errorf("ScanPairs(%s=%q) found %v", c.name, c.value, got)
		}
	}
}

// Reports quote no secret value, in any format.
func TestSecretsRedacted(t *testing.T) {
	res := scanFile(t, "testdata/secrets.yaml")
	res.Findings = append(res.Findings, scanFile(t, "testdata/insecure.Dockerfile").Findings...)
	cat, _ := controls.Catalog(fixtureOptions)
	for _, format := range report.Formats {
		var b bytes.Buffer
		if err := report.Write(&b, format, &report.Report{Tool: "kubeguard", Catalog: cat, Findings: res.Findings}); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"hunter2", "s3cr3t-Pa55w0rd", "AKIAZ7QX4PL2M6RT5VWN", "opensesame", "ghp_R8sT2kLm9QxV4nZb7WcY1pHa3JdE6uFg0iKo", "glpat-Xk2mR9vTq4LzN8wB3yHc", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"} {
			if strings.Contains(b.String(), v) {
				t.Errorf("%s report quotes a secret value", format)
			}
		}
	}
}

func TestSensitiveHostPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/etc": true, "/etc/kubernetes/pki": true, "/var/run/docker.sock": true, "/run/containerd/containerd.sock": true,
		"/var/lib/kubelet/pods": true, "/var/run": true, "/proc/": true,
		"/var/log": false, "/data": false, "/etcd-data": false, "/var/run/app": false,
	} {
		if got := workload.SensitiveHostPath(p); got != want {
			t.Errorf("SensitiveHostPath(%s) = %v", p, got)
		}
	}
}

func TestRBACAllows(t *testing.T) {
	rule := func(verbs, groups, resources []string, names ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources, ResourceNames: names}
	}
	s := func(v ...string) []string { return v }
	for _, c := range []struct {
		rule                  rbacv1.PolicyRule
		verb, group, resource string
		want                  bool
	}{
		{rule(s("get"), s(""), s("secrets")), "get", "", "secrets", true},
		{rule(s("get"), s(""), s("secrets"), "one"), "get", "", "secrets", false},
		{rule(s("*"), s("*"), s("*")), "create", "", "pods/exec", true},
		{rule(s("create"), s(""), s("pods")), "create", "", "pods/exec", false},
		{rule(s("create"), s(""), s("*/exec")), "create", "", "pods/exec", true},
		{rule(s("get"), s("apps"), s("secrets")), "get", "", "secrets", false},
		{rule(s("list"), s(""), s("secrets")), "get", "", "secrets", false},
	} {
		if got := rbac.Allows(c.rule, c.verb, c.group, c.resource); got != c.want {
			t.Errorf("%v allows %s %s/%s = %v", c.rule, c.verb, c.group, c.resource, got)
		}
	}
}
