// Package exposure holds controls on how workloads are reachable from
// outside the cluster: Service types, external IPs, Ingress TLS, SSH and
// ingress-nginx snippets.
package exposure

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Controls returns the exposure controls.
func Controls() []*control.Control {
	return []*control.Control{nodePort, lbSourceRanges, externalIPs, ingressTLS, sshPort, nginxSnippet}
}

// svc is the part of a Service these controls read, taken straight from
// the unstructured content: Services are numerous and a typed conversion
// per control would cost more than the checks.
type svc struct {
	Type                     corev1.ServiceType
	LoadBalancerSourceRanges []string
	ExternalIPs              []string
	Ports                    []svcPort
}

type svcPort struct{ Port, TargetPort int64 }

func service(p *control.Pass) *svc {
	if p.Object.Kind != "Service" || p.Object.Group() != "" {
		return nil
	}
	spec, _ := p.Object.Content["spec"].(map[string]any)
	t, _ := spec["type"].(string)
	s := &svc{Type: corev1.ServiceType(t), LoadBalancerSourceRanges: stringList(spec["loadBalancerSourceRanges"]), ExternalIPs: stringList(spec["externalIPs"])}
	ports, _ := spec["ports"].([]any)
	for _, v := range ports {
		m, _ := v.(map[string]any)
		port, _ := m["port"].(int64)
		target, _ := m["targetPort"].(int64)
		s.Ports = append(s.Ports, svcPort{port, target})
	}
	return s
}

func stringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

var nodePort = &control.Control{
	ID:       "SVC-NODEPORT",
	Title:    "Service of type NodePort",
	Severity: finding.Medium,
	Category: "exposure",
	Rationale: "A NodePort opens the port on every node's address, bypassing the ingress and load balancer where " +
		"TLS, authentication and logging usually live, and is often reachable from networks nobody intended.",
	Remediation: "Use a ClusterIP Service behind an Ingress or Gateway, or a LoadBalancer with loadBalancerSourceRanges.",
	Refs:        control.Refs("NSA:network-separation", "NIST:4.4.2", "MITRE:T1133"),
	Kinds:       []string{"Service"},
	Check: func(p *control.Pass) {
		if s := service(p); s != nil && s.Type == corev1.ServiceTypeNodePort {
			p.Report("spec.type", "Service is of type NodePort")
		}
	},
}

var lbSourceRanges = &control.Control{
	ID:       "SVC-LB-OPEN",
	Title:    "LoadBalancer open to any source",
	Severity: finding.Medium,
	Category: "exposure",
	Rationale: "A LoadBalancer without loadBalancerSourceRanges accepts connections from the whole internet " +
		"(or the whole VPC for internal balancers).",
	Remediation: "Set spec.loadBalancerSourceRanges to the client networks that need access.",
	Refs:        control.Refs("NSA:network-separation", "NIST:4.4.2", "MITRE:T1133", "MITRE:T1190"),
	Kinds:       []string{"Service"},
	Check: func(p *control.Pass) {
		s := service(p)
		if s == nil || s.Type != corev1.ServiceTypeLoadBalancer {
			return
		}
		open := len(s.LoadBalancerSourceRanges) == 0
		for _, r := range s.LoadBalancerSourceRanges {
			open = open || r == "0.0.0.0/0" || r == "::/0"
		}
		if open {
			p.Report("spec.type", "LoadBalancer Service accepts traffic from any source address")
		}
	},
}

var externalIPs = &control.Control{
	ID:       "SVC-EXTERNAL-IPS",
	Title:    "Service sets externalIPs",
	Severity: finding.High,
	Category: "exposure",
	Rationale: "externalIPs let whoever can create a Service intercept traffic to any IP address in the cluster " +
		"(CVE-2020-8554); clusters should deny the field with the DenyServiceExternalIPs admission plugin.",
	Remediation: "Remove spec.externalIPs and use a LoadBalancer or Ingress.",
	Refs:        control.Refs("NSA:network-separation", "NIST:4.3.3", "MITRE:T1557"),
	Kinds:       []string{"Service"},
	Check: func(p *control.Pass) {
		if s := service(p); s != nil && len(s.ExternalIPs) > 0 {
			p.Report("spec.externalIPs", "Service claims external IPs %s", strings.Join(s.ExternalIPs, ", "))
		}
	},
}

