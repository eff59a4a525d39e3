// Package backup holds the controls on whether a cluster could be
// restored: a backup schedule at all, every namespace holding state is covered by a Velero
// Schedule or a K10 Policy, its backups succeed and are recent, kept long
// enough and encrypted where they are stored, and restores are tried.
package backup

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubeguard/kubeguard/pkg/config"
	"github.com/kubeguard/kubeguard/pkg/control"
	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/rbac"
)

// The kinds the controls read, by API group.
const (
	velero     = "velero.io/"
	k10Config  = "config.kio.kasten.io/"
	k10Actions = "actions.kio.kasten.io/"
)

// Controls returns the backup controls with the configuration's
// recovery window, restore test period and staleness factor.
func Controls(cfg config.BackupConfig) []*control.Control {
	cfg = cfg.WithDefaults()
	return []*control.Control{noBackup, uncovered, veleroOnly(volumesSkipped), veleroOnly(lastFailed), veleroOnly(stale(cfg.StaleFactor)),
		veleroOnly(ttlShort(cfg.RecoveryWindow.Duration)), veleroOnly(storageUnencrypted), veleroOnly(credentialsExposed),
		veleroOnly(sameRegion), restoreUntested(cfg.RestoreTested.Duration)}
}

// veleroOnly limits a control on Schedules or BackupStorageLocations to
// Velero's: other tools have kinds of the same names.
func veleroOnly(c *control.Control) *control.Control {
	only := *c
	only.Check = func(p *control.Pass) {
		if strings.HasPrefix(p.Object.Ref.APIVersion, velero) {
			c.Check(p)
		}
	}
	return &only
}

func days(d time.Duration) string {
	if n := int(d.Hours() / 24); n >= 1 {
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", n)
	}
	return d.Round(time.Minute).String()
}

func str(o *object.Object, path ...string) string {
	s, _, _ := unstructured.NestedString(o.Content, path...)
	return s
}

func strs(o *object.Object, path ...string) []string {
	s, _, _ := unstructured.NestedStringSlice(o.Content, path...)
	return s
}

func timeAt(o *object.Object, path ...string) time.Time {
	t, _ := time.Parse(time.RFC3339, str(o, path...))
	return t
}

func of(inv *inventory.Inventory, kind, group string) []*object.Object {
	var out []*object.Object
	for _, e := range inv.OfKind(kind) {
		if strings.HasPrefix(e.Object.Ref.APIVersion, group) {
			out = append(out, e.Object)
		}
	}
	return out
}

// state lists the namespaces holding state: PersistentVolumeClaims, or
// StatefulSets that claim volumes, each with its labels.
type state map[string][]claim

type claim struct {
	kind   string
	labels map[string]string
}

func stateful(inv *inventory.Inventory) state {
	return inv.Memo("backup/state", []string{"PersistentVolumeClaim", "StatefulSet"}, func(inv *inventory.Inventory) any {
		st := state{}
		for _, e := range inv.OfKind("PersistentVolumeClaim") {
			st[e.Object.Ref.Namespace] = append(st[e.Object.Ref.Namespace], claim{"PersistentVolumeClaim", e.Object.Metadata("labels")})
		}
		for _, e := range inv.OfKind("StatefulSet") {
			if t, _, _ := unstructured.NestedSlice(e.Object.Content, "spec", "volumeClaimTemplates"); len(t) > 0 {
				var lbls map[string]string // its claims carry the pods' labels
				if e.Workload != nil {
					lbls = e.Workload.Meta.Labels
				}
				st[e.Object.Ref.Namespace] = append(st[e.Object.Ref.Namespace], claim{"StatefulSet", lbls})
			}
		}
		return st
	}).(state)
}

// describe says what state a namespace holds: "2 PersistentVolumeClaims
// and 1 StatefulSet claiming volumes".
func describe(claims []claim) string {
	n := map[string]int{}
	for _, c := range claims {
		n[c.kind]++
	}
	var parts []string
	for _, k := range []string{"PersistentVolumeClaim", "StatefulSet"} {
		switch {
		case n[k] == 1 && k == "StatefulSet":
			parts = append(parts, "1 StatefulSet claiming volumes")
		case n[k] == 1:
			parts = append(parts, "1 "+k)
		case n[k] > 1 && k == "StatefulSet":
			parts = append(parts, fmt.Sprintf("%d StatefulSets claiming volumes", n[k]))
		case n[k] > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", n[k], k))
		}
	}
	return strings.Join(parts, " and ")
}

