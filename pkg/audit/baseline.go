package audit

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/kubeguard/kubeguard/pkg/auditpolicy"
	"github.com/kubeguard/kubeguard/pkg/control"
	ctlaudit "github.com/kubeguard/kubeguard/pkg/controls/audit"
)

// BaselineOptions tune learning. Zero values take the defaults.
type BaselineOptions struct {
	// Window is how long an identity is watched before what it does new
	// is an anomaly (default 7 days, counted from its first event).
	Window time.Duration
	// Forget drops a term, and an identity, not seen for this long
	// (default 30 days): what an identity stopped doing becomes new
	// again.
	Forget time.Duration
	// MaxIdentities bounds memory (default 20,000): when full, the
	// identity seen least recently is forgotten.
	MaxIdentities int
	// MaxTerms bounds one identity's terms of each kind (default 4,096).
	MaxTerms int
	// WideNamespaces: an identity that used a verb on a resource in this
	// many namespaces (default 3), or in all at once, works across
	// namespaces; a further namespace is not new.
	WideNamespaces int
	// RateFactor and RateFloor: an hour with more than RateFactor times
	// the identity's busiest learned hour, and more than RateFloor
	// requests, is a spike (defaults 4 and 200).
	RateFactor float64
	RateFloor  int
}

func (o *BaselineOptions) defaults() {
	if o.Window <= 0 {
		o.Window = 7 * 24 * time.Hour
	}
	if o.Forget <= 0 {
		o.Forget = 30 * 24 * time.Hour
	}
	if o.MaxIdentities <= 0 {
		o.MaxIdentities = 20000
	}
	if o.MaxTerms <= 0 {
		o.MaxTerms = 4096
	}
	if o.WideNamespaces <= 0 {
		o.WideNamespaces = 3
	}
	if o.RateFactor <= 0 {
		o.RateFactor = 4
	}
	if o.RateFloor <= 0 {
		o.RateFloor = 200
	}
}

// Baseline is what each identity (user or service account) was seen
// doing: the (verb, resource, namespace) it uses, the networks it comes
// from, the clients it uses and its requests by hour of week. Once an
// identity has been watched for the window, a term it never used is an
// anomaly, and it is learned (each new term is reported once).
type Baseline struct {
	// Format names the file format (BaselineFormat).
	Format string          `json:"format"`
	Opts   BaselineOptions `json:"-"`
	// Identities by username.
	Identities map[string]*Profile `json:"identities"`
	// Updated is the time of the newest event learned.
	Updated time.Time `json:"updated"`
	// Evicted counts identities forgotten to stay within MaxIdentities.
	Evicted int `json:"evicted,omitempty"`
}

// Profile is one identity's learned behaviour. Times are Unix seconds
// of the events' timestamps, so a log replayed later learns the same.
type Profile struct {
	First  int64 `json:"first"`
	Last   int64 `json:"last"`
	Events int64 `json:"events"`
	// Access maps "verb resource|namespace" (resource with its group
	// and subresource; namespace "" for cluster-wide objects, "*" for all
	// namespaces at once) to when it was last used. Spread counts the
	// namespaces of each "verb resource" (rebuilt when loaded).
	Access map[string]int64 `json:"access"`
	Spread map[string]int32 `json:"-"`
	// Namespaces are those it made any request in.
	Namespaces map[string]int64 `json:"namespaces"`
	// Sources are networks (IPv4 /24, IPv6 /64), Agents client names
	// (kubectl, helm, kube-controller-manager), each with when last.
	Sources map[string]int64 `json:"sources"`
	Agents  map[string]int64 `json:"agents"`
	// Hours counts requests by hour of week (0 is Sunday 00:00 UTC).
	Hours [168]uint32 `json:"hours"`
	// Peak is the busiest hour learned; Hour and InHour count the
	// current hour, Spiked says it was reported.
	Peak   int64 `json:"peak"`
	Hour   int64 `json:"hour"`
	InHour int64 `json:"inHour"`
	Spiked bool  `json:"spiked,omitempty"`
}

// BaselineFormat marks a stored baseline.
const BaselineFormat = "kubeguard.io/audit-baseline/v1"

// NewBaseline returns an empty baseline.
func NewBaseline(o BaselineOptions) *Baseline {
	o.defaults()
	return &Baseline{Format: BaselineFormat, Opts: o, Identities: map[string]*Profile{}}
}

