// Package dashboard serves the cluster's posture from the PolicyReports
// kubeguard's controller keeps, as the HTML report: read-only, each
// viewer authenticated by a bearer token (TokenReview) and shown only the
// namespaces whose PolicyReports they may list (SubjectAccessReview).
package dashboard

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"html"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/controller"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/report"
)

// Server answers the dashboard's requests.
type Server struct {
	Client  kubernetes.Interface // TokenReview and SubjectAccessReview
	Dynamic dynamic.Interface    // PolicyReports
	Catalog *control.Catalog
	Version string
	Log     *slog.Logger
	// ReviewTTL is how long a token's TokenReview and a user's
	// SubjectAccessReviews are reused (DefaultReviewTTL when zero): a
	// page reload costs no round trip to the API server, and a revoked
	// token or permission takes effect within it.
	ReviewTTL time.Duration

	reviewsOnce sync.Once
	reviews     *utilcache.LRUExpireCache // tokenKey -> UserInfo, accessKey -> bool
	clock       utilcache.Clock           // tests move time

	// listers serve the reports from a watch once Start has synced
	// them; without Start every request lists them.
	listers map[schema.GroupVersionResource]cache.GenericLister
	// generation counts the changes the watch has seen: a page polls
	// /changes and offers to reload when it moved.
	generation atomic.Int64
}

// Start watches the PolicyReports and ClusterPolicyReports, so that a
// request reads them from memory: decoding a list of thousands of
// results at every request would cost most of its time. It returns once
// both are synced.
func (s *Server) Start(ctx context.Context) error {
	f := dynamicinformer.NewDynamicSharedInformerFactory(s.Dynamic, 0)
	listers := map[schema.GroupVersionResource]cache.GenericLister{}
	changed := func(any) { s.generation.Add(1) }
	// the controller rewrites a report with new timestamps when nothing
	// else changed: an update counts when its findings differ
	updated := func(old, cur any) {
		o, ok1 := old.(*unstructured.Unstructured)
		c, ok2 := cur.(*unstructured.Unstructured)
		if !ok1 || !ok2 || !reflect.DeepEqual(Findings(*o), Findings(*c)) {
			s.generation.Add(1)
		}
	}
	for _, gvr := range []schema.GroupVersionResource{controller.PolicyReports, controller.ClusterPolicyReports} {
		in := f.ForResource(gvr)
		if _, err := in.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: changed,
			UpdateFunc: updated, DeleteFunc: changed}); err != nil {
			return err
		}
		listers[gvr] = in.Lister()
	}
	f.Start(ctx.Done())
	for gvr, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("watching %s: not synced", gvr.Resource)
		}
	}
	s.listers = listers
	return nil
}

// list returns the reports of a resource, from the watch or the API.
func (s *Server) list(ctx context.Context, gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
	if l, ok := s.listers[gvr]; ok {
		objs, err := l.List(labels.Everything())
		if err != nil {
			return nil, err
		}
		out := make([]unstructured.Unstructured, 0, len(objs))
		for _, o := range objs {
			if u, ok := o.(*unstructured.Unstructured); ok {
				out = append(out, *u)
			}
		}
		return out, nil
	}
	l, err := s.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// DefaultReviewTTL is ReviewTTL when unset.
const DefaultReviewTTL = 10 * time.Second

// maxReviews bounds the cached reviews: tokens and (user, namespace)
// pairs.
const maxReviews = 10000

type tokenKey [sha256.Size]byte

type accessKey struct{ user, namespace, resource string }

func (s *Server) cache() *utilcache.LRUExpireCache {
	s.reviewsOnce.Do(func() {
		if s.clock == nil {
			s.clock = clock.RealClock{}
		}
		s.reviews = utilcache.NewLRUExpireCacheWithClock(maxReviews, s.clock)
	})
	return s.reviews
}

func (s *Server) ttl() time.Duration { return cmp.Or(s.ReviewTTL, DefaultReviewTTL) }

// authenticate reviews a token, or reuses its review; only accepted
// tokens are kept, under their hash.
func (s *Server) authenticate(ctx context.Context, t string) (*authnv1.UserInfo, error) {
	key := tokenKey(sha256.Sum256([]byte(t)))
	if u, ok := s.cache().Get(key); ok {
		return u.(*authnv1.UserInfo), nil
	}
	tr, err := s.Client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: t}}, metav1.CreateOptions{})
	if err != nil || !tr.Status.Authenticated {
		return nil, err
	}
	s.cache().Add(key, &tr.Status.User, s.ttl())
	return &tr.Status.User, nil
}

