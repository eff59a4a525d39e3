package inventory

import (
	"iter"
	"slices"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// templated are the kinds whose pod template covers the objects they
// control: findings on an owned ReplicaSet or pod would repeat those on
// its controller. Objects read from a cluster, or from a dump of one
// (kubectl get -o json), are folded into such controllers.
var templated = map[string]bool{"ReplicaSet": true, "ReplicationController": true, "Deployment": true,
	"StatefulSet": true, "DaemonSet": true, "Job": true, "CronJob": true}

// FoldsOwned reports whether objects of kind fold the objects they control.
func FoldsOwned(kind string) bool { return templated[kind] }

// UID returns an object's metadata.uid: set on objects that come from a
// cluster, empty in hand-written manifests.
func UID(o *object.Object) string { return UIDOf(o.Content) }

// UIDOf returns the metadata.uid of object content.
func UIDOf(content map[string]any) string {
	md, _ := content["metadata"].(map[string]any)
	u, _ := md["uid"].(string)
	return u
}

// Controller returns the kind and uid of the owner reference that
// controls o, if any.
func Controller(o *object.Object) (kind, uid string) {
	ref, controller := owner(o)
	if !controller {
		return "", ""
	}
	kind, _ = ref["kind"].(string)
	uid, _ = ref["uid"].(string)
	return kind, uid
}

// Owner returns the owner reference that controls o, or its first owner
// when none is marked controller; ok is false without a kind and name.
func Owner(o *object.Object) (kind, name, uid string, ok bool) {
	ref, _ := owner(o)
	kind, _ = ref["kind"].(string)
	name, _ = ref["name"].(string)
	uid, _ = ref["uid"].(string)
	return kind, name, uid, kind != "" && name != ""
}

// owner returns the controller reference of o, or its first owner
// reference (controller false), or nil.
func owner(o *object.Object) (ref map[string]any, controller bool) {
	md, _ := o.Content["metadata"].(map[string]any)
	refs, _ := md["ownerReferences"].([]any)
	for _, r := range refs {
		m, _ := r.(map[string]any)
		if c, _ := m["controller"].(bool); c {
			return m, true
		}
		if ref == nil {
			ref = m
		}
	}
	return ref, false
}

// Owners returns the uids of the objects that fold what they control
// (see FoldsOwned).
func Owners(objs iter.Seq[*object.Object]) map[string]bool {
	uids := map[string]bool{}
	for o := range objs {
		if u := UID(o); u != "" && templated[o.Kind] {
			uids[u] = true
		}
	}
	return uids
}

// Folded reports whether o's controller is one of owners: its findings
// are those of the controller's pod template, reported there once. A
// static pod's mirror, controlled by its Node, is never folded.
func Folded(o *object.Object, owners map[string]bool) bool {
	if len(owners) == 0 {
		return false
	}
	_, uid := Controller(o)
	return uid != "" && owners[uid]
}

// Fold drops the objects whose controller is also among objs (see Folded).
func Fold(objs []*object.Object) []*object.Object {
	uids := Owners(slices.Values(objs))
	var out []*object.Object
	for _, o := range objs {
		if !Folded(o, uids) {
			out = append(out, o)
		}
	}
	return out
}