// covers reports whether a Velero Schedule backs up the volumes'
// objects of a namespace, with Velero's semantics: included namespaces
// (empty or * for all, globs allowed), excluded namespaces winning, the
// label selector or any of orLabelSelectors matching the claim, and PVCs
// among the included resources. Paused schedules cover nothing.
func covers(s *object.Object, ns string, claims []claim) bool {
	if paused, _, _ := unstructured.NestedBool(s.Content, "spec", "paused"); paused {
		return false
	}
	inc, exc := strs(s, "spec", "template", "includedNamespaces"), strs(s, "spec", "template", "excludedNamespaces")
	if slices.ContainsFunc(exc, func(p string) bool { return glob(p, ns) }) {
		return false
	}
	if len(inc) > 0 && !slices.ContainsFunc(inc, func(p string) bool { return glob(p, ns) }) {
		return false
	}
	if res := strs(s, "spec", "template", "includedResources"); len(res) > 0 &&
		!slices.ContainsFunc(res, func(r string) bool { return r == "*" || r == "persistentvolumeclaims" || r == "pvc" }) {
		return false
	}
	if slices.ContainsFunc(strs(s, "spec", "template", "excludedResources"), func(r string) bool { return r == "persistentvolumeclaims" || r == "pvc" }) {
		return false
	}
	var sels []labels.Selector
	if m, ok, _ := unstructured.NestedMap(s.Content, "spec", "template", "labelSelector"); ok {
		sels = append(sels, selector(m))
	}
	ors, _, _ := unstructured.NestedSlice(s.Content, "spec", "template", "orLabelSelectors")
	for _, o := range ors {
		if m, ok := o.(map[string]any); ok {
			sels = append(sels, selector(m))
		}
	}
	if len(sels) == 0 {
		return true
	}
	for _, c := range claims {
		for _, sel := range sels {
			if sel.Matches(labels.Set(c.labels)) {
				return true
			}
		}
	}
	return false
}

// coversK10 reports whether a K10 Policy with a backup action protects a
// namespace: its selector matched against the namespace's labels and
// k10.kasten.io/appNamespace, which K10 gives every application (an
// empty selector selects every application).
func coversK10(p *object.Object, ns string, nsLabels map[string]string) bool {
	actions, _, _ := unstructured.NestedSlice(p.Content, "spec", "actions")
	backs := false
	for _, a := range actions {
		if m, ok := a.(map[string]any); ok && m["action"] == "backup" {
			backs = true
		}
	}
	if !backs {
		return false
	}
	if paused, _, _ := unstructured.NestedBool(p.Content, "spec", "paused"); paused {
		return false
	}
	m, _, _ := unstructured.NestedMap(p.Content, "spec", "selector")
	set := labels.Set{"k10.kasten.io/appNamespace": ns}
	for k, v := range nsLabels {
		set[k] = v
	}
	return selector(m).Matches(set)
}

func selector(m map[string]any) labels.Selector {
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
		return labels.Nothing()
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return labels.Nothing()
	}
	return sel
}

// glob matches Velero's namespace patterns: * for any run of characters.
func glob(pattern, name string) bool {
	if pattern == "*" || pattern == name {
		return true
	}
	if !strings.Contains(pattern, "*") {
		return false
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	rest := name[len(parts[0]):]
	for i, part := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(rest, part)
		}
		j := strings.Index(rest, part)
		if j < 0 {
			return false
		}
		rest = rest[j+len(part):]
	}
	return true
}

// Coverage says what protects a namespace holding state: the schedules
// and policies that cover it.
func Coverage(inv *inventory.Inventory, ns string) []string {
	var out []string
	var nsLabels map[string]string
	if e, ok := inv.Get("Namespace", "", ns); ok {
		nsLabels = e.Object.Metadata("labels")
	}
	claims := stateful(inv)[ns]
	for _, s := range of(inv, "Schedule", velero) {
		if covers(s, ns, claims) {
			out = append(out, "Schedule "+s.Ref.Namespace+"/"+s.Ref.Name)
		}
	}
	for _, p := range of(inv, "Policy", k10Config) {
		if coversK10(p, ns, nsLabels) {
			out = append(out, "K10 Policy "+p.Ref.Namespace+"/"+p.Ref.Name)
		}
	}
	return out
}

