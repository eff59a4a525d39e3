package node

import (
	"encoding/json"
	"fmt"

	"github.com/kubeguard/kubeguard/pkg/report"
)

// ConfigzChecklist evaluates the kubelet checks (4.2) on a kubelet's
// live configuration as its /configz endpoint serves it (through the API
// server: /api/v1/nodes/NAME/proxy/configz). That is the configuration
// in force, flags applied, so no file on the node is read; what only the
// command line or the host shows (4.2.7 --hostname-override, 4.2.15 the
// unit's IPAddressDeny) is not applicable.
func ConfigzChecklist(node, benchmark string, configz []byte) (*report.Checklist, error) {
	var doc struct {
		KubeletConfig map[string]any `json:"kubeletconfig"`
	}
	if err := json.Unmarshal(configz, &doc); err != nil {
		return nil, fmt.Errorf("node %s: configz: %v", node, err)
	}
	if doc.KubeletConfig == nil {
		return nil, fmt.Errorf("node %s: configz has no kubeletconfig", node)
	}
	src := "/api/v1/nodes/" + node + "/proxy/configz"
	k := &Kubelet{Flags: map[string]string{}, Read: []string{src}, layers: []layer{{src, doc.KubeletConfig}}}
	var kubelet group
	for _, g := range worker {
		if g.id == "4.2" {
			kubelet = g
		}
	}
	secs := evaluate(&facts{kubelet: k}, []group{kubelet}, benchmark)
	for i := range secs[0].Results {
		r := &secs[0].Results[i]
		if r.ID == "4.2.7" || r.ID == "4.2.15" {
			secs[0].Counts[r.Status]--
			r.Status, r.Detail, r.Read = NotApplicable, "the kubelet's configz shows its configuration, not its command line or unit", nil
			secs[0].Counts[r.Status]++
		}
	}
	return &report.Checklist{Benchmark: benchmark, Target: NodeRef(node), Kind: "kubelet configuration, read through the API",
		Notes: []string{"kubelet read from " + src}, Sections: secs}, nil
}
