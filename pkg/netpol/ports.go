package netpol

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Protocols are the protocols NetworkPolicies speak about.
var Protocols = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}

// Range is an inclusive range of port numbers.
type Range struct{ Lo, Hi int32 }

// PortSet is a set of ports per protocol, as sorted disjoint ranges.
type PortSet map[corev1.Protocol][]Range

const maxPort = 65535

// AllPorts is every port of every protocol.
func AllPorts() PortSet {
	s := PortSet{}
	for _, p := range Protocols {
		s[p] = []Range{{1, maxPort}}
	}
	return s
}

// Add adds a range of one protocol.
func (s PortSet) Add(p corev1.Protocol, r Range) {
	rs := append(s[p], r)
	slices.SortFunc(rs, func(a, b Range) int { return int(a.Lo - b.Lo) })
	merged := rs[:0:0]
	for _, x := range rs {
		if n := len(merged); n > 0 && x.Lo <= merged[n-1].Hi+1 {
			merged[n-1].Hi = max(merged[n-1].Hi, x.Hi)
			continue
		}
		merged = append(merged, x)
	}
	s[p] = merged
}

// Union adds every port of o to s.
func (s PortSet) Union(o PortSet) {
	for p, rs := range o {
		for _, r := range rs {
			s.Add(p, r)
		}
	}
}

// Intersect returns the ports in both sets.
func (s PortSet) Intersect(o PortSet) PortSet {
	out := PortSet{}
	for p, as := range s {
		for _, a := range as {
			for _, b := range o[p] {
				if lo, hi := max(a.Lo, b.Lo), min(a.Hi, b.Hi); lo <= hi {
					out.Add(p, Range{lo, hi})
				}
			}
		}
	}
	return out
}

// Subtract returns the ports of s that are not in o.
func (s PortSet) Subtract(o PortSet) PortSet {
	out := PortSet{}
	for p, as := range s {
		for _, a := range as {
			pieces := []Range{a}
			for _, b := range o[p] {
				var next []Range
				for _, x := range pieces {
					if b.Hi < x.Lo || b.Lo > x.Hi {
						next = append(next, x)
						continue
					}
					if x.Lo < b.Lo {
						next = append(next, Range{x.Lo, b.Lo - 1})
					}
					if x.Hi > b.Hi {
						next = append(next, Range{b.Hi + 1, x.Hi})
					}
				}
				pieces = next
			}
			for _, x := range pieces {
				out.Add(p, x)
			}
		}
	}
	return out
}

// Empty reports whether the set holds no port.
func (s PortSet) Empty() bool {
	for _, rs := range s {
		if len(rs) > 0 {
			return false
		}
	}
	return true
}

// Contains reports whether a port of a protocol is in the set.
func (s PortSet) Contains(p corev1.Protocol, port int32) bool {
	for _, r := range s[p] {
		if r.Lo <= port && port <= r.Hi {
			return true
		}
	}
	return false
}

// String writes the set compactly: "all", "none", or "TCP/80,8080-8090 UDP/53".
func (s PortSet) String() string {
	all := true
	for _, p := range Protocols {
		all = all && len(s[p]) == 1 && s[p][0] == Range{1, maxPort}
	}
	if all {
		return "all"
	}
	var parts []string
	for _, p := range Protocols {
		if len(s[p]) == 0 {
			continue
		}
		var rs []string
		for _, r := range s[p] {
			switch {
			case r.Lo == 1 && r.Hi == maxPort:
				rs = append(rs, "all")
			case r.Lo == r.Hi:
				rs = append(rs, fmt.Sprint(r.Lo))
			default:
				rs = append(rs, fmt.Sprintf("%d-%d", r.Lo, r.Hi))
			}
		}
		parts = append(parts, string(p)+"/"+strings.Join(rs, ","))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}
