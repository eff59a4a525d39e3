package deploy

import (
	"fmt"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/config"
)

// InstallOptions are what `kubeguard webhook install-manifests` asks for.
type InstallOptions struct {
	Namespace string
	Image     string // repository[:tag][@digest]
	Replicas  int
	// Config is the configuration shipped in the ConfigMap; its webhook
	// section sets the failure policy, selectors and mutations of the
	// webhook configurations. ConfigYAML is its text, shipped verbatim.
	Config     *config.Config
	ConfigYAML string
	// CertManager lets cert-manager issue the serving certificate and
	// inject the caBundle; without it, the Secret
	// kubeguard-webhook-tls must be created.
	CertManager bool
}

// InstallManifests renders the chart for a webhook-only installation,
// the namespace included, with values taken from o.
func InstallManifests(o InstallOptions) (string, error) {
	if o.Namespace == "" {
		o.Namespace = "kubeguard"
	}
	if o.Config == nil {
		o.Config = &config.Config{}
	}
	if err := o.Config.Webhook.Validate(); err != nil {
		return "", err
	}
	repo, tag, digest, err := splitImage(o.Image)
	if err != nil {
		return "", err
	}
	wh := o.Config.Webhook
	webhook := map[string]any{
		"replicas":      max(o.Replicas, 2),
		"failurePolicy": wh.FailurePolicy,
		"mutating":      len(wh.Mutate) > 0,
		"certManager":   o.CertManager,
	}
	if s := wh.NamespaceSelector; s != nil {
		webhook["namespaceSelector"] = s
	}
	if s := wh.ObjectSelector; s != nil {
		webhook["objectSelector"] = s
	}
	values := map[string]any{
		"createNamespace": true,
		"image":           map[string]any{"repository": repo, "tag": tag, "digest": digest},
		"webhook":         webhook,
		"controller":      map[string]any{"enabled": false},
	}
	if o.ConfigYAML != "" {
		values["config"] = o.ConfigYAML
	}
	out, err := Render("kubeguard", o.Namespace, values)
	if err != nil {
		return "", err
	}
	return "# kubeguard admission webhook, rendered from kubeguard's Helm chart by\n# kubeguard webhook install-manifests.\n" + out, nil
}

// splitImage splits repository[:tag][@digest]; a port in the registry
// host is not a tag.
func splitImage(ref string) (repo, tag, digest string, err error) {
	repo, digest, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo, tag = repo[:i], repo[i+1:]
	}
	if repo == "" || tag == "" && digest == "" {
		return "", "", "", fmt.Errorf("image %q: want repository:tag, repository@digest or both", ref)
	}
	return repo, tag, digest, nil
}
