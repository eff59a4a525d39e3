package backup

import (
	"testing"
	"time"

	"github.com/kubeguard/kubeguard/pkg/object"
)

func schedule(template map[string]any) *object.Object {
	return object.New(map[string]any{"apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": map[string]any{"name": "s", "namespace": "velero"},
		"spec": map[string]any{"schedule": "@every 6h", "template": template}}, object.Position{}, nil)
}

// Velero's selection: namespaces (globs, exclusion winning), resources,
// and the label selectors of the claims; a paused schedule covers nothing.
func TestCovers(t *testing.T) {
	db := []claim{{"PersistentVolumeClaim", map[string]string{"app": "db", "tier": "data"}}}
	for _, c := range []struct {
		name     string
		template map[string]any
		ns       string
		want     bool
	}{
		{"everything", map[string]any{}, "shop", true},
		{"star", map[string]any{"includedNamespaces": []any{"*"}}, "shop", true},
		{"glob", map[string]any{"includedNamespaces": []any{"sh*p"}}, "shop", true},
		{"glob miss", map[string]any{"includedNamespaces": []any{"sh*x"}}, "shop", false},
		{"other namespace", map[string]any{"includedNamespaces": []any{"web"}}, "shop", false},
		{"excluded wins", map[string]any{"includedNamespaces": []any{"*"}, "excludedNamespaces": []any{"shop"}}, "shop", false},
		{"resources without claims", map[string]any{"includedResources": []any{"deployments"}}, "shop", false},
		{"resources with claims", map[string]any{"includedResources": []any{"deployments", "persistentvolumeclaims"}}, "shop", true},
		{"claims excluded", map[string]any{"excludedResources": []any{"pvc"}}, "shop", false},
		{"selector matches", map[string]any{"labelSelector": map[string]any{"matchLabels": map[string]any{"app": "db"}}}, "shop", true},
		{"selector misses", map[string]any{"labelSelector": map[string]any{"matchLabels": map[string]any{"app": "web"}}}, "shop", false},
		{"an or-selector matches", map[string]any{"orLabelSelectors": []any{
			map[string]any{"matchLabels": map[string]any{"app": "web"}},
			map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "In", "values": []any{"data"}}}}}}, "shop", true},
	} {
		if got := covers(schedule(c.template), c.ns, db); got != c.want {
			t.Errorf("%s: covers %v, want %v", c.name, got, c.want)
		}
	}
	paused := schedule(map[string]any{})
	paused.Content["spec"].(map[string]any)["paused"] = true
	if covers(paused, "shop", db) {
		t.Error("a paused schedule covers nothing")
	}
}

// K10: an empty selector selects every application; appNamespace and the
// namespace's labels are matched; a policy without a backup action does
// not protect.
func TestCoversK10(t *testing.T) {
	policy := func(sel map[string]any, action string) *object.Object {
		return object.New(map[string]any{"apiVersion": "config.kio.kasten.io/v1alpha1", "kind": "Policy", "metadata": map[string]any{"name": "p"},
			"spec": map[string]any{"selector": sel, "actions": []any{map[string]any{"action": action}}}}, object.Position{}, nil)
	}
	byName := map[string]any{"matchExpressions": []any{map[string]any{"key": "k10.kasten.io/appNamespace", "operator": "In", "values": []any{"crm"}}}}
	byLabel := map[string]any{"matchLabels": map[string]any{"backup": "gold"}}
	for _, c := range []struct {
		name   string
		p      *object.Object
		ns     string
		labels map[string]string
		want   bool
	}{
		{"all", policy(map[string]any{}, "backup"), "crm", nil, true},
		{"by name", policy(byName, "backup"), "crm", nil, true},
		{"by name, other", policy(byName, "backup"), "shop", nil, false},
		{"by label", policy(byLabel, "backup"), "shop", map[string]string{"backup": "gold"}, true},
		{"export only", policy(map[string]any{}, "export"), "crm", nil, false},
	} {
		if got := coversK10(c.p, c.ns, c.labels); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// Intervals as Velero's cron parser reads schedules.
func TestInterval(t *testing.T) {
	at := time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)
	for expr, want := range map[string]time.Duration{"@every 6h": 6 * time.Hour, "0 2 * * *": 24 * time.Hour, "0 4 * * 0": 7 * 24 * time.Hour, "@hourly": time.Hour} {
		s := schedule(nil)
		s.Content["spec"].(map[string]any)["schedule"] = expr
		if got, err := interval(s, at); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", expr, got, err, want)
		}
	}
	s := schedule(nil)
	s.Content["spec"].(map[string]any)["schedule"] = "every day"
	if _, err := interval(s, at); err == nil {
		t.Error("a schedule that does not parse is an error")
	}
}
