package node

import (
	"fmt"
	"os"
	"strings"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// Findings are the findings of a checklist's failed items, and of the
// items the benchmark leaves to judgement whose setting does not pass,
// about the checklist's target. accept applies the configuration (a
// disabled control, a severity, a suppression); the checklist's items
// say when their finding is suppressed.
func Findings(c *report.Checklist, accept func(*finding.Finding) bool) []*finding.Finding {
	var out []*finding.Finding
	for i := range c.Sections {
		for j := range c.Sections[i].Results {
			it := &c.Sections[i].Results[j]
			if (it.Status != Fail && it.Status != Warn) || it.Control == "" {
				continue
			}
			f := &finding.Finding{ControlID: it.Control, Severity: it.Severity, Object: c.Target, Path: it.Field,
				Position: it.Position, Message: it.ID + " " + it.Detail}
			if !accept(f) {
				it.Suppressed = "control disabled by the configuration"
				continue
			}
			if f.Suppressed != nil {
				it.Suppressed = f.Suppressed.Reason
			}
			it.Severity = f.Severity
			out = append(out, f)
		}
	}
	return out
}

// NodeName is the name of the node whose filesystem h is: the kubelet's
// --hostname-override, else the host's /etc/hostname, else (on the node
// itself) its hostname.
func NodeName(h *Host, k *Kubelet) string {
	if k != nil {
		if n := k.Flags["hostname-override"]; n != "" {
			return strings.ToLower(n)
		}
	}
	if n := h.hostname(); n != "" {
		return n
	}
	if h.Root == "/" || h.Root == "" {
		if n, err := os.Hostname(); err == nil {
			return strings.ToLower(n)
		}
	}
	return ""
}

// hostname is the node's name as its /etc/hostname gives it ("" when
// unreadable).
func (h *Host) hostname() string {
	data, err := h.ReadFile("/etc/hostname")
	if err != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(string(data)))
}

// NodeRef is the Node object a node's findings are about.
func NodeRef(name string) object.Ref { return object.Ref{APIVersion: "v1", Kind: "Node", Name: name} }

// Checklist evaluates a benchmark on a node as a report's checklist
// about the Node named name ("": the node's own name, see NodeName).
func Checklist(h *Host, benchmark, name string) (*report.Checklist, *Kubelet, error) {
	secs, k, err := Check(h, benchmark)
	if err != nil {
		return nil, nil, err
	}
	if name == "" {
		if name = NodeName(h, k); name == "" {
			return nil, nil, fmt.Errorf("cannot tell the node's name (no --hostname-override, no %s); give --node-name", h.path("/etc/hostname"))
		}
	}
	c := &report.Checklist{Benchmark: benchmark, Target: NodeRef(name), Kind: "worker node", Sections: secs}
	if ControlPlane(secs) {
		c.Kind = "control-plane node"
	}
	if k.Missing != "" {
		c.Notes = append(c.Notes, "section 4 not checked: "+k.Missing)
	} else {
		of := "kubelet"
		if k.Distribution != "" {
			of = "kubelet of " + k.Distribution
		}
		c.Notes = append(c.Notes, of+" read from "+strings.Join(k.Read, ", "))
	}
	return c, k, nil
}
