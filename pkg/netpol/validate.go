package netpol

import (
	"fmt"
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Validate returns what the API server's validation would reject in a
// NetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy, at
// each field. Such a policy never exists in a cluster: the model leaves it
// out rather than guess what it means.
func Validate(o *object.Object) inventory.FieldErrors {
	switch {
	case o.Kind == "NetworkPolicy" && o.Group() == "networking.k8s.io":
		np, ok := inventory.As[networkingv1.NetworkPolicy](o)
		if !ok {
			return nil // type errors are reported where the object is read
		}
		return validateNP(&np.Spec)
	case o.Group() == "policy.networking.k8s.io" && (o.Kind == "AdminNetworkPolicy" || o.Kind == "BaselineAdminNetworkPolicy"):
		var s anpSpec
		return validateANP(o, &s)
	}
	return nil
}

type errs struct{ list inventory.FieldErrors }

func (e *errs) add(path, format string, args ...any) {
	e.list = append(e.list, inventory.FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (e *errs) selector(path string, s *metav1.LabelSelector) {
	if s == nil {
		return
	}
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		e.add(path, "invalid label selector: %v", err)
	}
}

func (e *errs) cidr(path, s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		e.add(path, "%q is not a valid CIDR", s)
		return p, false
	}
	return p, true
}

func validateNP(spec *networkingv1.NetworkPolicySpec) inventory.FieldErrors {
	var e errs
	e.selector("spec.podSelector", &spec.PodSelector)
	peers := func(path string, list []networkingv1.NetworkPolicyPeer) {
		for i, p := range list {
			at := object.Index(path, i)
			selectors := p.PodSelector != nil || p.NamespaceSelector != nil
			switch {
			case p.IPBlock != nil && selectors:
				e.add(at, "may not specify both ipBlock and another peer")
			case p.IPBlock == nil && !selectors:
				e.add(at, "must specify a peer")
			}
			e.selector(at+".podSelector", p.PodSelector)
			e.selector(at+".namespaceSelector", p.NamespaceSelector)
			if b := p.IPBlock; b != nil {
				c, ok := e.cidr(at+".ipBlock.cidr", b.CIDR)
				for j, x := range b.Except {
					xp, xok := e.cidr(object.Index(at+".ipBlock.except", j), x)
					if ok && xok && (!c.Contains(xp.Addr()) || xp.Bits() <= c.Bits()) {
						e.add(object.Index(at+".ipBlock.except", j), "%q must be a strict subset of `cidr` %q", x, b.CIDR)
					}
				}
			}
		}
	}
	ports := func(path string, list []networkingv1.NetworkPolicyPort) {
		for i, p := range list {
			at := object.Index(path, i)
			if p.Protocol != nil && *p.Protocol != "TCP" && *p.Protocol != "UDP" && *p.Protocol != "SCTP" {
				e.add(at+".protocol", "Unsupported value: %q: supported values: \"TCP\", \"UDP\", \"SCTP\"", *p.Protocol)
			}
			if p.Port != nil && p.Port.Type == intstr.Int && (p.Port.IntVal < 1 || p.Port.IntVal > 65535) {
				e.add(at+".port", "must be between 1 and 65535, inclusive")
			}
			if p.EndPort == nil {
				continue
			}
			switch {
			case p.Port == nil:
				e.add(at+".endPort", "may not be specified when `port` is not specified")
			case p.Port.Type == intstr.String:
				e.add(at+".endPort", "may not be specified when `port` is non-numeric")
			case *p.EndPort < p.Port.IntVal:
				e.add(at+".endPort", "must be greater than or equal to `port` (%d)", p.Port.IntVal)
			}
		}
	}
	for i, r := range spec.Ingress {
		peers(object.Index("spec.ingress", i)+".from", r.From)
		ports(object.Index("spec.ingress", i)+".ports", r.Ports)
	}
	for i, r := range spec.Egress {
		peers(object.Index("spec.egress", i)+".to", r.To)
		ports(object.Index("spec.egress", i)+".ports", r.Ports)
	}
	for i, t := range spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			e.add(object.Index("spec.policyTypes", i), "Unsupported value: %q: supported values: \"Ingress\", \"Egress\"", t)
		}
	}
	return e.list
}

// validateANP converts an admin policy's spec into s and validates it.
func validateANP(o *object.Object, s *anpSpec) inventory.FieldErrors {
	var e errs
	spec, _ := o.Content["spec"].(map[string]any)
	if spec == nil {
		e.add("spec", "Required value")
		return e.list
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, s); err != nil {
		e.add("spec", "%v", err)
		return e.list
	}
	baseline := o.Kind == "BaselineAdminNetworkPolicy"
	if !baseline && (s.Priority < 0 || s.Priority > 1000) {
		e.add("spec.priority", "must be between 0 and 1000, inclusive")
	}
	switch {
	case s.Subject.Namespaces != nil && s.Subject.Pods != nil:
		e.add("spec.subject", "may not specify both namespaces and pods")
	case s.Subject.Namespaces == nil && s.Subject.Pods == nil:
		e.add("spec.subject", "must specify namespaces or pods")
	}
	actions := `"Allow", "Deny", "Pass"`
	if baseline {
		actions = `"Allow", "Deny"`
	}
	rules := func(dir, peerField string, list []anpRule) {
		for i, r := range list {
			at := object.Index("spec."+dir, i)
			switch {
			case r.Action == "":
				e.add(at+".action", "Required value: supported values: %s", actions)
			case r.Action != "Allow" && r.Action != "Deny" && (baseline || r.Action != "Pass"):
				e.add(at+".action", "Unsupported value: %q: supported values: %s", r.Action, actions)
			}
			peers := r.From
			if dir == "egress" {
				peers = r.To
			}
			if len(peers) == 0 {
				e.add(at+"."+peerField, "Required value")
			}
			for j, p := range peers {
				for k, n := range p.Networks {
					e.cidr(object.Index(object.Index(at+"."+peerField, j)+".networks", k), n)
				}
			}
		}
	}
	rules("ingress", "from", s.Ingress)
	rules("egress", "to", s.Egress)
	return e.list
}
