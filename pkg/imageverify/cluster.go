package imageverify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kubeguard/kubeguard/pkg/config"
)

// GVR is kubeguard's ClusterImagePolicy resource (deploy/crds).
var GVR = schema.GroupVersionResource{Group: "kubeguard.io", Version: "v1alpha1", Resource: "clusterimagepolicies"}

// FromObjects reads ClusterImagePolicy objects: each spec is an
// images.verify policy named after the object.
func FromObjects(items []unstructured.Unstructured) ([]config.ImagePolicy, error) {
	var out []config.ImagePolicy
	for _, it := range items {
		spec, _, _ := unstructured.NestedMap(it.Object, "spec")
		data, err := json.Marshal(spec)
		if err != nil {
			return nil, fmt.Errorf("ClusterImagePolicy %s: %v", it.GetName(), err)
		}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		var p config.ImagePolicy
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("ClusterImagePolicy %s: %v", it.GetName(), err)
		}
		if refersToFiles(p) {
			return nil, fmt.Errorf("ClusterImagePolicy %s: keys and roots are given inline (pem), not as files", it.GetName())
		}
		p.Name = it.GetName()
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b config.ImagePolicy) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func refersToFiles(p config.ImagePolicy) bool {
	auths := slices.Clone(p.Authorities)
	for _, a := range p.Attestations {
		auths = append(auths, a.Authorities...)
	}
	for _, a := range auths {
		if a.Key != nil && a.Key.File != "" || a.Keyless != nil && a.Keyless.Roots != nil && a.Keyless.Roots.File != "" {
			return true
		}
	}
	return false
}

// ListCluster reads the cluster's ClusterImagePolicy objects; a cluster
// without the CRD has none, and so has no cluster (nil dyn).
func ListCluster(ctx context.Context, dyn dynamic.Interface) ([]config.ImagePolicy, bool, error) {
	if dyn == nil {
		return nil, false, nil
	}
	l, err := dyn.Resource(GVR).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("listing ClusterImagePolicies: %w", err)
	}
	ps, err := FromObjects(l.Items)
	return ps, true, err
}

// WithCluster compiles the configuration's policies together with the
// cluster's.
func WithCluster(base config.ImageVerify, baseDir string, cluster []config.ImagePolicy) (*Policies, error) {
	return (&Source{Base: base, Dir: baseDir}).compile(cluster)
}

// Source is where a long-running verifier's policies come from: the
// configuration (files relative to Dir), the cluster's ClusterImagePolicy
// objects, and the trusted root, pinned or refreshed from TUF.
type Source struct {
	Base config.ImageVerify
	Dir  string
	root atomic.Pointer[[]byte]
}

// SetTrustedRoot replaces the pinned trusted root (a TUF refresh).
func (s *Source) SetTrustedRoot(data []byte) { s.root.Store(&data) }

func (s *Source) compile(cluster []config.ImagePolicy) (*Policies, error) {
	cfg := s.Base
	cfg.Policies = append(slices.Clone(s.Base.Policies), cluster...)
	var root []byte
	if r := s.root.Load(); r != nil {
		root = *r
	}
	return CompileWith(cfg, s.Dir, root)
}

// Watch keeps the verifier's policies equal to the source's, polling the
// cluster (nil dyn: none) and the trusted root every interval. A set
// that does not compile is logged, and the last good one stays in force:
// a broken edit must not turn verification off.
func Watch(ctx context.Context, dyn dynamic.Interface, v *Verifier, src *Source, interval time.Duration, log *slog.Logger) {
	last := ""
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		cluster, _, err := ListCluster(ctx, dyn)
		if err != nil {
			log.Error("reading ClusterImagePolicies; the previous policies stay in force", "error", err)
		} else {
			data, _ := json.Marshal(cluster)
			key := string(data)
			if r := src.root.Load(); r != nil {
				key += string(*r)
			}
			if key != last {
				ps, err := src.compile(cluster)
				if err != nil {
					log.Error("image policies do not compile; the previous policies stay in force", "error", err)
				} else {
					v.SetPolicies(ps)
					last = key
					log.Info("image policies loaded", "policies", len(ps.List), "cluster", len(cluster), "generation", ps.Generation)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
