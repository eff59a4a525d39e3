package rbac

import (
	_ "embed"
	"encoding/json"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kubeguard/kubeguard/pkg/object"
)

//go:generate sh -c "cd ../../test/cluster && go run ./bootstraprbac $(sed -n 's/^require k8s.io\\/kubernetes //p' go.mod) > ../../pkg/rbac/bootstrap-rbac.json"

// bootstrapJSON is the default RBAC policy kube-apiserver creates at every
// start (test/cluster/bootstraprbac writes it from the pinned release).
//
//go:embed bootstrap-rbac.json
var bootstrapJSON []byte

// BootstrapVersion is the Kubernetes release whose default roles the model
// knows.
func BootstrapVersion() string { return bootstrap().version }

type bootstrapPolicy struct {
	version      string
	clusterRoles []*Role
	roles        []*Role
}

var bootstrap = sync.OnceValue(func() bootstrapPolicy {
	var file struct {
		Version      string            `json:"version"`
		ClusterRoles []json.RawMessage `json:"clusterRoles"`
		Roles        []json.RawMessage `json:"roles"`
	}
	if err := json.Unmarshal(bootstrapJSON, &file); err != nil {
		panic("rbac: embedded bootstrap policy: " + err.Error())
	}
	p := bootstrapPolicy{version: file.Version}
	origin := "default RBAC policy of Kubernetes " + file.Version
	load := func(raw json.RawMessage, cluster bool) *Role {
		var content map[string]any
		var typed struct {
			Rules           []rbacv1.PolicyRule     `json:"rules"`
			AggregationRule *rbacv1.AggregationRule `json:"aggregationRule"`
		}
		if err := json.Unmarshal(raw, &content); err != nil {
			panic("rbac: embedded bootstrap policy: " + err.Error())
		}
		if err := json.Unmarshal(raw, &typed); err != nil {
			panic("rbac: embedded bootstrap policy: " + err.Error())
		}
		o := object.New(content, object.Position{}, nil)
		o.Origin = origin
		return &Role{Object: o, Cluster: cluster, Rules: typed.Rules, Own: len(typed.Rules), Builtin: true, aggregation: typed.AggregationRule}
	}
	for _, raw := range file.ClusterRoles {
		p.clusterRoles = append(p.clusterRoles, load(raw, true))
	}
	for _, raw := range file.Roles {
		p.roles = append(p.roles, load(raw, false))
	}
	return p
})

// addBootstrap adds the default roles the input does not define, as a
// cluster has them whether or not manifests mention them. Each model gets
// its own copies: aggregation rewrites a role's rules.
func (m *Model) addBootstrap() {
	p := bootstrap()
	add := func(r *Role, ns string) {
		k := key{ns, r.Object.Name}
		if _, ok := m.roles[k]; ok {
			return
		}
		c := *r
		m.roles[k] = &c
	}
	for _, r := range p.clusterRoles {
		add(r, "")
	}
	for _, r := range p.roles {
		add(r, r.Object.Namespace)
	}
}
