// Command bootstraprbac writes the default RBAC policy that kube-apiserver
// of the pinned release creates at every start (ClusterRoles, including the
// controllers' and the aggregated admin, edit and view, and the Roles of
// kube-system and kube-public) as JSON, for pkg/rbac to embed: manifests
// bind these roles without defining them. Regenerate with `go generate
// ./pkg/rbac` after changing the pin; the end-to-end test compares the
// file with a real API server's roles.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy"
)

// policy is the file's shape; pkg/rbac reads the same fields.
type policy struct {
	Version      string               `json:"version"`
	ClusterRoles []rbacv1.ClusterRole `json:"clusterRoles"`
	Roles        []rbacv1.Role        `json:"roles"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: bootstraprbac KUBERNETES-VERSION > bootstrap-rbac.json")
		os.Exit(2)
	}
	p := policy{Version: os.Args[1]}
	p.ClusterRoles = append(bootstrappolicy.ClusterRoles(), bootstrappolicy.ControllerRoles()...)
	sort.Slice(p.ClusterRoles, func(i, j int) bool { return p.ClusterRoles[i].Name < p.ClusterRoles[j].Name })
	nsRoles := bootstrappolicy.NamespaceRoles()
	for ns, roles := range nsRoles {
		for _, r := range roles {
			r.Namespace = ns
			p.Roles = append(p.Roles, r)
		}
	}
	sort.Slice(p.Roles, func(i, j int) bool {
		if p.Roles[i].Namespace != p.Roles[j].Namespace {
			return p.Roles[i].Namespace < p.Roles[j].Namespace
		}
		return p.Roles[i].Name < p.Roles[j].Name
	})
	for i := range p.ClusterRoles {
		p.ClusterRoles[i].Kind, p.ClusterRoles[i].APIVersion = "ClusterRole", "rbac.authorization.k8s.io/v1"
	}
	for i := range p.Roles {
		p.Roles[i].Kind, p.Roles[i].APIVersion = "Role", "rbac.authorization.k8s.io/v1"
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(p); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
