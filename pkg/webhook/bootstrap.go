package webhook

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubeguard/kubeguard/pkg/tlsutil"
)

// SelfSigned creates a CA and a serving certificate for the webhook's
// Service (and any extra hosts), held in memory only. The CA is what the
// webhook configurations' caBundle must carry; see PatchCABundle.
func SelfSigned(service, namespace string, hosts []string) (*tlsutil.CA, *tls.Certificate, error) {
	ca, err := tlsutil.NewCA("kubeguard-webhook-ca", 10*365*24*time.Hour)
	if err != nil {
		return nil, nil, err
	}
	leaf := tlsutil.Leaf{CommonName: service + "." + namespace + ".svc", Server: true, Validity: 10 * 365 * 24 * time.Hour,
		DNSNames: []string{service, service + "." + namespace, service + "." + namespace + ".svc", service + "." + namespace + ".svc.cluster.local"}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leaf.IPs = append(leaf.IPs, ip)
		} else {
			leaf.DNSNames = append(leaf.DNSNames, h)
		}
	}
	certPEM, keyPEM, err := ca.Issue(leaf)
	if err != nil {
		return nil, nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	return ca, &cert, nil
}

// PatchCABundle writes caPEM into every webhook of the validating and
// mutating webhook configurations named name. A configuration that does
// not exist is skipped (install-manifests may not have been applied yet);
// it reports how many it patched.
func PatchCABundle(ctx context.Context, client kubernetes.Interface, name string, caPEM []byte) (int, error) {
	n := 0
	adm := client.AdmissionregistrationV1()
	v, err := adm.ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return n, fmt.Errorf("reading ValidatingWebhookConfiguration %s: %v", name, err)
	default:
		for i := range v.Webhooks {
			v.Webhooks[i].ClientConfig.CABundle = caPEM
		}
		if _, err := adm.ValidatingWebhookConfigurations().Update(ctx, v, metav1.UpdateOptions{}); err != nil {
			return n, fmt.Errorf("updating ValidatingWebhookConfiguration %s: %v", name, err)
		}
		n++
	}
	m, err := adm.MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return n, fmt.Errorf("reading MutatingWebhookConfiguration %s: %v", name, err)
	default:
		for i := range m.Webhooks {
			m.Webhooks[i].ClientConfig.CABundle = caPEM
		}
		if _, err := adm.MutatingWebhookConfigurations().Update(ctx, m, metav1.UpdateOptions{}); err != nil {
			return n, fmt.Errorf("updating MutatingWebhookConfiguration %s: %v", name, err)
		}
		n++
	}
	return n, nil
}