// Anomaly is one new behaviour of a learned identity.
type Anomaly struct {
	Control  *control.Control
	Identity string
	Term     string
	Score    float64
	Message  string
	Path     string
}

// Observe learns one allowed request and returns what was new about it
// for an identity past its learning window.
func (b *Baseline) Observe(e *auditv1.Event) []Anomaly {
	user := e.User.Username
	if user == "" || e.ObjectRef == nil && !strings.HasPrefix(e.RequestURI, "/api") {
		return nil // health checks and discovery say nothing about an identity
	}
	at := eventTime(e).Unix()
	p := b.Identities[user]
	if p == nil {
		if len(b.Identities) >= b.Opts.MaxIdentities {
			b.evict()
		}
		p = &Profile{First: at, Access: map[string]int64{}, Spread: map[string]int32{}, Namespaces: map[string]int64{}, Sources: map[string]int64{}, Agents: map[string]int64{}}
		b.Identities[user] = p
	}
	if at > b.Updated.Unix() {
		b.Updated = time.Unix(at, 0).UTC()
	}
	learned := at-p.First >= int64(b.Opts.Window/time.Second)
	p.Events++
	if at > p.Last {
		p.Last = at
	}
	days := float64(at-p.First) / 86400
	var out []Anomaly
	report := func(c *control.Control, term, path string, score float64, msg string) {
		if learned {
			out = append(out, Anomaly{Control: c, Identity: user, Term: term, Path: path, Score: math.Round(score*100) / 100,
				Message: fmt.Sprintf("%s %s for the first time in %s of baseline", auditpolicy.Identity(user), msg, span(days))})
		}
	}

	verbRes, ns := accessTerm(e)
	if verbRes != "" {
		// Workloads repeat themselves: anything new is worth a look.
		// People explore: only what reads credentials, runs code or
		// changes permissions is.
		sens := sensitivity(e)
		workload := strings.HasPrefix(user, "system:")
		_, knownNS := p.Namespaces[ns]
		newNS := ns != "" && ns != "*" && !knownNS
		key := verbRes + "|" + ns
		_, seen := p.Access[key]
		spread := p.Spread[verbRes]
		switch {
		case seen:
		case spread == 0:
			if workload || sens > 0 {
				report(ctlaudit.AnomalyAccess, verbRes+" "+where(ns), "verb", 0.5+sens, past(e.Verb, verbRes, ns))
			}
		default:
			// an identity that used this in many namespaces, or in all at
			// once, works across them; one in many namespaces is at home
			// in a new one, unless what it does there is sensitive
			_, all := p.Access[verbRes+"|*"]
			switch {
			case ns == "" || all || int(spread) >= b.Opts.WideNamespaces:
			case sens >= 0.4 || sens > 0 && workload: // people delete where they work
				report(ctlaudit.AnomalyAccess, verbRes+" "+where(ns), "objectRef.namespace", 0.4+sens, past(e.Verb, verbRes, ns))
			case newNS && workload && len(p.Namespaces) < b.Opts.WideNamespaces:
				report(ctlaudit.AnomalyAccess, "namespace "+ns, "objectRef.namespace", 0.4, "made a request in namespace "+ns+" ("+past(e.Verb, verbRes, ns)+")")
			}
		}
		if seen {
			p.Access[key] = max(p.Access[key], at)
		} else if len(p.Access) < b.Opts.MaxTerms {
			p.Access[key] = at
			p.Spread[verbRes]++
		}
		if ns != "" && ns != "*" && (len(p.Namespaces) < b.Opts.MaxTerms || knownNS) {
			p.Namespaces[ns] = max(p.Namespaces[ns], at)
		}
	}
	if src := network(e.SourceIPs); src != "" {
		if _, seen := p.Sources[src]; !seen && len(p.Sources) < b.Opts.MaxTerms {
			report(ctlaudit.AnomalySource, src, "sourceIPs", 0.6+sensitivity(e)/2, "came from "+src)
		}
		if len(p.Sources) < b.Opts.MaxTerms || p.Sources[src] != 0 {
			p.Sources[src] = max(p.Sources[src], at)
		}
	}
	if agent := Agent(e.UserAgent); agent != "" {
		if _, seen := p.Agents[agent]; !seen && len(p.Agents) < b.Opts.MaxTerms {
			score := 0.5
			if strings.HasPrefix(user, "system:serviceaccount:") && humanAgents[agent] {
				score = 0.9 // a person holds a workload's token
			}
			report(ctlaudit.AnomalyAgent, agent, "userAgent", score, "used "+agent)
		}
		if len(p.Agents) < b.Opts.MaxTerms || p.Agents[agent] != 0 {
			p.Agents[agent] = max(p.Agents[agent], at)
		}
	}

	hour := at / 3600
	if hour != p.Hour {
		if hour > p.Hour {
			if !p.Spiked && p.InHour > p.Peak {
				p.Peak = p.InHour
			}
			p.Hour, p.InHour, p.Spiked = hour, 0, false
		}
	}
	p.Hours[hourOfWeek(at)]++
	if hour == p.Hour {
		p.InHour++
		// a spike needs a busiest hour to compare with: a full hour seen
		fullHour := p.First/3600 < hour-1
		if limit := max(int64(float64(p.Peak)*b.Opts.RateFactor), int64(b.Opts.RateFloor)); learned && fullHour && !p.Spiked && p.InHour > limit {
			p.Spiked = true
			out = append(out, Anomaly{Control: ctlaudit.AnomalyRate, Identity: user, Term: "rate", Path: "stageTimestamp",
				Score: math.Round(min(1, 0.4+float64(p.InHour)/float64(limit)/20)*100) / 100,
				Message: fmt.Sprintf("%s made %d requests within the hour, more than %.0f times its busiest hour (%d) in %s of baseline",
					auditpolicy.Identity(user), p.InHour, b.Opts.RateFactor, p.Peak, span(days))})
		}
	}
	return out
}

