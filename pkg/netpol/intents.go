package netpol

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Intent is one line of an intents file:
//
//	frontend -> backend:8080 allow
//	shop/frontend -> shop/db deny
//	* -> db deny except backend, ops/admin
//	payments -> internet deny
//	web -> dns:UDP/53 allow
//
// Names are workload names, optionally namespace/name; "*" is every
// workload, "internet" any address outside the cluster, "dns" the cluster
// DNS. Without a port, allow means some port is open and deny means none
// is.
type Intent struct {
	Line     int
	Src, Dst string
	Except   []string
	Proto    corev1.Protocol
	Port     int32 // 0: any port
	Allow    bool
	Text     string
}

// ParseIntents reads an intents file; errors name the line.
func ParseIntents(name string, r io.Reader) ([]Intent, error) {
	var out []Intent
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		in, err := parseIntent(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		in.Line = n
		out = append(out, in)
	}
	return out, sc.Err()
}

func parseIntent(line string) (Intent, error) {
	in := Intent{Text: line, Proto: corev1.ProtocolTCP}
	src, rest, ok := strings.Cut(line, "->")
	if !ok {
		return in, fmt.Errorf("%q: want SRC -> DST[:PORT] allow|deny [except A, B]", line)
	}
	in.Src = strings.TrimSpace(src)
	fields := strings.Fields(rest)
	if in.Src == "" || len(fields) < 2 {
		return in, fmt.Errorf("%q: want SRC -> DST[:PORT] allow|deny [except A, B]", line)
	}
	dst := fields[0]
	if d, port, ok := strings.Cut(dst, ":"); ok {
		dst = d
		proto, num, hasProto := strings.Cut(port, "/")
		if !hasProto {
			num, proto = proto, "TCP"
		}
		p, err := strconv.Atoi(num)
		if err != nil || p < 1 || p > maxPort {
			return in, fmt.Errorf("%q: port %q is not a number from 1 to 65535", line, num)
		}
		switch pr := corev1.Protocol(strings.ToUpper(proto)); pr {
		case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
			in.Proto = pr
		default:
			return in, fmt.Errorf("%q: protocol %q is not TCP, UDP or SCTP", line, proto)
		}
		in.Port = int32(p)
	}
	in.Dst = dst
	switch fields[1] {
	case "allow":
		in.Allow = true
	case "deny":
	default:
		return in, fmt.Errorf("%q: verdict %q is not allow or deny", line, fields[1])
	}
	if len(fields) > 2 {
		if fields[2] != "except" || len(fields) == 3 {
			return in, fmt.Errorf("%q: after the verdict only \"except A, B\" may follow", line)
		}
		for _, e := range strings.Split(strings.Join(fields[3:], " "), ",") {
			if e = strings.TrimSpace(e); e != "" {
				in.Except = append(in.Except, e)
			}
		}
	}
	return in, nil
}

// DNS stands for the cluster DNS when the input does not hold it: the
// kube-dns pods of kube-system, on port 53.
var DNS = &Endpoint{Name: "dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"},
	NSLabels: map[string]string{corev1.LabelMetadataName: "kube-system"},
	Ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
		{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP}}}

// Resolve returns the endpoints a name of an intents file or the command
// line stands for: "*", "internet", "dns", an address, "ns/name",
// "ns/Kind/name" or a bare workload name.
func Resolve(name string, workloads []*Endpoint) []*Endpoint {
	var named []*Endpoint // workloads proper: ns/Kind/name
	for _, w := range workloads {
		if !w.External() && strings.Count(w.Name, "/") == 2 {
			named = append(named, w)
		}
	}
	switch name {
	case "*":
		return named
	case "internet":
		return []*Endpoint{Internet}
	case "dns":
		for _, w := range named {
			if w.Namespace == "kube-system" && w.Labels["k8s-app"] == "kube-dns" {
				return []*Endpoint{w}
			}
		}
		return []*Endpoint{DNS}
	}
	if ep, ok := externalAddr(name); ok {
		return []*Endpoint{ep}
	}
	var out []*Endpoint
	for _, w := range named {
		parts := strings.SplitN(w.Name, "/", 3) // ns/Kind/name
		switch strings.Count(name, "/") {
		case 0:
			if parts[2] == name {
				out = append(out, w)
			}
		case 1:
			if parts[0]+"/"+parts[2] == name {
				out = append(out, w)
			}
		default:
			if w.Name == name {
				out = append(out, w)
			}
		}
	}
	return out
}

// Result is the outcome of one intent for one pair of endpoints.
type Result struct {
	Intent  Intent
	Src     *Endpoint
	Dst     *Endpoint
	OK      bool
	Verdict Verdict
}

// Check evaluates intents against the model; unresolvable names are
// errors.
func (m *Model) Check(intents []Intent, workloads []*Endpoint) ([]Result, error) {
	var out []Result
	for _, in := range intents {
		srcs, dsts := Resolve(in.Src, workloads), Resolve(in.Dst, workloads)
		if len(srcs) == 0 {
			return nil, fmt.Errorf("line %d: %q matches no workload", in.Line, in.Src)
		}
		if len(dsts) == 0 {
			return nil, fmt.Errorf("line %d: %q matches no workload", in.Line, in.Dst)
		}
		except := map[*Endpoint]bool{}
		for _, e := range in.Except {
			matched := Resolve(e, workloads)
			if len(matched) == 0 {
				return nil, fmt.Errorf("line %d: except %q matches no workload", in.Line, e)
			}
			for _, ep := range matched {
				except[ep] = true
			}
		}
		for _, s := range srcs {
			for _, d := range dsts {
				if s == d {
					continue
				}
				v := m.Connect(s, d, true)
				open := !v.Ports.Empty()
				if in.Port != 0 {
					open = v.Ports.Contains(in.Proto, in.Port)
				}
				want := in.Allow
				if except[s] {
					continue // excepted sources are not asserted either way
				}
				out = append(out, Result{Intent: in, Src: s, Dst: d, OK: open == want, Verdict: v})
			}
		}
	}
	return out, nil
}

// Why explains a failed result: which rules let the traffic through, or
// which policies stop it.
func (r Result) Why() string {
	var parts []string
	for _, re := range r.Verdict.Reasons {
		if r.Intent.Allow && re.Ports.Empty() || !r.Intent.Allow && !re.Ports.Empty() {
			parts = append(parts, re.Text)
		}
	}
	if len(parts) == 0 {
		for _, re := range r.Verdict.Reasons {
			parts = append(parts, re.Text)
		}
	}
	return strings.Join(parts, "; ")
}

func externalAddr(s string) (*Endpoint, bool) {
	if !strings.ContainsAny(s, ".:") || strings.Contains(s, "/") && !strings.Contains(s, ".") {
		return nil, false
	}
	if strings.Contains(s, "/") {
		if a, ok := inside(s, nil); ok {
			return &Endpoint{Name: s, Addr: a}, true
		}
		return nil, false
	}
	if a, ok := parseAddr(s); ok {
		return &Endpoint{Name: s, Addr: a}, true
	}
	return nil, false
}

func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil
}