// StatefulNamespaces lists the namespaces holding state, sorted.
func StatefulNamespaces(inv *inventory.Inventory) []string {
	var out []string
	for ns := range stateful(inv) {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

var refs = control.Refs("NIST:4.5.1", "MITRE:T1485", "MITRE:T1490")

// schedules are the backup schedules and policies of the inventory.
func schedules(inv *inventory.Inventory) int {
	return len(of(inv, "Schedule", velero)) + len(of(inv, "Policy", k10Config))
}

var noBackup = &control.Control{
	ID:       "CLUSTER-NO-BACKUP",
	Title:    "No backup schedule found",
	Severity: finding.Info,
	Category: "cluster",
	Rationale: "Without scheduled backups of cluster state and volumes, ransomware or an operator error " +
		"cannot be recovered from.",
	Remediation: "Schedule backups (for example a Velero Schedule) and test restores regularly.",
	Refs:        control.Refs("NIST:4.5.1", "MITRE:T1485"),
	Scope:       control.InventoryScope,
	Reads:       []string{"Schedule", "Policy"},
	Kinds:       []string{"Cluster"},
	ClusterOnly: true,
	Check: func(p *control.Pass) {
		if schedules(p.Inventory) == 0 {
			p.Report("metadata", "no Velero Schedule or K10 Policy (the backup schedules kubeguard knows) was found")
		}
	},
}

var uncovered = &control.Control{
	ID:       "BACKUP-NAMESPACE-UNCOVERED",
	Title:    "Namespace holding state is not backed up",
	Severity: finding.Medium,
	Category: "backup",
	Rationale: "A namespace with PersistentVolumeClaims holds data that only a backup brings back after a deletion, " +
		"ransomware or a lost volume; a schedule that does not select it protects nothing of it.",
	Remediation: "Include the namespace in a Velero Schedule (includedNamespaces, and a labelSelector that matches its claims) " +
		"or select it in a K10 Policy with a backup action.",
	Refs:               refs,
	Kinds:              []string{"Namespace"},
	Scope:              control.InventoryScope,
	Reads:              []string{"PersistentVolumeClaim", "StatefulSet", "Schedule", "Policy"},
	ReadsAllNamespaces: true,
	ClusterOnly:        true,
	Check: func(p *control.Pass) {
		ns := p.Object.Ref.Name
		claims := stateful(p.Inventory)[ns]
		if len(claims) == 0 || len(Coverage(p.Inventory, ns)) > 0 {
			return
		}
		n := schedules(p.Inventory)
		p.Report("metadata.name", "namespace %s holds state (%s) that none of the cluster's %d backup schedules and policies covers", ns, describe(claims), n)
	},
}

// intervals of a schedule's cron expression, as Velero parses it.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func interval(s *object.Object, at time.Time) (time.Duration, error) {
	sched, err := parser.Parse(str(s, "spec", "schedule"))
	if err != nil {
		return 0, err
	}
	next := sched.Next(at)
	return sched.Next(next).Sub(next), nil
}

// backupsOf lists a schedule's Backups (Velero labels them with it),
// newest first.
func backupsOf(inv *inventory.Inventory, s *object.Object) []*object.Object {
	var out []*object.Object
	for _, b := range of(inv, "Backup", velero) {
		if b.Ref.Namespace == s.Ref.Namespace && b.Metadata("labels")["velero.io/schedule-name"] == s.Ref.Name {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b *object.Object) int { return started(b).Compare(started(a)) })
	return out
}

func started(b *object.Object) time.Time {
	if t := timeAt(b, "status", "startTimestamp"); !t.IsZero() {
		return t
	}
	return timeAt(b, "metadata", "creationTimestamp")
}

var failedPhases = []string{"Failed", "PartiallyFailed", "FailedValidation", "FinalizingPartiallyFailed"}

var volumesSkipped = &control.Control{
	ID:       "BACKUP-VOLUMES-SKIPPED",
	Title:    "Backup schedule leaves out the volumes of namespaces it covers",
	Severity: finding.Medium,
	Category: "backup",
	Rationale: "A schedule with snapshotVolumes false and no file-system backup saves the claims' definitions but not " +
		"their data: the restore brings back empty volumes.",
	Remediation:        "Remove snapshotVolumes: false, or set defaultVolumesToFsBackup: true (or snapshotMoveData) in the schedule's template.",
	Refs:               refs,
	Kinds:              []string{"Schedule"},
	Scope:              control.InventoryScope,
	Reads:              []string{"PersistentVolumeClaim", "StatefulSet"},
	ReadsAllNamespaces: true,
	Check: func(p *control.Pass) {
		snap, set, _ := unstructured.NestedBool(p.Object.Content, "spec", "template", "snapshotVolumes")
		fs, _, _ := unstructured.NestedBool(p.Object.Content, "spec", "template", "defaultVolumesToFsBackup")
		move, _, _ := unstructured.NestedBool(p.Object.Content, "spec", "template", "snapshotMoveData")
		if !set || snap || fs || move {
			return
		}
		var hit []string
		for _, ns := range StatefulNamespaces(p.Inventory) {
			if covers(p.Object, ns, stateful(p.Inventory)[ns]) {
				hit = append(hit, ns)
			}
		}
		if len(hit) > 0 {
			p.Report("spec.template.snapshotVolumes", "snapshotVolumes is false with no file-system backup: the volumes of %s are not backed up", strings.Join(hit, ", "))
		}
	},
}

var lastFailed = &control.Control{
	ID:       "BACKUP-FAILED",
	Title:    "Last backup of a schedule failed",
	Severity: finding.High,
	Category: "backup",
	Rationale: "A failed or partially failed backup leaves the data it missed without a recent copy; until a backup " +
		"succeeds, a restore goes back to the last good one.",
	Remediation: "Read the backup's logs (velero backup logs NAME, velero backup describe NAME --details), fix the cause " +
		"(storage location, volume snapshots, node agents) and run the schedule again (velero backup create --from-schedule).",
	Refs:               refs,
	Kinds:              []string{"Schedule"},
	Scope:              control.InventoryScope,
	Reads:              []string{"Backup"},
	ReadsAllNamespaces: true,
	ClusterOnly:        true,
	Check: func(p *control.Pass) {
		for _, b := range backupsOf(p.Inventory, p.Object) {
			phase := str(b, "status", "phase")
			if phase == "" || phase == "New" || phase == "InProgress" || strings.HasPrefix(phase, "WaitingFor") || phase == "Finalizing" {
				continue // still running: the one before speaks
			}
			if slices.Contains(failedPhases, phase) {
				p.Report("status", "the last backup of schedule %s, %s (started %s), is %s with %d errors",
					p.Object.Ref.Name, b.Ref.Name, started(b).UTC().Format(time.RFC3339), phase, errorsOf(b))
			}
			return
		}
	},
}

func errorsOf(b *object.Object) int64 {
	n, _, _ := unstructured.NestedInt64(b.Content, "status", "errors")
	return n
}

func stale(factor float64) *control.Control {
	return &control.Control{
		ID:       "BACKUP-STALE",
		Title:    "No recent successful backup of a schedule",
		Severity: finding.High,
		Category: "backup",
		Rationale: fmt.Sprintf("A schedule whose last completed backup is older than %g of its intervals has stopped protecting "+
			"anything newer: a restore loses everything since.", factor),
		Remediation: "Find why backups stop or fail (velero schedule describe, velero backup logs), unpause the schedule, and " +
			"make sure the Velero server and its storage location are available.",
		Refs:               refs,
		Kinds:              []string{"Schedule"},
		Scope:              control.InventoryScope,
		Reads:              []string{"Backup"},
		ReadsAllNamespaces: true,
		ClusterOnly:        true,
		Check: func(p *control.Pass) {
			t := p.Clock()
			if paused, _, _ := unstructured.NestedBool(p.Object.Content, "spec", "paused"); paused {
				p.Report("spec.paused", "schedule %s is paused: it takes no backups", p.Object.Ref.Name)
				return
			}
			every, err := interval(p.Object, t)
			if err != nil {
				p.Report("spec.schedule", "schedule %q cannot be read (%v): no backup can be expected", str(p.Object, "spec", "schedule"), err)
				return
			}
			due := time.Duration(float64(every) * factor)
			var last time.Time
			for _, b := range backupsOf(p.Inventory, p.Object) {
				if str(b, "status", "phase") == "Completed" {
					last = timeAt(b, "status", "completionTimestamp")
					if last.IsZero() {
						last = started(b)
					}
					break
				}
			}
			switch created := timeAt(p.Object, "metadata", "creationTimestamp"); {
			case last.IsZero() && !created.IsZero() && t.Sub(created) < due:
				// new: its first backup is not due yet
			case last.IsZero():
				p.Report("status.lastBackup", "schedule %s (every %s) has no completed backup", p.Object.Ref.Name, days(every))
			case t.Sub(last) > due:
				p.Report("status.lastBackup", "the last completed backup of schedule %s was %s ago, more than %g of its intervals (%s)",
					p.Object.Ref.Name, days(t.Sub(last)), factor, days(every))
			}
		},
	}
}

func ttlShort(window time.Duration) *control.Control {
	return &control.Control{
		ID:       "BACKUP-TTL-SHORT",
		Title:    "Backups are kept for less than the recovery window",
		Severity: finding.Low,
		Category: "backup",
		Rationale: fmt.Sprintf("A backup deleted before the recovery window (%s, backup.recoveryWindow) has passed cannot bring back "+
			"data lost, or encrypted by ransomware, earlier than its TTL.", days(window)),
		Remediation: "Raise the schedule's template.ttl to the recovery window or more (Velero's default is 720h).",
		Refs:        refs,
		Kinds:       []string{"Schedule"},
		Check: func(p *control.Pass) {
			v := str(p.Object, "spec", "template", "ttl")
			if v == "" {
				return // Velero's default, 30 days
			}
			ttl, err := time.ParseDuration(v)
			if err != nil {
				p.Report("spec.template.ttl", "ttl %q is not a duration", v)
				return
			}
			if ttl < window {
				p.Report("spec.template.ttl", "backups are kept for %s, less than the recovery window of %s", days(ttl), days(window))
			}
		},
	}
}

// encryptionKeys are the settings of each provider's storage location
// that encrypt backups with a key of the user's.
var encryptionKeys = map[string][]string{
	"aws":   {"kmsKeyId", "customerKeyEncryptionFile", "serverSideEncryption"},
	"gcp":   {"kmsKeyName"},
	"azure": {"customerKeyEncryptionFile", "encryptionScope"},
}

var storageUnencrypted = &control.Control{
	ID:       "BACKUP-STORAGE-UNENCRYPTED",
	Title:    "Backup storage location does not encrypt backups with a key of its own",
	Severity: finding.Medium,
	Category: "backup",
	Rationale: "Backups hold every Secret of the cluster. Stored without a key the cluster's owners control (KMS or a " +
		"customer key), whoever reads the bucket reads them.",
	Remediation: "Set the location's encryption setting: kmsKeyId or serverSideEncryption (aws), kmsKeyName (gcp), " +
		"customerKeyEncryptionFile or encryptionScope (azure).",
	Refs:  control.Refs("NSA:secrets", "NIST:4.1.4", "MITRE:T1530"),
	Kinds: []string{"BackupStorageLocation"},
	Check: func(p *control.Pass) {
		provider := strings.TrimPrefix(str(p.Object, "spec", "provider"), "velero.io/")
		keys, known := encryptionKeys[provider]
		if !known {
			return // a provider whose settings kubeguard does not know
		}
		cfg, _, _ := unstructured.NestedStringMap(p.Object.Content, "spec", "config")
		for _, k := range keys {
			if cfg[k] != "" {
				return
			}
		}
		p.Report("spec.config", "the %s location %s sets none of %s: backups are encrypted, if at all, with the provider's key",
			provider, p.Object.Ref.Name, strings.Join(keys, ", "))
	},
}

var sameRegion = &control.Control{
	ID:       "BACKUP-SAME-REGION",
	Title:    "Backups are stored in the cluster's own region",
	Severity: finding.Low,
	Category: "backup",
	Rationale: "A backup in the region the whole cluster runs in shares its failure domain: the outage or account " +
		"compromise that takes the cluster can take its backups too.",
	Remediation:        "Add a BackupStorageLocation in another region (or copy the bucket there) and back up to it too.",
	Refs:               refs,
	Kinds:              []string{"BackupStorageLocation"},
	Scope:              control.InventoryScope,
	Reads:              []string{"Node", "BackupStorageLocation"},
	ReadsAllNamespaces: true,
	ClusterOnly:        true,
	Check: func(p *control.Pass) {
		region := str(p.Object, "spec", "config", "region")
		if region == "" {
			return
		}
		// only what is visible: every node labelled, all in that region,
		// and no other location elsewhere
		nodes := p.Inventory.OfKind("Node")
		if len(nodes) == 0 {
			return
		}
		for _, n := range nodes {
			if n.Object.Metadata("labels")["topology.kubernetes.io/region"] != region {
				return
			}
		}
		for _, l := range of(p.Inventory, "BackupStorageLocation", velero) {
			if r := str(l, "spec", "config", "region"); r != "" && r != region {
				return
			}
		}
		p.Report("spec.config.region", "location %s stores backups in %s, the region all %d nodes run in, and no location is elsewhere", p.Object.Ref.Name, region, len(nodes))
	},
}

// broadGroups are the groups that hold every user, or every workload.
var broadGroups = map[string]bool{"system:authenticated": true, "system:unauthenticated": true, "system:serviceaccounts": true}

var credentialsExposed = &control.Control{
	ID:       "BACKUP-CREDENTIALS-EXPOSED",
	Title:    "Backup storage credentials are readable beyond Velero",
	Severity: finding.High,
	Category: "backup",
	Rationale: "The Secret a BackupStorageLocation uses opens the bucket that holds every backup, every Secret of the " +
		"cluster among them, and lets its holder delete them. Whoever may read it from the API has all of that.",
	Remediation: "Grant get, list and watch on Secrets in Velero's namespace to Velero's ServiceAccount alone: narrow the " +
		"Roles and bindings the finding names, or give them resourceNames that leave the credential out.",
	Refs:               control.Refs("CIS:5.1.2", "NSA:secrets", "MITRE:T1552.007", "MITRE:T1530"),
	Kinds:              []string{"BackupStorageLocation"},
	Scope:              control.InventoryScope,
	Reads:              []string{"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"},
	ReadsAllNamespaces: true,
	ClusterOnly:        true,
	Check: func(p *control.Pass) {
		ns := p.Object.Ref.Namespace
		name := str(p.Object, "spec", "credential", "name")
		if name == "" {
			name = "cloud-credentials" // the Secret Velero's server reads by default
		}
		m := rbac.Of(p.Inventory)
		seen := map[string]bool{}
		var who []string
		for _, verb := range []string{"get", "list", "watch"} {
			r := rbac.Request{Verb: verb, Resource: "secrets", Namespace: ns}
			if verb == "get" {
				r.Name = name
			}
			for _, g := range m.WhoCan(r) {
				s := g.Subject
				switch {
				case g.Role != nil && g.Role.Object.Name == "cluster-admin":
					continue // administrators read everything anyway
				case g.Role != nil && strings.HasPrefix(g.Role.Object.Ref.Name, "system:") &&
					(g.Role.Builtin || g.Role.Object.Metadata("labels")["kubernetes.io/bootstrapping"] == "rbac-defaults"):
					continue // the API server's default roles of its own controllers
				case s.Kind == rbacv1.ServiceAccountKind && s.Namespace == ns:
					continue // Velero's own accounts
				case s.Kind != rbacv1.ServiceAccountKind && strings.HasPrefix(s.Name, "system:") && !broadGroups[s.Name] && !strings.HasPrefix(s.Name, "system:serviceaccounts:"):
					continue // the control plane's own identities
				}
				k := rbac.SubjectString(s)
				if !seen[k] {
					seen[k] = true
					who = append(who, fmt.Sprintf("%s (%s secrets through %s %s)", k, verb, g.Binding.Object.Kind, g.Binding.Object.Name))
				}
			}
		}
		if len(who) > 0 {
			slices.Sort(who)
			p.Report("spec.credential", "the credentials Secret %s/%s of location %s can be read by %s", ns, name, p.Object.Ref.Name, strings.Join(who, ", "))
		}
	},
}

func restoreUntested(within time.Duration) *control.Control {
	return &control.Control{
		ID:       "BACKUP-RESTORE-UNTESTED",
		Title:    "No successful restore was tried recently",
		Severity: finding.Medium,
		Category: "backup",
		Rationale: fmt.Sprintf("A backup never restored is a hope: credentials, storage classes or a changed API break restores "+
			"silently. The guidance asks for disaster recovery that is automated and tested; here, a completed restore "+
			"within %s (backup.restoreTested).", days(within)),
		Remediation: "Restore a recent backup into a scratch namespace or cluster (velero restore create --from-backup NAME " +
			"--namespace-mappings ns:ns-restore-test) on a schedule, and check the application.",
		Refs:               refs,
		Kinds:              []string{"Cluster"},
		Scope:              control.InventoryScope,
		Reads:              []string{"Restore", "RestoreAction", "Schedule", "Policy"},
		ReadsAllNamespaces: true,
		ClusterOnly:        true,
		Check: func(p *control.Pass) {
			inv := p.Inventory
			if schedules(inv) == 0 {
				return // CLUSTER-NO-BACKUP speaks
			}
			t := p.Clock()
			var last, lastGood time.Time
			var lastName, lastPhase string
			note := func(name, phase string, done time.Time, good bool) {
				if done.After(last) {
					last, lastName, lastPhase = done, name, phase
				}
				if good && done.After(lastGood) {
					lastGood = done
				}
			}
			for _, r := range of(inv, "Restore", velero) {
				done := timeAt(r, "status", "completionTimestamp")
				phase := str(r, "status", "phase")
				if !done.IsZero() {
					note("Restore "+r.Ref.Namespace+"/"+r.Ref.Name, phase, done, phase == "Completed")
				}
			}
			for _, r := range of(inv, "RestoreAction", k10Actions) {
				done := timeAt(r, "status", "endTime")
				state := str(r, "status", "state")
				if !done.IsZero() {
					note("K10 RestoreAction "+r.Ref.Namespace+"/"+r.Ref.Name, state, done, state == "Complete")
				}
			}
			good := func() string {
				if lastGood.IsZero() {
					return "no restore has succeeded"
				}
				return fmt.Sprintf("the last successful restore was %s ago", days(t.Sub(lastGood)))
			}
			switch {
			case last.IsZero():
				p.Report("metadata", "no restore was ever completed from the cluster's backups")
			case last.After(lastGood):
				p.Report("metadata", "the last restore, %s (%s ago), is %s; %s", lastName, days(t.Sub(last)), lastPhase, good())
			case t.Sub(lastGood) > within:
				p.Report("metadata", "%s, longer than the %s backup.restoreTested allows", good(), days(within))
			}
		},
	}
}

// Recovery is what would bring a namespace holding state back.
type Recovery struct {
	Namespace string `json:"namespace"`
	// State says what the namespace holds ("1 PersistentVolumeClaim").
	State string `json:"state"`
	// CoveredBy are the schedules and policies that back it up.
	CoveredBy []string `json:"coveredBy"`
	// LastBackup is the newest completed backup of a Velero schedule
	// covering it, and its name; K10 keeps its own record.
	LastBackup     time.Time `json:"lastBackup,omitzero"`
	LastBackupName string    `json:"lastBackupName,omitempty"`
	// LastRestore is the newest completed restore that included it.
	LastRestore     time.Time `json:"lastRestore,omitzero"`
	LastRestoreName string    `json:"lastRestoreName,omitempty"`
}

// Recoveries lists, per namespace holding state, what covers it, its last
// good backup and its last successful restore.
func Recoveries(inv *inventory.Inventory) []Recovery {
	var out []Recovery
	st := stateful(inv)
	for _, ns := range StatefulNamespaces(inv) {
		r := Recovery{Namespace: ns, State: describe(st[ns]), CoveredBy: Coverage(inv, ns)}
		for _, s := range of(inv, "Schedule", velero) {
			if !covers(s, ns, st[ns]) {
				continue
			}
			for _, b := range backupsOf(inv, s) {
				if str(b, "status", "phase") != "Completed" {
					continue
				}
				if t := timeAt(b, "status", "completionTimestamp"); t.After(r.LastBackup) {
					r.LastBackup, r.LastBackupName = t, b.Ref.Name
				}
				break
			}
		}
		for _, rs := range of(inv, "Restore", velero) {
			inc := strs(rs, "spec", "includedNamespaces")
			if str(rs, "status", "phase") != "Completed" || (len(inc) > 0 && !slices.ContainsFunc(inc, func(p string) bool { return glob(p, ns) })) {
				continue
			}
			if t := timeAt(rs, "status", "completionTimestamp"); t.After(r.LastRestore) {
				r.LastRestore, r.LastRestoreName = t, rs.Ref.Name
			}
		}
		out = append(out, r)
	}
	return out
}