// userKey names a user with everything a SubjectAccessReview is given.
func userKey(u *authnv1.UserInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q %q %q", u.Username, u.UID, u.Groups)
	for _, k := range slices.Sorted(maps.Keys(u.Extra)) {
		fmt.Fprintf(&b, " %q=%q", k, u.Extra[k])
	}
	return b.String()
}

// cookie holds a token pasted into the login form.
const cookie = "kubeguard-token"

// Handler serves / (the report), /login and /healthz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		token := strings.TrimSpace(r.FormValue("token"))
		http.SetCookie(w, &http.Cookie{Name: cookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", s.serveReport)
	mux.HandleFunc("GET /changes", s.serveChanges)
	return mux
}

// pollEvery is how often a page asks whether the reports changed.
const pollEvery = 5 * time.Second

// serveChanges answers a page's poll with the generation of the reports
// to whoever may see a page.
func (s *Server) serveChanges(w http.ResponseWriter, r *http.Request) {
	if t := token(r); t != "" {
		if user, err := s.authenticate(r.Context(), t); err == nil && user != nil {
			w.Header().Set("Cache-Control", "no-store")
			fmt.Fprintln(w, s.generation.Load())
			return
		}
	}
	http.Error(w, "sign in", http.StatusUnauthorized)
}

func token(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	if c, err := r.Cookie(cookie); err == nil {
		return c.Value
	}
	return ""
}

// login answers a request without a valid token: 401, and a form to
// paste one (kubectl create token).
func login(w http.ResponseWriter, why string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintf(w, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>kubeguard dashboard</title></head>
<body style="font:15px system-ui,sans-serif;margin:40px"><h1>kubeguard dashboard</h1><p>%s</p>
<form method="post" action="/login"><label for="token">Bearer token (kubectl create token NAME)</label><br>
<input id="token" name="token" type="password" size="60" autocomplete="off"> <button type="submit">Sign in</button></form></body></html>`, html.EscapeString(why))
}

func (s *Server) serveReport(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	t := token(r)
	if t == "" {
		login(w, "Sign in with a Kubernetes bearer token: you see the namespaces whose PolicyReports you may list.")
		return
	}
	user, err := s.authenticate(ctx, t)
	if err != nil {
		s.log().Error("TokenReview", "error", err)
		http.Error(w, "cannot review the token", http.StatusServiceUnavailable)
		return
	}
	if user == nil {
		login(w, "The token was not accepted; sign in with another.")
		return
	}
	generation := s.generation.Load() // before reading: a change while reading shows
	rep, err := s.report(ctx, user)
	if s.listers != nil && rep != nil {
		rep.Follow = &report.Follow{URL: "changes", Generation: generation, Every: pollEvery}
	}
	if err != nil {
		s.log().Error("reading PolicyReports", "user", user.Username, "error", err)
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := report.HTML(w, rep); err != nil {
		s.log().Error("writing the page", "error", err)
	}
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// report builds the report of what the user may see: the PolicyReports of
// the namespaces where they may list them, and the ClusterPolicyReport
// if they may list those.
func (s *Server) report(ctx context.Context, user *authnv1.UserInfo) (*report.Report, error) {
	who := userKey(user)
	may := func(ns, resource string) (bool, error) {
		key := accessKey{who, ns, resource}
		if ok, seen := s.cache().Get(key); seen {
			return ok.(bool), nil
		}
		extra := map[string]authzv1.ExtraValue{}
		for k, v := range user.Extra {
			extra[k] = authzv1.ExtraValue(v)
		}
		sar, err := s.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User: user.Username, Groups: user.Groups, UID: user.UID, Extra: extra,
			ResourceAttributes: &authzv1.ResourceAttributes{Namespace: ns, Verb: "list", Group: "wgpolicyk8s.io", Resource: resource}}}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		s.cache().Add(key, sar.Status.Allowed, s.ttl())
		return sar.Status.Allowed, nil
	}
	rep := &report.Report{Tool: "kubeguard", Version: s.Version, Catalog: s.Catalog, Live: true, OnlyFailed: true, Title: "kubeguard dashboard"}
	namespaces := map[string]bool{}
	items, err := s.list(ctx, controller.PolicyReports)
	if err != nil {
		return nil, err
	}
	if ok, err := may("", "clusterpolicyreports"); err != nil {
		return nil, err
	} else if ok {
		cl, err := s.list(ctx, controller.ClusterPolicyReports)
		if err != nil {
			return nil, err
		}
		items = append(items, cl...)
	}
	for _, it := range items {
		if ns := it.GetNamespace(); ns != "" {
			ok, err := may(ns, "policyreports")
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			namespaces[ns] = true
		}
		rep.Findings = append(rep.Findings, Findings(it)...)
	}
	// the objects the reports name, for the compliance view and the Pod
	// Security level of each namespace's workloads: PolicyReports name
	// no object that passed
	seen := map[object.Ref]bool{}
	for _, f := range rep.Findings {
		if o := f.Object; o.Kind != "" && !seen[o] {
			seen[o] = true
			rep.Checked = append(rep.Checked, report.Checked{Ref: o, Workload: o.Namespace != "" && (o.Kind == "Pod" || inventory.FoldsOwned(o.Kind))})
		}
	}
	rep.Objects = len(rep.Checked)
	noun := "namespaces"
	if len(namespaces) == 1 {
		noun = "namespace"
	}
	rep.Scanned = fmt.Sprintf("the PolicyReports of %d %s %s may list", len(namespaces), noun, user.Username)
	return rep, nil
}

// Findings reads back the results of a PolicyReport kubeguard wrote.
func Findings(u unstructured.Unstructured) []*finding.Finding {
	// read in place: the reports come from the watch's cache, and a deep
	// copy of every result was most of a request's time
	results, _ := u.Object["results"].([]any)
	var out []*finding.Finding
	for _, res := range results {
		m, ok := res.(map[string]any)
		if !ok || m["source"] != "kubeguard" || m["result"] != "fail" {
			continue
		}
		sev, _ := finding.ParseSeverity(fmt.Sprint(m["severity"]))
		f := &finding.Finding{ControlID: fmt.Sprint(m["policy"]), Severity: sev, Message: fmt.Sprint(m["message"])}
		if rs, _ := m["resources"].([]any); len(rs) > 0 {
			if r, ok := rs[0].(map[string]any); ok {
				str := func(k string) string { s, _ := r[k].(string); return s }
				f.Object = object.Ref{APIVersion: str("apiVersion"), Kind: str("kind"), Namespace: str("namespace"), Name: str("name")}
			}
		}
		props, _ := m["properties"].(map[string]any)
		prop := func(k string) string { s, _ := props[k].(string); return s }
		f.Path, f.Container, f.Origin = prop("path"), prop("container"), prop("origin")
		f.Position = position(prop("file"))
		out = append(out, f)
	}
	return out
}

// position parses file:line:col.
func position(s string) object.Position {
	p := object.Position{File: s}
	for _, dst := range []*int{&p.Column, &p.Line} {
		i := strings.LastIndexByte(p.File, ':')
		if i < 0 {
			break
		}
		n, err := strconv.Atoi(p.File[i+1:])
		if err != nil {
			break
		}
		*dst, p.File = n, p.File[:i]
	}
	if p.Line == 0 && p.Column != 0 {
		p.Line, p.Column = p.Column, 0
	}
	return p
}
