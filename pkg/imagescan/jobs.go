package imagescan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubeguard/kubeguard/pkg/image"
)

// Jobs runs image reads as Kubernetes Jobs when the queue is long, so
// that reading thousands of images scales with the cluster rather than
// with one pod. A Job reads one image (kubeguard image inventory) and
// leaves its inventory in a ConfigMap of the same name; matching stays
// with the scanner, which holds the database.
type Jobs struct {
	Client kubernetes.Interface
	// Namespace runs the Jobs; Image is kubeguard's image and
	// ServiceAccount may create ConfigMaps there.
	Namespace, Image, ServiceAccount string
	// Max is the most Jobs running at once; Threshold the queue length
	// from which references go to Jobs instead of the scanner's workers.
	Max, Threshold int
	// Poll is how often Jobs are looked at (default 2s).
	Poll time.Duration
	// Platform and Insecure are passed to the Jobs (--platform,
	// --insecure-registry).
	Platform string
	Insecure bool
}

// Labels of the Jobs and their ConfigMaps.
const (
	JobLabel      = "kubeguard.io/image-scan"
	JobAnnotation = "kubeguard.io/image"
	// InventoryKey holds an encoded inventory, ErrorKey why there is none.
	InventoryKey = "inventory"
	ErrorKey     = "error"
)

// JobName is the name of the Job (and ConfigMap) of a reference.
func JobName(ref string) string {
	h := sha256.Sum256([]byte(ref))
	return "kubeguard-scan-" + hex.EncodeToString(h[:8])
}

// command is what a Job runs for a reference.
func (j *Jobs) command(ref string) []string {
	args := []string{"image", "inventory", ref, "--to-configmap", j.Namespace + "/" + JobName(ref)}
	if j.Platform != "" {
		args = append(args, "--platform", j.Platform)
	}
	if j.Insecure {
		args = append(args, "--insecure-registry")
	}
	return args
}

// UseJobs makes the scanner hand references to Jobs when its queue
// holds j.Threshold or more.
func (b *Background) UseJobs(j *Jobs) {
	if j.Poll <= 0 {
		j.Poll = 2 * time.Second
	}
	if j.Max <= 0 {
		j.Max = 1
	}
	b.jobs = j
}

// jobLoop starts Jobs for the references waiting for one, at most Max
// running, and takes the inventories of those done.
func (b *Background) jobLoop(ctx context.Context) {
	t := time.NewTicker(b.jobs.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := b.jobRound(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn("image scan jobs", "error", err)
		}
	}
}

func (b *Background) jobRound(ctx context.Context) error {
	j := b.jobs
	jobs, err := j.Client.BatchV1().Jobs(j.Namespace).List(ctx, metav1.ListOptions{LabelSelector: JobLabel})
	if err != nil {
		return err
	}
	running := 0
	for _, job := range jobs.Items {
		ref := job.Annotations[JobAnnotation]
		cm, err := j.Client.CoreV1().ConfigMaps(j.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		if !b.waiting(ref) {
			// another replica's, or one this replica no longer waits for:
			// it counts while it runs
			if apierrors.IsNotFound(err) && !failed(&job) {
				running++
			}
			continue
		}
		switch {
		case err == nil:
			b.jobDone(ctx, ref, cm)
		case !apierrors.IsNotFound(err):
			return err
		case failed(&job):
			b.setResult(ref, nil, fmt.Errorf("scan job %s/%s failed", j.Namespace, job.Name))
			b.deleteJob(ctx, job.Name)
		default:
			running++
		}
	}
	for running < j.Max {
		b.mu.Lock()
		if len(b.jobQueue) == 0 {
			b.mu.Unlock()
			break
		}
		ref := b.jobQueue[0]
		b.jobQueue = b.jobQueue[1:]
		b.mu.Unlock()
		if err := b.startJob(ctx, ref); err != nil {
			b.setResult(ref, nil, fmt.Errorf("starting a scan job: %w", err))
			continue
		}
		running++
	}
	return nil
}

// waiting reports whether this scanner asked for ref and has no result.
func (b *Background) waiting(ref string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.results[ref]
	return ok && !r.done
}

func failed(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func (b *Background) startJob(ctx context.Context, ref string) error {
	j := b.jobs
	name := JobName(ref)
	meta := metav1.ObjectMeta{Name: name, Namespace: j.Namespace, Labels: map[string]string{JobLabel: "true", "app.kubernetes.io/managed-by": "kubeguard"},
		Annotations: map[string]string{JobAnnotation: ref}}
	backoff, ttl, token, yes, no := int32(0), int32(600), true, true, false
	// as hardened as kubeguard asks every workload to be: the Jobs run
	// in clusters it scans
	ctr := corev1.Container{Name: "scan", Image: j.Image, Args: j.command(ref),
		SecurityContext: &corev1.SecurityContext{RunAsNonRoot: &yes, ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}},
		VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}}
	job := &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{BackoffLimit: &backoff, TTLSecondsAfterFinished: &ttl,
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{JobLabel: "true"}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, ServiceAccountName: j.ServiceAccount,
				AutomountServiceAccountToken: &token, // it writes its ConfigMap
				Containers:                   []corev1.Container{ctr},
				Volumes:                      []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}}}}}
	_, err := j.Client.BatchV1().Jobs(j.Namespace).Create(ctx, job, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil // an earlier round's, or another replica's: its result is taken the same way
	}
	return err
}

func (b *Background) jobDone(ctx context.Context, ref string, cm *corev1.ConfigMap) {
	var res []*Scanned
	var err error
	if msg, ok := cm.Data[ErrorKey]; ok {
		err = errors.New(msg)
	} else {
		var inv *image.Inventory
		if inv, err = image.DecodeInventory(cm.BinaryData[InventoryKey]); err == nil {
			inv.Image.Ref = ref
			var sc *Scanned
			if sc, err = b.s.FromInventory(inv); err == nil {
				res = []*Scanned{sc}
			}
		}
	}
	b.setResult(ref, res, err)
	b.deleteJob(ctx, cm.Name)
	if derr := b.jobs.Client.CoreV1().ConfigMaps(b.jobs.Namespace).Delete(ctx, cm.Name, metav1.DeleteOptions{}); derr != nil && !apierrors.IsNotFound(derr) {
		b.log.Warn("deleting a scan result", "configmap", cm.Name, "error", derr)
	}
}

func (b *Background) deleteJob(ctx context.Context, name string) {
	bg := metav1.DeletePropagationBackground
	if err := b.jobs.Client.BatchV1().Jobs(b.jobs.Namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		b.log.Warn("deleting a scan job", "job", name, "error", err)
	}
}

func (b *Background) setResult(ref string, res []*Scanned, err error) {
	if err != nil {
		b.log.Warn("image scan failed", "image", ref, "error", err)
	}
	b.mu.Lock()
	b.results[ref] = &bgResult{done: true, res: res, err: err}
	b.mu.Unlock()
	b.changed.Store(true)
}

// WriteInventory leaves a Job's result in its ConfigMap: the encoded
// inventory, or why there is none.
func WriteInventory(ctx context.Context, client kubernetes.Interface, namespace, name string, inv *image.Inventory, scanErr error) error {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{JobLabel: "true"}}}
	if scanErr != nil {
		cm.Data = map[string]string{ErrorKey: scanErr.Error()}
	} else {
		b, err := image.EncodeInventory(inv)
		if err != nil {
			return err
		}
		cm.BinaryData = map[string][]byte{InventoryKey: b}
	}
	_, err := client.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{})
	return err
}
