package imagescan

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
)

// Running maps the containers of a cluster's workloads to the images
// their pods run: pods are folded into their controllers, so a workload's
// container is tied to the digests of the pods whose container of the
// same name runs the same image field in its namespace.
type Running struct {
	refs map[string][]string
	// Unpinned counts running containers whose status names no
	// repository digest: their images cannot be scanned.
	Unpinned int
}

// RunningImages reads the digests the kubelet reports in pod status
// (repo@sha256:..., with a docker-pullable:// prefix under dockershim). A
// bare sha256: is the image's configuration, which no registry serves.
func RunningImages(pods []corev1.Pod) *Running {
	r := &Running{refs: map[string][]string{}}
	for _, p := range pods {
		spec := map[string]string{}
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			spec[c.Name] = c.Image
		}
		for _, c := range p.Spec.EphemeralContainers {
			spec[c.Name] = c.Image
		}
		for _, st := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses, p.Status.EphemeralContainerStatuses) {
			ref := digestRef(st.Image, st.ImageID)
			if ref == "" {
				if st.ImageID != "" || st.Image != "" {
					r.Unpinned++
				}
				continue
			}
			key := p.Namespace + "\x00" + st.Name + "\x00" + spec[st.Name]
			if !slices.Contains(r.refs[key], ref) {
				r.refs[key] = append(r.refs[key], ref)
			}
		}
	}
	return r
}

// Resolve gives, for Workloads, the digests a container runs.
func (r *Running) Resolve(o *object.Object, c inventory.Container) []string {
	return r.refs[o.Ref.Namespace+"\x00"+c.Name+"\x00"+c.Image]
}

// Refs are all the digests running.
func (r *Running) Refs() []string {
	var out []string
	for _, refs := range r.refs {
		for _, ref := range refs {
			if !slices.Contains(out, ref) {
				out = append(out, ref)
			}
		}
	}
	slices.Sort(out)
	return out
}

func digestRef(img, id string) string {
	id = strings.TrimPrefix(id, "docker-pullable://")
	switch {
	case strings.Contains(id, "@sha256:"):
		return id
	case strings.Contains(img, "@sha256:"):
		return img
	}
	return ""
}
