package secrets

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// RenewWithin is how early an expiring certificate is reported: the usual
// renewal window of cert-manager and ACME clients is 30 days.
const RenewWithin = 30 * 24 * time.Hour

var tlsExpired = &control.Control{
	ID:       "SECRET-TLS-EXPIRED",
	Title:    "TLS Secret holds an expired certificate",
	Severity: finding.High,
	Category: "secrets",
	Rationale: "Clients refuse an expired certificate, or are taught to skip verification to get past it; either " +
		"way the TLS that protects the service is gone.",
	Remediation: "Renew the certificate and update the Secret; let cert-manager or another ACME client rotate " +
		"it automatically.",
	Refs:  control.Refs("NSA:tls", "NIST:4.3.3"),
	Kinds: []string{"Secret"},
	Check: func(p *control.Pass) { checkCert(p, true) },
}

var tlsExpiring = &control.Control{
	ID:       "SECRET-TLS-EXPIRING",
	Title:    "TLS Secret certificate expires within 30 days",
	Severity: finding.Medium,
	Category: "secrets",
	Rationale: "A certificate close to its end is a coming outage, and a sign that its rotation is manual; keys " +
		"should be rotated well before they expire.",
	Remediation: "Renew the certificate now and automate its rotation (cert-manager renews 30 days ahead by default).",
	Refs:        control.Refs("NSA:tls", "NIST:4.3.3"),
	Kinds:       []string{"Secret"},
	Check:       func(p *control.Pass) { checkCert(p, false) },
}

// checkCert reads the leaf certificate of a kubernetes.io/tls Secret
// (data, base64, as stored; or stringData in a manifest) and reports it
// expired, or expiring within RenewWithin. The message names the subject
// and the date, never any part of the Secret's data.
func checkCert(p *control.Pass, expired bool) {
	if t, _ := p.Object.Content["type"].(string); t != string(corev1.SecretTypeTLS) {
		return
	}
	path, pemData := "data", ""
	if data, ok := p.Object.Content["data"].(map[string]any); ok {
		if s, ok := data[corev1.TLSCertKey].(string); ok {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
			if err != nil {
				return // the API server would refuse it; not this control's concern
			}
			path, pemData = object.Key("data", corev1.TLSCertKey), string(b)
		}
	}
	if sd, ok := p.Object.Content["stringData"].(map[string]any); ok && pemData == "" {
		if s, ok := sd[corev1.TLSCertKey].(string); ok {
			path, pemData = object.Key("stringData", corev1.TLSCertKey), s
		}
	}
	block, _ := pem.Decode([]byte(pemData))
	if block == nil || block.Type != "CERTIFICATE" {
		return
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return
	}
	now := p.Clock()
	left := cert.NotAfter.Sub(now)
	subject := cert.Subject.CommonName
	if subject == "" && len(cert.DNSNames) > 0 {
		subject = cert.DNSNames[0]
	}
	date := cert.NotAfter.UTC().Format(time.DateOnly)
	switch {
	case expired && left <= 0:
		p.Report(path, "certificate %q expired on %s (%s ago)", subject, date, days(-left))
	case !expired && left > 0 && left <= RenewWithin:
		p.Report(path, "certificate %q expires on %s (in %s)", subject, date, days(left))
	}
}

func days(d time.Duration) string {
	n := int(d.Hours() / 24)
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
