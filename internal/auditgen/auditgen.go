// Package auditgen generates a realistic audit trail for tests and
// benchmarks: identities with steady habits (service accounts of
// workloads and controllers, people with kubectl in office hours), the
// benign drift real clusters show (people reaching a new namespace or
// resource, pods rescheduled), and labelled deviations injected after a
// learning period (a token read secrets it never read, used from outside,
// by kubectl, or enumerating at many times its usual rate).
package auditgen

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// Options shape the trail.
type Options struct {
	Seed       uint64
	Identities int       // default 200: three quarters service accounts
	Days       int       // default 30
	Start      time.Time // default 2026-10-01 (a Thursday) 00:00 UTC
	// InjectFrom is the first day deviations may happen (default 14);
	// Injections is how many (default 40, ten of each kind).
	InjectFrom, Injections int
	// Drift is the chance per person-day of a benign new term (default
	// 0.03).
	Drift float64
}

// Injection is one labelled deviation.
type Injection struct {
	Kind     string // access, source, agent, rate
	User     string
	At       time.Time
	Detected bool
}

// Trail is a generated audit trail's labels.
type Trail struct {
	Opts       Options
	Injections []*Injection
	Events     int
	// Users are the identities.
	Users []string
}

type identity struct {
	user, agent string
	human       bool
	ns          []string
	terms       []term
	ip          func(r *rand.Rand) string
	perHour     int
}

type term struct{ verb, group, resource, sub string }

var saTerms = [][]term{
	{{"get", "", "configmaps", ""}, {"watch", "", "configmaps", ""}, {"get", "", "secrets", ""}, {"create", "", "events", ""}},
	{{"list", "", "pods", ""}, {"watch", "", "pods", ""}, {"get", "", "services", ""}, {"update", "coordination.k8s.io", "leases", ""}, {"get", "coordination.k8s.io", "leases", ""}},
	{{"get", "apps", "deployments", ""}, {"patch", "apps", "deployments", "status"}, {"list", "apps", "replicasets", ""}, {"create", "", "events", ""}},
	{{"get", "", "endpoints", ""}, {"list", "discovery.k8s.io", "endpointslices", ""}, {"watch", "discovery.k8s.io", "endpointslices", ""}},
	{{"create", "batch", "jobs", ""}, {"get", "batch", "jobs", ""}, {"delete", "", "pods", ""}, {"list", "", "pods", ""}},
}

var humanTerms = []term{{"get", "", "pods", ""}, {"list", "", "pods", ""}, {"get", "", "pods", "log"}, {"list", "apps", "deployments", ""},
	{"get", "apps", "deployments", ""}, {"patch", "apps", "deployments", ""}, {"list", "", "services", ""}, {"list", "", "events", ""}}

var driftTerms = []term{{"get", "", "configmaps", ""}, {"list", "batch", "jobs", ""}, {"get", "networking.k8s.io", "ingresses", ""}, {"delete", "", "pods", ""}}

