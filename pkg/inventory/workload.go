package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubeguard/kubeguard/pkg/object"
)

// ContainerKind distinguishes the three container lists of a pod.
type ContainerKind string

const (
	Regular   ContainerKind = "container"
	Init      ContainerKind = "initContainer"
	Ephemeral ContainerKind = "ephemeralContainer"
)

// Container is one container of a workload with the path of its entry.
type Container struct {
	*corev1.Container
	Kind ContainerKind
	// Path is the container's field path, e.g.
	// spec.template.spec.containers[1].
	Path string
	// Declared says which CPU and memory requests and limits the
	// container sets; it outlives Slim, which drops the quantities.
	Declared ResourceSet
}

// ResourceSet is a set of the resources a container sets.
type ResourceSet uint8

// The members of a ResourceSet.
const (
	CPURequest ResourceSet = 1 << iota
	MemoryRequest
	CPULimit
	MemoryLimit
)

func resourcesOf(c *corev1.Container) ResourceSet {
	var s ResourceSet
	has := func(l corev1.ResourceList, res corev1.ResourceName, bit ResourceSet) {
		if _, ok := l[res]; ok {
			s |= bit
		}
	}
	has(c.Resources.Requests, corev1.ResourceCPU, CPURequest)
	has(c.Resources.Requests, corev1.ResourceMemory, MemoryRequest)
	has(c.Resources.Limits, corev1.ResourceCPU, CPULimit)
	has(c.Resources.Limits, corev1.ResourceMemory, MemoryLimit)
	return s
}

// Field returns the path of a field of the container.
func (c Container) Field(p string) string { return paths.Join(c.Path, p) }

// Workload is the pod view of an object that runs pods, extracted once.
type Workload struct {
	// SpecPath is the path of the pod spec inside the object:
	// "spec" for a Pod, "spec.template.spec" for a Deployment,
	// "spec.jobTemplate.spec.template.spec" for a CronJob.
	SpecPath string
	// MetaPath is the path of the pod metadata (template metadata).
	MetaPath string
	// Meta is the pod's metadata: the template's labels and annotations,
	// and the object's namespace.
	Meta metav1.ObjectMeta
	Spec corev1.PodSpec
	// Containers lists init, regular and ephemeral containers in that
	// order.
	Containers []Container

	isolated []*corev1.PodSpec // see Isolated
}

// Isolated returns the pod spec with only container i (i >= 0) or with no
// containers at all (i < 0). Pod-level verdicts of whole-pod policies are
// attributed to containers with it. Each copy is made once, when first
// asked for; a workload is analysed by one goroutine at a time.
func (w *Workload) Isolated(i int) *corev1.PodSpec {
	if w.isolated == nil {
		w.isolated = make([]*corev1.PodSpec, len(w.Containers)+1)
	}
	if p := w.isolated[i+1]; p != nil {
		return p
	}
	one := w.Spec
	one.Containers, one.InitContainers, one.EphemeralContainers = nil, nil, nil
	if i >= 0 {
		switch c := w.Containers[i]; c.Kind {
		case Init:
			one.InitContainers = []corev1.Container{*c.Container}
		case Regular:
			one.Containers = []corev1.Container{*c.Container}
		case Ephemeral:
			one.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon(*c.Container)}}
		}
	}
	w.isolated[i+1] = &one
	return &one
}

// Field returns the path of a pod spec field.
func (w *Workload) Field(p string) string { return paths.Join(w.SpecPath, p) }

// candidate pod spec locations, most specific first. Any kind that carries
// a pod template at one of these places is a workload (Argo Rollouts,
// OpenKruise CloneSets, ...).
var templatePaths = []struct{ spec, meta string }{
	{"spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.metadata"},
	{"spec.template.spec", "spec.template.metadata"},
	{"template.spec", "template.metadata"}, // PodTemplate
}