// Learned reports whether an identity has been watched for the window,
// as of the newest event learned.
func (b *Baseline) Learned(p *Profile) bool {
	return b.Updated.Unix()-p.First >= int64(b.Opts.Window/time.Second)
}

// Forget drops terms and identities not seen since Forget before the
// newest event learned.
func (b *Baseline) Forget() (terms, identities int) {
	cut := b.Updated.Add(-b.Opts.Forget).Unix()
	for user, p := range b.Identities {
		if p.Last < cut {
			delete(b.Identities, user)
			identities++
			continue
		}
		for key, t := range p.Access {
			if t < cut {
				delete(p.Access, key)
				vr, _, _ := strings.Cut(key, "|")
				if p.Spread[vr]--; p.Spread[vr] <= 0 {
					delete(p.Spread, vr)
				}
				terms++
			}
		}
		for _, m := range []map[string]int64{p.Namespaces, p.Sources, p.Agents} {
			for k, t := range m {
				if t < cut {
					delete(m, k)
					terms++
				}
			}
		}
	}
	return terms, identities
}

// evict forgets the identity seen least recently, and with it every
// identity not seen in the same hour (eviction is rare; one pass frees
// room for many).
func (b *Baseline) evict() {
	oldest := int64(math.MaxInt64)
	for _, p := range b.Identities {
		oldest = min(oldest, p.Last)
	}
	for user, p := range b.Identities {
		if p.Last < oldest+3600 {
			delete(b.Identities, user)
			b.Evicted++
		}
	}
}

// accessTerm is "verb resource" and the namespace of a request.
func accessTerm(e *auditv1.Event) (verbRes, ns string) {
	r := e.ObjectRef
	if r == nil || r.Resource == "" || e.Verb == "" {
		return "", ""
	}
	res := r.Resource
	if r.APIGroup != "" {
		res += "." + r.APIGroup
	}
	if r.Subresource != "" {
		res += "/" + r.Subresource
	}
	ns = r.Namespace
	if ns == "" && (e.Verb == "list" || e.Verb == "watch") && !clusterScoped[r.Resource] {
		ns = "*"
	}
	return e.Verb + " " + res, ns
}

// clusterScoped are the common resources without a namespace: a list of
// them is not a list across namespaces.
var clusterScoped = map[string]bool{"nodes": true, "namespaces": true, "persistentvolumes": true, "clusterroles": true,
	"clusterrolebindings": true, "customresourcedefinitions": true, "storageclasses": true, "priorityclasses": true,
	"mutatingwebhookconfigurations": true, "validatingwebhookconfigurations": true, "apiservices": true,
	"certificatesigningrequests": true, "csidrivers": true, "csinodes": true, "ingressclasses": true, "runtimeclasses": true,
	"volumeattachments": true, "tokenreviews": true, "subjectaccessreviews": true, "selfsubjectaccessreviews": true,
	"selfsubjectrulesreviews": true, "flowschemas": true, "prioritylevelconfigurations": true,
	"validatingadmissionpolicies": true, "validatingadmissionpolicybindings": true}