// Generate calls f with each event, in time order, and returns the
// labels.
func Generate(o Options, f func(*auditv1.Event)) *Trail {
	if o.Identities <= 0 {
		o.Identities = 200
	}
	if o.Days <= 0 {
		o.Days = 30
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.InjectFrom <= 0 {
		o.InjectFrom = 14
	}
	if o.InjectFrom >= o.Days {
		o.InjectFrom = o.Days / 2
	}
	if o.Injections <= 0 {
		o.Injections = 40
	}
	if o.Drift <= 0 {
		o.Drift = 0.03
	}
	r := rand.New(rand.NewPCG(o.Seed, 7))
	tr := &Trail{Opts: o}
	ids := make([]*identity, o.Identities)
	for i := range ids {
		team := fmt.Sprintf("team-%d", i%40)
		if i%4 == 3 {
			id := &identity{user: fmt.Sprintf("dev-%d@example.com", i), human: true, agent: "kubectl/v1.37.2 (linux/amd64) kubernetes/abc1234",
				ns: []string{team, fmt.Sprintf("team-%d", (i+1)%40)}, terms: humanTerms[:4+r.IntN(4)], perHour: 4 + r.IntN(12)}
			if i%3 == 0 {
				id.agent = "k9s/v0.40.5"
			}
			office, vpn := r.IntN(250)+1, r.IntN(250)+1
			id.ip = func(r *rand.Rand) string {
				if r.IntN(3) == 0 {
					return fmt.Sprintf("10.8.0.%d", vpn)
				}
				return fmt.Sprintf("192.168.1.%d", office)
			}
			ids[i] = id
			continue
		}
		id := &identity{user: fmt.Sprintf("system:serviceaccount:%s:app-%d", team, i), agent: fmt.Sprintf("app-%d/v1.%d.0", i%17, i%5),
			ns: []string{team}, terms: saTerms[i%len(saTerms)], perHour: 1 + r.IntN(30)}
		if i%10 == 0 {
			id.agent = "Go-http-client/2.0"
		}
		id.ip = func(r *rand.Rand) string { return fmt.Sprintf("10.244.%d.%d", r.IntN(20), 2+r.IntN(250)) }
		ids[i] = id
	}
	for _, id := range ids {
		tr.Users = append(tr.Users, id.user)
	}
	// injections: spread over the days after InjectFrom, each its own
	// identity
	kinds := []string{"access", "source", "agent", "rate"}
	perm := r.Perm(len(ids))
	inject := map[[2]int]*Injection{} // (identity, hour)
	for k := 0; k < o.Injections; k++ {
		idx := perm[k%len(perm)]
		kind := kinds[k%len(kinds)]
		if kind == "agent" || kind == "rate" {
			for ids[idx].human { // a workload's token used by a person, a workload enumerating
				idx = (idx + 1) % len(ids)
			}
		}
		hour := o.InjectFrom*24 + r.IntN((o.Days-o.InjectFrom)*24)
		if ids[idx].human {
			hour = hour/24*24 + 10 // in office hours
		}
		in := &Injection{Kind: kind, User: ids[idx].user, At: o.Start.Add(time.Duration(hour) * time.Hour)}
		inject[[2]int{idx, hour}] = in
		tr.Injections = append(tr.Injections, in)
	}
	n := 0
	emit := func(id *identity, at time.Time, t term, ns, ip, agent string) {
		n++
		e := &auditv1.Event{TypeMeta: metav1.TypeMeta{Kind: "Event", APIVersion: "audit.k8s.io/v1"}, Level: auditv1.LevelMetadata,
			AuditID: types.UID(fmt.Sprintf("%08x-0000-4000-8000-000000000000", n)), Stage: auditv1.StageResponseComplete,
			Verb: t.verb, User: authnv1.UserInfo{Username: id.user}, SourceIPs: []string{ip}, UserAgent: agent,
			ObjectRef:                &auditv1.ObjectReference{Resource: t.resource, Subresource: t.sub, APIGroup: t.group, APIVersion: "v1", Namespace: ns},
			ResponseStatus:           &metav1.Status{Code: 200},
			RequestReceivedTimestamp: metav1.NewMicroTime(at), StageTimestamp: metav1.NewMicroTime(at.Add(3 * time.Millisecond))}
		e.RequestURI = "/api/v1/namespaces/" + ns + "/" + t.resource
		f(e)
	}
	drift := map[int][]term{}
	for hour := 0; hour < o.Days*24; hour++ {
		base := o.Start.Add(time.Duration(hour) * time.Hour)
		for i, id := range ids {
			count := id.perHour
			in := inject[[2]int{i, hour}]
			if id.human {
				wd := base.Weekday()
				if wd == time.Saturday || wd == time.Sunday || base.Hour() < 8 || base.Hour() >= 18 {
					count = 0 // attackers keep no office hours: an injection still happens
				}
				if count > 0 && base.Hour() == 8 && r.Float64() < o.Drift { // a benign new habit, kept from now on
					d := driftTerms[r.IntN(len(driftTerms))]
					if r.IntN(2) == 0 {
						id.ns = append(id.ns, fmt.Sprintf("team-%d", r.IntN(40)))
					}
					drift[i] = append(drift[i], d)
				}
			}
			if count > 0 {
				count = max(1, count*(70+r.IntN(61))/100)
			}
			for k := 0; k < count; k++ {
				at := base.Add(time.Duration(r.Int64N(int64(time.Hour))))
				terms := append(id.terms[:len(id.terms):len(id.terms)], drift[i]...)
				t := terms[r.IntN(len(terms))]
				emit(id, at, t, id.ns[r.IntN(len(id.ns))], id.ip(r), id.agent)
			}
			if in == nil {
				continue
			}
			at := base.Add(30 * time.Minute)
			switch in.Kind {
			case "access":
				emit(id, at, term{"list", "", "secrets", ""}, "kube-system", id.ip(r), id.agent)
			case "source":
				emit(id, at, id.terms[0], id.ns[0], fmt.Sprintf("203.0.113.%d", 1+r.IntN(250)), id.agent)
			case "agent":
				emit(id, at, id.terms[0], id.ns[0], id.ip(r), "kubectl/v1.37.2 (darwin/arm64) kubernetes/abc1234")
			case "rate":
				for k := 0; k < 60*id.perHour+300; k++ {
					emit(id, at.Add(time.Duration(k)*time.Millisecond*50), id.terms[k%len(id.terms)], id.ns[0], id.ip(r), id.agent)
				}
			}
		}
	}
	tr.Events = n
	return tr
}

// Example writes the audit logs of the README's worked example: history,
// eight days of a reporting workload (sa:shop/reporter reads its
// ConfigMap from the pod network) and a person (alice, kubectl, office
// hours); and today, when the reporter's token lists Secrets in
// kube-system, from outside, with kubectl.
func Example(history, today io.Writer) error {
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	reporter := "system:serviceaccount:shop:reporter"
	n := 0
	write := func(w io.Writer, user, verb, resource, ns, name, ip, agent string, at time.Time) error {
		n++
		e := auditv1.Event{TypeMeta: metav1.TypeMeta{Kind: "Event", APIVersion: "audit.k8s.io/v1"}, Level: auditv1.LevelMetadata,
			AuditID: types.UID(fmt.Sprintf("6f1c0e2a-0000-4000-8000-%012d", n)), Stage: auditv1.StageResponseComplete,
			RequestURI: "/api/v1/namespaces/" + ns + "/" + resource, Verb: verb, User: authnv1.UserInfo{Username: user, Groups: []string{"system:authenticated"}},
			SourceIPs: []string{ip}, UserAgent: agent,
			ObjectRef:                &auditv1.ObjectReference{Resource: resource, Namespace: ns, Name: name, APIVersion: "v1"},
			ResponseStatus:           &metav1.Status{Code: 200},
			RequestReceivedTimestamp: metav1.NewMicroTime(at), StageTimestamp: metav1.NewMicroTime(at.Add(2 * time.Millisecond)),
			Annotations: map[string]string{"authorization.k8s.io/decision": "allow"}}
		if name != "" {
			e.RequestURI += "/" + name
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	for h := 0; h < 8*24; h++ {
		at := start.Add(time.Duration(h) * time.Hour)
		for k := 0; k < 4; k++ {
			if err := write(history, reporter, "get", "configmaps", "shop", "reports", fmt.Sprintf("10.244.%d.17", h%3), "reporter/v2.3.1", at.Add(time.Duration(k)*15*time.Minute)); err != nil {
				return err
			}
		}
		if wd := at.Weekday(); wd != time.Saturday && wd != time.Sunday && at.Hour() >= 9 && at.Hour() < 17 {
			if err := write(history, "alice@example.com", "list", "pods", "shop", "", "192.168.4.21", "kubectl/v1.37.2 (linux/amd64) kubernetes/7a1b2c3", at.Add(20*time.Minute)); err != nil {
				return err
			}
		}
	}
	at := start.Add(9 * 24 * time.Hour).Add(3*time.Hour + 12*time.Minute)
	for _, e := range []struct{ user, verb, resource, ns, name, ip, agent string }{
		{reporter, "get", "configmaps", "shop", "reports", "10.244.1.17", "reporter/v2.3.1"},
		{"alice@example.com", "list", "pods", "shop", "", "192.168.4.21", "kubectl/v1.37.2 (linux/amd64) kubernetes/7a1b2c3"},
		{reporter, "list", "secrets", "kube-system", "", "203.0.113.9", "kubectl/v1.37.2 (darwin/arm64) kubernetes/7a1b2c3"},
	} {
		at = at.Add(time.Minute)
		if err := write(today, e.user, e.verb, e.resource, e.ns, e.name, e.ip, e.agent, at); err != nil {
			return err
		}
	}
	return nil
}