// ExtractWorkload returns the pod view of o, or nil when o runs no pods.
func ExtractWorkload(o *object.Object) (*Workload, error) {
	specPath, metaPath := "", ""
	if o.Kind == "Pod" && o.Group() == "" {
		specPath, metaPath = "spec", "metadata"
	} else {
		for _, t := range templatePaths {
			if v, ok := object.Get(o.Content, t.spec); ok {
				if m, ok := v.(map[string]any); ok {
					if _, ok := m["containers"].([]any); ok {
						specPath, metaPath = t.spec, t.meta
						break
					}
				}
			}
		}
	}
	if specPath == "" {
		return nil, nil
	}
	specV, _ := object.Get(o.Content, specPath)
	specM, ok := specV.(map[string]any)
	if !ok {
		return nil, nil // a Pod without a spec runs nothing
	}
	w := &Workload{SpecPath: specPath, MetaPath: metaPath}
	var fieldErrs FieldErrors
	var convErr error
	if !convert(specM, reflect.ValueOf(&w.Spec).Elem()) {
		// Values the API server would reject (1.5 or "0" for an integer)
		// are left out, each named at its field, and the rest of the pod
		// is still analysed. apimachinery's converter would turn some of
		// them into numbers that were never written (1e20 wraps around).
		w.Spec = corev1.PodSpec{}
		content := specM
		if cleaned, _ := clean(specM, reflect.TypeFor[corev1.PodSpec](), specPath, &fieldErrs); len(fieldErrs) > 0 {
			content = cleaned.(map[string]any)
		}
		if err := convertTo(content, &w.Spec); err != nil {
			// The converter stops at the first bad value and does not say
			// where it is. encoding/json names the field and decodes the
			// rest.
			w.Spec = corev1.PodSpec{}
			data, _ := json.Marshal(content)
			if jerr := json.Unmarshal(data, &w.Spec); jerr != nil {
				convErr = fmt.Errorf("invalid pod spec: %s (the field is ignored)", jsonFieldError(specPath, jerr))
			}
		}
	}
	if mv, ok := object.Get(o.Content, metaPath); ok {
		if m, ok := mv.(map[string]any); ok {
			w.Meta.Labels = object.StringMap(m["labels"])
			w.Meta.Annotations = object.StringMap(m["annotations"])
		}
	}
	// The API server defaults a volume without a source to emptyDir before
	// admission sees it; evaluate what the cluster would evaluate.
	for i := range w.Spec.Volumes {
		if v := &w.Spec.Volumes[i].VolumeSource; reflect.ValueOf(*v).IsZero() {
			v.EmptyDir = &corev1.EmptyDirVolumeSource{}
		}
	}
	w.Meta.Namespace = o.Namespace
	w.Meta.Name = o.Name
	w.Containers = make([]Container, 0, len(w.Spec.InitContainers)+len(w.Spec.Containers)+len(w.Spec.EphemeralContainers))
	for i := range w.Spec.InitContainers {
		w.Containers = append(w.Containers, Container{&w.Spec.InitContainers[i], Init, object.Index(w.Field("initContainers"), i), resourcesOf(&w.Spec.InitContainers[i])})
	}
	for i := range w.Spec.Containers {
		w.Containers = append(w.Containers, Container{&w.Spec.Containers[i], Regular, object.Index(w.Field("containers"), i), resourcesOf(&w.Spec.Containers[i])})
	}
	for i := range w.Spec.EphemeralContainers {
		c := corev1.Container(w.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		w.Containers = append(w.Containers, Container{&c, Ephemeral, object.Index(w.Field("ephemeralContainers"), i), resourcesOf(&c)})
	}
	fieldErrs = append(fieldErrs, validateIDs(w)...)
	if len(fieldErrs) > 0 {
		return w, fieldErrs
	}
	return w, convErr
}

// jsonFieldError rewrites a JSON type error in terms of the object's
// field path.
func jsonFieldError(specPath string, err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		// drop the names of embedded Go structs (ProbeHandler, VolumeSource)
		var parts []string
		for _, p := range strings.Split(te.Field, ".") {
			if p != "" && !(p[0] >= 'A' && p[0] <= 'Z') {
				parts = append(parts, p)
			}
		}
		return fmt.Sprintf("%s.%s: expected %s, got %s", specPath, strings.Join(parts, "."), te.Type, te.Value)
	}
	return err.Error()
}