func where(ns string) string {
	switch ns {
	case "":
		return "(cluster)"
	case "*":
		return "(all namespaces)"
	}
	return "in " + ns
}

var pastTense = map[string]string{"get": "read", "list": "listed", "watch": "watched", "create": "created", "update": "updated",
	"patch": "patched", "delete": "deleted", "deletecollection": "deleted all of"}

// past says what a request did: "listed secrets in kube-system".
func past(verb, verbRes, ns string) string {
	v := pastTense[verb]
	if v == "" {
		v = verb
	}
	_, res, _ := strings.Cut(verbRes, " ")
	return v + " " + res + " " + where(ns)
}

// sensitivity raises the score of requests that read credentials, run
// code in pods or change permissions.
func sensitivity(e *auditv1.Event) float64 {
	r := e.ObjectRef
	switch {
	case r == nil:
		return 0
	case r.Resource == "secrets", r.Subresource == "exec", r.Subresource == "attach", r.Subresource == "portforward",
		r.Subresource == "token", r.Subresource == "approval", r.Resource == "nodes" && r.Subresource == "proxy":
		return 0.4
	case r.APIGroup == "rbac.authorization.k8s.io" && e.Verb != "get" && e.Verb != "list" && e.Verb != "watch":
		return 0.4
	case e.Verb == "delete" || e.Verb == "deletecollection":
		return 0.2
	}
	return 0
}

// humanAgents are clients people use.
var humanAgents = map[string]bool{"kubectl": true, "curl": true, "k9s": true, "helm": true, "python-requests": true, "lens": true, "wget": true}

// Agent is a user agent's client name: "kubectl/v1.30.1 (linux/amd64)
// kubernetes/abc" is kubectl; versions change with every upgrade.
func Agent(ua string) string {
	name, _, _ := strings.Cut(ua, "/")
	name, _, _ = strings.Cut(name, " ")
	return strings.ToLower(strings.TrimSpace(name))
}

// network is the network of a request's first source address: pods and
// operators keep their networks, not their addresses. A private IPv4
// address counts by its /16 (a cluster's pod network spans nodes' /24s
// and pods move between nodes), a public one by its /24, IPv6 by its
// /64.
func network(ips []string) string {
	if len(ips) == 0 {
		return ""
	}
	a, err := netip.ParseAddr(ips[0])
	if err != nil {
		return ""
	}
	a = a.Unmap()
	bits := 24
	switch {
	case a.Is6():
		bits = 64
	case a.IsPrivate() || cgnat.Contains(a) || a.IsLoopback():
		bits = 16
	}
	p, _ := a.Prefix(bits)
	return p.String()
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func eventTime(e *auditv1.Event) time.Time {
	if !e.StageTimestamp.IsZero() {
		return e.StageTimestamp.Time
	}
	return e.RequestReceivedTimestamp.Time
}

func hourOfWeek(unix int64) int {
	t := time.Unix(unix, 0).UTC()
	return int(t.Weekday())*24 + t.Hour()
}

func span(days float64) string {
	if days*24 < 1 {
		return time.Duration(days * 24 * float64(time.Hour)).Round(time.Second).String()
	}
	if days < 2 {
		return fmt.Sprintf("%.0f hours", days*24)
	}
	return fmt.Sprintf("%.0f days", days)
}

// Terms lists a profile's terms for review, the newest first.
func (p *Profile) Terms() []Term {
	var out []Term
	for key, t := range p.Access {
		vr, ns, _ := strings.Cut(key, "|")
		out = append(out, Term{Kind: "access", Value: vr + " " + where(ns), Last: time.Unix(t, 0).UTC()})
	}
	for k, t := range p.Sources {
		out = append(out, Term{Kind: "source", Value: k, Last: time.Unix(t, 0).UTC()})
	}
	for k, t := range p.Agents {
		out = append(out, Term{Kind: "agent", Value: k, Last: time.Unix(t, 0).UTC()})
	}
	slices.SortFunc(out, func(a, b Term) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), strings.Compare(a.Value, b.Value))
	})
	return out
}

// index rebuilds what is not stored: the namespaces of each access.
func (p *Profile) index() {
	p.Spread = map[string]int32{}
	for key := range p.Access {
		vr, _, _ := strings.Cut(key, "|")
		p.Spread[vr]++
	}
}

// Term is one learned behaviour.
type Term struct {
	Kind  string    `json:"kind"`
	Value string    `json:"value"`
	Last  time.Time `json:"lastSeen"`
}