var ingressTLS = &control.Control{
	ID:       "ING-NO-TLS",
	Title:    "Ingress without TLS",
	Severity: finding.Medium,
	Category: "exposure",
	Rationale: "Without a tls section the Ingress serves plain HTTP: credentials and session cookies cross the " +
		"network in clear text.",
	Remediation: "Add spec.tls with the hosts and a certificate Secret (for example issued by cert-manager).",
	Refs:        control.Refs("NSA:network-separation", "NIST:4.3.3", "MITRE:T1040"),
	Kinds:       []string{"Ingress"},
	Check: func(p *control.Pass) {
		if p.Object.Kind != "Ingress" || p.Object.Group() != "networking.k8s.io" && p.Object.Group() != "extensions" {
			return
		}
		if ing, ok := inventory.As[networkingv1.Ingress](p.Object); ok && len(ing.Spec.TLS) == 0 {
			p.Report("spec", "Ingress serves its hosts without TLS")
		}
	},
}

func sshLike[T int32 | int64](port T) bool { return port == 22 || port == 2222 }

var sshPort = &control.Control{
	ID:       "NET-SSH-PORT",
	Title:    "SSH port exposed",
	Severity: finding.Medium,
	Category: "exposure",
	Rationale: "An SSH server in a container is a second, unaudited way in: it bypasses kubectl exec and the API " +
		"server's authentication, authorization and audit log.",
	Remediation: "Remove the SSH server and port; use kubectl exec or ephemeral debug containers for access.",
	Refs:        control.Refs("NSA:network-separation", "NIST:4.4.2", "MITRE:T1021.004", "MITRE:T1133"),
	Check: func(p *control.Pass) {
		if w := p.Workload; w != nil {
			for _, c := range w.Containers {
				for i, port := range c.Ports {
					if sshLike(port.ContainerPort) {
						p.ReportContainer(c.Name, object.Index(c.Field("ports"), i)+".containerPort", "%s %q exposes SSH port %d", c.Kind, c.Name, port.ContainerPort)
					}
				}
			}
			return
		}
		if s := service(p); s != nil {
			for i, port := range s.Ports {
				if sshLike(port.Port) || sshLike(port.TargetPort) {
					p.Report(object.Index("spec.ports", i), "Service exposes SSH port %d", port.Port)
				}
			}
		}
	},
}

var nginxSnippet = &control.Control{
	ID:       "ING-NGINX-SNIPPET",
	Title:    "ingress-nginx snippet annotation",
	Severity: finding.High,
	Category: "exposure",
	Rationale: "Snippet annotations inject raw NGINX configuration; whoever can write an Ingress can read the " +
		"controller's ServiceAccount token and every Secret in the cluster (CVE-2021-25742, CVE-2025-1974).",
	Remediation: "Remove the snippet and use the dedicated annotations; run ingress-nginx with allow-snippet-annotations: false.",
	Refs:        control.Refs("NIST:4.3.1", "MITRE:T1190", "MITRE:T1552.007"),
	Kinds:       []string{"Ingress"},
	Check: func(p *control.Pass) {
		if p.Object.Kind != "Ingress" {
			return
		}
		anns := p.Object.Metadata("annotations")
		for _, k := range slices.Sorted(maps.Keys(anns)) {
			if strings.HasPrefix(k, "nginx.ingress.kubernetes.io/") && strings.HasSuffix(k, "-snippet") {
				p.Report(object.Key("metadata.annotations", k), "Ingress sets snippet annotation %s", k)
			}
		}
	},
}