// Setting is the effective value of a security setting together with the
// path where it was set, so a finding can point at the pod-level line when
// the container inherits it.
type Setting[T any] struct {
	Value *T
	Path  string
}

// Set reports whether the setting has a value at any level.
func (s Setting[T]) Set() bool { return s.Value != nil }

// pick returns the container-level value when set, else the pod-level one:
// container settings override pod settings.
func pick[T any](ctr *T, ctrPath string, pod *T, podPath string) Setting[T] {
	if ctr != nil {
		return Setting[T]{ctr, ctrPath}
	}
	if pod != nil {
		return Setting[T]{pod, podPath}
	}
	return Setting[T]{}
}

func (w *Workload) podSC() *corev1.PodSecurityContext {
	if w.Spec.SecurityContext == nil {
		return &corev1.PodSecurityContext{}
	}
	return w.Spec.SecurityContext
}

func ctrSC(c Container) *corev1.SecurityContext {
	if c.SecurityContext == nil {
		return &corev1.SecurityContext{}
	}
	return c.SecurityContext
}

// RunAsUser is the effective UID of c.
func (w *Workload) RunAsUser(c Container) Setting[int64] {
	return pick(ctrSC(c).RunAsUser, c.Field("securityContext.runAsUser"), w.podSC().RunAsUser, w.Field("securityContext.runAsUser"))
}

// RunAsGroup is the effective primary GID of c.
func (w *Workload) RunAsGroup(c Container) Setting[int64] {
	return pick(ctrSC(c).RunAsGroup, c.Field("securityContext.runAsGroup"), w.podSC().RunAsGroup, w.Field("securityContext.runAsGroup"))
}

// RunAsNonRoot is the effective runAsNonRoot of c.
func (w *Workload) RunAsNonRoot(c Container) Setting[bool] {
	return pick(ctrSC(c).RunAsNonRoot, c.Field("securityContext.runAsNonRoot"), w.podSC().RunAsNonRoot, w.Field("securityContext.runAsNonRoot"))
}

// SeccompProfile is the effective seccomp profile of c.
func (w *Workload) SeccompProfile(c Container) Setting[corev1.SeccompProfile] {
	return pick(ctrSC(c).SeccompProfile, c.Field("securityContext.seccompProfile"), w.podSC().SeccompProfile, w.Field("securityContext.seccompProfile"))
}

// AppArmorProfile is the effective AppArmor profile of c (the field; the
// deprecated annotation is read by the controls that need it).
func (w *Workload) AppArmorProfile(c Container) Setting[corev1.AppArmorProfile] {
	return pick(ctrSC(c).AppArmorProfile, c.Field("securityContext.appArmorProfile"), w.podSC().AppArmorProfile, w.Field("securityContext.appArmorProfile"))
}

// SELinuxOptions is the effective SELinux context of c.
func (w *Workload) SELinuxOptions(c Container) Setting[corev1.SELinuxOptions] {
	return pick(ctrSC(c).SELinuxOptions, c.Field("securityContext.seLinuxOptions"), w.podSC().SELinuxOptions, w.Field("securityContext.seLinuxOptions"))
}

// LongRunning reports whether c runs for the life of the pod: a regular
// container or a sidecar (an init container with restartPolicy Always).
func (c Container) LongRunning() bool {
	return c.Kind == Regular || c.Kind == Init && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// Batch reports whether the workload runs to completion (Job, CronJob or
// a Pod that never restarts): probes and replicas do not apply to it.
func (w *Workload) Batch(kind string) bool {
	return kind == "Job" || kind == "CronJob" || w.Spec.RestartPolicy == corev1.RestartPolicyNever || w.Spec.RestartPolicy == corev1.RestartPolicyOnFailure
}
