// Package podwatch ends a release's Job at once when its pod cannot start.
//
// The Kubernetes provider awaits a Job until it is Complete or Failed; a pod
// whose image cannot be pulled, whose container the kubelet cannot create
// (a root image under runAsNonRoot, a missing Secret) or that no node takes
// never fails, so the up would sit for the job's whole timeout. Check tells,
// from a pod's status alone, whether it is such a pod; Watch, run by the
// release during an up (on every path: the driver, plain `pulumi up` of a
// YAML program and the component provider, since the release's own code
// runs it), lowers such a Job's activeDeadlineSeconds to 1 so that the Job
// controller fails it within a second (DeadlineExceeded, which the
// provider's awaiter reports), records the pod's reason on the Job
// (annotation CannotStartAnnotation) and reports it.
package podwatch

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// CannotStartAnnotation is set on a Job that Watch failed: the pod, the
// reason and the kubelet's message.
const CannotStartAnnotation = "pulumi-jobs/cannot-start"

// DefaultUnschedulableGrace is how long a pod may stay unschedulable before
// Check calls it a failure: long enough for a node to be added or a
// preempted pod to leave, short against a job's timeout.
const DefaultUnschedulableGrace = 20 * time.Second

// Reasons are the container waiting reasons that mean the container will not
// start without a change to the pod or the cluster.
var Reasons = []string{
	"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName",
	"CreateContainerConfigError", "CreateContainerError",
}

// Failure is a pod that cannot start, and why.
type Failure struct {
	// Pod is the pod's name; Job the name of the Job that owns it ("" for
	// none); JobConfigName the job's name in the config ("" for none).
	Pod, Job, JobConfigName string
	// Container is the container that cannot start ("" when the pod was
	// never scheduled).
	Container string
	// Reason and Message are the kubelet's (or the scheduler's).
	Reason, Message string
}

// String is the failure as one line, for the person deploying.
func (f Failure) String() string {
	var b strings.Builder
	if f.Job != "" {
		name := f.Job
		if f.JobConfigName != "" {
			name = fmt.Sprintf("%s (job %q)", f.Job, f.JobConfigName)
		}
		fmt.Fprintf(&b, "Job %s cannot start: ", name)
	}
	fmt.Fprintf(&b, "pod %s", f.Pod)
	if f.Container != "" {
		fmt.Fprintf(&b, ", container %s", f.Container)
	}
	fmt.Fprintf(&b, ": %s", f.Reason)
	if f.Message != "" {
		fmt.Fprintf(&b, ": %s", f.Message)
	}
	return b.String()
}

// Check returns why pod cannot start, if it cannot: a container (init
// containers first) waiting for one of Reasons, or the pod unschedulable
// for at least grace by now. A pod that is being deleted or has finished is
// never a failure.
func Check(pod *corev1.Pod, now time.Time, grace time.Duration) (Failure, bool) {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return Failure{}, false
	}
	f := Failure{Pod: pod.Name, Job: pod.Labels[batchv1.JobNameLabel], JobConfigName: pod.Labels["pulumi-jobs/job"]}
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, s := range statuses {
			if w := s.State.Waiting; w != nil && slices.Contains(Reasons, w.Reason) {
				f.Container, f.Reason, f.Message = s.Name, w.Reason, w.Message
				return f, true
			}
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable &&
			!c.LastTransitionTime.IsZero() && now.Sub(c.LastTransitionTime.Time) >= grace {
			f.Reason, f.Message = corev1.PodReasonUnschedulable, c.Message
			return f, true
		}
	}
	return Failure{}, false
}

// FailPatch is the merge patch that makes the Job controller fail a Job at
// once (activeDeadlineSeconds 1, counted from the Job's start) and records
// f on it.
func FailPatch(f Failure) []byte {
	b, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{CannotStartAnnotation: f.String()}},
		"spec":     map[string]any{"activeDeadlineSeconds": 1},
	})
	return b
}

// Options are what Watch watches and how.
type Options struct {
	// Namespace and Selector (a label selector) choose the pods.
	Namespace, Selector string
	// Interval is how often the pods are listed (default 1 s).
	Interval time.Duration
	// Grace is DefaultUnschedulableGrace unless set.
	Grace time.Duration
	// Report is called once per Job that Watch failed, and once per pod
	// outside a Job and a ReplicaSet that cannot start (Watch does not act
	// on those).
	Report func(Failure)
	// Now is the clock (time.Now unless set).
	Now func() time.Time
}

// Watch lists the pods of o every o.Interval until ctx is done. A pod of an
// active Job that Check calls a failure fails that Job (FailPatch) and is
// reported; a pod of a Job that has already finished is left alone. A pod
// of a ReplicaSet (a Deployment's) is left to the rollout's await
// (infra/rollout); another pod outside a Job (a StatefulSet's) is only
// reported.
func Watch(ctx context.Context, client kubernetes.Interface, o Options) {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Grace <= 0 {
		o.Grace = DefaultUnschedulableGrace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	reported := map[string]bool{}
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		Sweep(ctx, client, o, reported)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sweep is one pass of Watch: reported holds the Jobs ("job/<name>") and
// pods ("pod/<name>") already reported, and gets those it reports. It
// returns the failures it acted on or reported in this pass.
func Sweep(ctx context.Context, client kubernetes.Interface, o Options, reported map[string]bool) []Failure {
	pods, err := client.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: o.Selector})
	if err != nil {
		return nil
	}
	now := o.Now()
	var out []Failure
	for i := range pods.Items {
		if c := metav1.GetControllerOf(&pods.Items[i]); c != nil && c.Kind == "ReplicaSet" {
			// A Deployment's pod: its rollout's await reports it
			// (infra/rollout), and a pod of the last rollout is not this
			// one's failure.
			continue
		}
		f, ok := Check(&pods.Items[i], now, o.Grace)
		if !ok {
			continue
		}
		key := "pod/" + f.Pod
		if f.Job != "" {
			key = "job/" + f.Job
		}
		if reported[key] {
			continue
		}
		if f.Job != "" {
			job, err := client.BatchV1().Jobs(o.Namespace).Get(ctx, f.Job, metav1.GetOptions{})
			if err != nil || finished(job) {
				continue
			}
			if _, err := client.BatchV1().Jobs(o.Namespace).Patch(ctx, f.Job, types.MergePatchType, FailPatch(f), metav1.PatchOptions{FieldManager: "pulumi-jobs-podwatch"}); err != nil {
				continue
			}
		}
		reported[key] = true
		out = append(out, f)
		if o.Report != nil {
			o.Report(f)
		}
	}
	return out
}

func finished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
