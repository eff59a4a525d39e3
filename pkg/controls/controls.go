// Package controls assembles the catalog from the control areas.
package controls

import (
	"fmt"
	"slices"

	"k8s.io/pod-security-admission/api"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controls/audit"
	"github.com/kubeguard/kubeguard/pkg/controls/backup"
	"github.com/kubeguard/kubeguard/pkg/controls/cluster"
	"github.com/kubeguard/kubeguard/pkg/controls/controlplane"
	"github.com/kubeguard/kubeguard/pkg/controls/dockerfile"
	"github.com/kubeguard/kubeguard/pkg/controls/exposure"
	"github.com/kubeguard/kubeguard/pkg/controls/image"
	"github.com/kubeguard/kubeguard/pkg/controls/namespace"
	"github.com/kubeguard/kubeguard/pkg/controls/network"
	"github.com/kubeguard/kubeguard/pkg/controls/node"
	"github.com/kubeguard/kubeguard/pkg/controls/pss"
	"github.com/kubeguard/kubeguard/pkg/controls/rbac"
	"github.com/kubeguard/kubeguard/pkg/controls/reliability"
	"github.com/kubeguard/kubeguard/pkg/controls/secrets"
	"github.com/kubeguard/kubeguard/pkg/controls/serviceaccount"
	"github.com/kubeguard/kubeguard/pkg/controls/workload"
)

// Options parameterise controls that depend on settings.
type Options struct {
	// PSSVersion is the Pod Security Standards version ("latest" or
	// "v1.NN"); empty means latest.
	PSSVersion string
	// AllowedRegistries are the trusted image registries (configuration
	// images.allowedRegistries); empty turns IMG-UNTRUSTED-REGISTRY off.
	AllowedRegistries []string
	// Backup are the backup controls' settings (configuration backup).
	Backup config.BackupConfig
	// Extra are controls defined by the team (package userpolicy).
	Extra []*control.Control
}

// Catalog returns every control.
func Catalog(opts Options) (*control.Catalog, error) {
	v := api.LatestVersion()
	if opts.PSSVersion != "" {
		var err error
		if v, err = api.ParseVersion(opts.PSSVersion); err != nil {
			return nil, fmt.Errorf("--pss-version: %v", err)
		}
		if !v.Latest() && pss.Newest.Older(v) {
			return nil, fmt.Errorf("--pss-version %s: newer than the newest policy kubeguard knows (%s); use latest", opts.PSSVersion, pss.Newest)
		}
	}
	p, err := pss.Controls(v)
	if err != nil {
		return nil, err
	}
	all := append(p, workload.Controls()...)
	all = append(all, image.Controls(opts.AllowedRegistries)...)
	all = append(all, serviceaccount.Controls()...)
	all = append(all, namespace.Controls()...)
	all = append(all, secrets.Controls()...)
	all = append(all, exposure.Controls()...)
	all = append(all, network.Controls()...)
	all = append(all, rbac.Controls()...)
	all = append(all, reliability.Controls()...)
	all = append(all, dockerfile.Controls()...)
	all = append(all, cluster.Controls()...)
	all = append(all, backup.Controls(opts.Backup)...)
	all = append(all, controlplane.Controls()...)
	all = append(all, audit.Controls()...)
	all = append(all, node.Controls()...)
	for _, c := range opts.Extra {
		if slices.ContainsFunc(all, func(b *control.Control) bool { return b.ID == c.ID }) {
			return nil, fmt.Errorf("policy control %s: the catalog has a control of that ID already", c.ID)
		}
		all = append(all, c)
	}
	return control.NewCatalog(all...), nil
}
