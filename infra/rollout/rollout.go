// Package rollout awaits a Deployment's rollout, and ends the wait at once
// when the rollout cannot finish.
//
// The Kubernetes provider awaits a Deployment until its new ReplicaSet is
// available or the await times out (v4.25.0, pkg/await/deployment.go): a
// pod that cannot start, or a rollout past its progress deadline
// (ProgressDeadlineExceeded), is only a warning there, so an up sits for
// the whole timeout (10 minutes by default) and then says "timed out".
// Await decides completion as `kubectl rollout status` does, and fails as
// soon as a pod of the Deployment's newest ReplicaSet cannot start (a pull
// error, a container the kubelet cannot create, a pod no node takes for
// longer than a grace: podwatch.Check) or the Deployment controller reports
// ProgressDeadlineExceeded; the error names the Deployment, the pod, the
// reason and the kubelet's message.
package rollout

import (
	"cmp"
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/pulumi-jobs/pulumi-jobs/infra/podwatch"
)

// DefaultTimeout is how long Await waits when Options.Timeout is 0: the
// Kubernetes provider's default for a Deployment.
const DefaultTimeout = 10 * time.Minute

// RevisionAnnotation is the annotation by which the Deployment controller
// numbers a Deployment's revisions, on the Deployment and its ReplicaSets.
const RevisionAnnotation = "deployment.kubernetes.io/revision"

// The kinds whose rollouts Await waits for.
const (
	Deployment  = "Deployment"
	StatefulSet = "StatefulSet"
)

// Options are the Deployment or StatefulSet Await waits for, and how.
type Options struct {
	// Kind is Deployment (when empty) or StatefulSet.
	Kind string
	// Namespace and Name are the object's.
	Namespace, Name string
	// Timeout bounds the wait (DefaultTimeout unless set).
	Timeout time.Duration
	// Interval is how often the Deployment is read (1 s unless set).
	Interval time.Duration
	// Grace is how long a pod may stay unschedulable
	// (podwatch.DefaultUnschedulableGrace unless set).
	Grace time.Duration
	// Now is the clock (time.Now unless set).
	Now func() time.Time
}

// Error is a rollout that cannot finish.
type Error struct {
	// Kind, Namespace and Name are the Deployment's or StatefulSet's.
	Kind, Namespace, Name string
	// Pod is the pod of the new revision that cannot start, when that is
	// why (Pod.Pod is "" otherwise).
	Pod podwatch.Failure
	// Reason is the pod's reason, ProgressDeadlineExceeded, or Timeout.
	Reason string
	// Message is the Deployment controller's message, or the rollout's last
	// status at a timeout ("" with a pod).
	Message string
}

// Error is the failure as one line, for the person deploying.
func (e *Error) Error() string {
	kind := cmp.Or(e.Kind, Deployment)
	if e.Pod.Pod != "" {
		return fmt.Sprintf("the rollout of %s %s/%s cannot finish: %s", kind, e.Namespace, e.Name, e.Pod)
	}
	return fmt.Sprintf("the rollout of %s %s/%s cannot finish: %s: %s", kind, e.Namespace, e.Name, e.Reason, e.Message)
}

// Status is where a Deployment's rollout is, as `kubectl rollout status`
// tells it: done, or what it is waiting for; err is a rollout past its
// progress deadline.
func Status(d *appsv1.Deployment) (waiting string, done bool, err error) {
	if d.Generation > d.Status.ObservedGeneration {
		return "waiting for the Deployment controller to observe the new spec", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, &Error{Kind: Deployment, Namespace: d.Namespace, Name: d.Name, Reason: c.Reason, Message: c.Message}
		}
	}
	s := d.Status
	switch {
	case d.Spec.Replicas != nil && s.UpdatedReplicas < *d.Spec.Replicas:
		return fmt.Sprintf("%d out of %d new replicas have been updated", s.UpdatedReplicas, *d.Spec.Replicas), false, nil
	case s.Replicas > s.UpdatedReplicas:
		return fmt.Sprintf("%d old replicas are pending termination", s.Replicas-s.UpdatedReplicas), false, nil
	case s.AvailableReplicas < s.UpdatedReplicas:
		return fmt.Sprintf("%d of %d updated replicas are available", s.AvailableReplicas, s.UpdatedReplicas), false, nil
	}
	return "", true, nil
}

// Await reads the Deployment (or StatefulSet) every o.Interval until its
// rollout is complete (Status, StatefulSetStatus), and returns an *Error as
// soon as it cannot finish: a pod of its new revision that cannot start
// (podwatch.Check), a Deployment's rollout past its progress deadline, or
// o.Timeout. An object that is not there is an error too; other API errors
// are retried until the timeout.
func Await(ctx context.Context, client kubernetes.Interface, o Options) error {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Grace <= 0 {
		o.Grace = podwatch.DefaultUnschedulableGrace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Kind = cmp.Or(o.Kind, Deployment)
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	last := "waiting for the " + o.Kind + " to be read"
	for {
		done, err := check(ctx, client, o, &last)
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return &Error{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Reason: "Timeout",
				Message: fmt.Sprintf("not complete after %s: %s", o.Timeout, last)}
		case <-tick.C:
		}
	}
}

// workload is a Deployment or StatefulSet as one read of Await found it.
type workload interface {
	// status is where its rollout is (Status, StatefulSetStatus).
	status() (waiting string, done bool, err error)
	// selector is the label selector of its pods.
	selector() *metav1.LabelSelector
	// newRevision says which pods are its new revision's; nil while that is
	// not known (the controller has not observed its spec yet, and a pod of
	// the last rollout is not this one's).
	newRevision(ctx context.Context, client kubernetes.Interface) func(*corev1.Pod) bool
}

// get reads the workload of o.
func get(ctx context.Context, client kubernetes.Interface, o Options) (workload, error) {
	if o.Kind == StatefulSet {
		s, err := client.AppsV1().StatefulSets(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
		return statefulSetRollout{s}, err
	}
	d, err := client.AppsV1().Deployments(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
	return deploymentRollout{d}, err
}

// check is one read of Await; last gets the rollout's status.
func check(ctx context.Context, client kubernetes.Interface, o Options, last *string) (bool, error) {
	w, err := get(ctx, client, o)
	switch {
	case apierrors.IsNotFound(err):
		return false, &Error{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Reason: "NotFound", Message: "the " + o.Kind + " is not in the cluster"}
	case err != nil:
		*last = "reading the " + o.Kind + ": " + err.Error()
		return false, nil
	}
	waiting, done, err := w.status()
	if done || err != nil {
		return done, err
	}
	*last = waiting
	if f, ok := cannotStart(ctx, client, o.Namespace, w, o.Now(), o.Grace); ok {
		return false, &Error{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Pod: f, Reason: f.Reason}
	}
	return false, nil
}

// cannotStart returns the first pod of w's new revision that
// podwatch.Check calls a failure.
func cannotStart(ctx context.Context, client kubernetes.Interface, namespace string, w workload, now time.Time, grace time.Duration) (podwatch.Failure, bool) {
	isNew := w.newRevision(ctx, client)
	if isNew == nil {
		return podwatch.Failure{}, false
	}
	pods, err := client.CoreV1().Pods(namespace).List(ctx, listOf(w.selector()))
	if err != nil {
		return podwatch.Failure{}, false
	}
	for i := range pods.Items {
		if p := &pods.Items[i]; isNew(p) {
			if f, ok := podwatch.Check(p, now, grace); ok {
				return f, true
			}
		}
	}
	return podwatch.Failure{}, false
}

// listOf lists what selector selects (nothing, when it is not valid).
func listOf(selector *metav1.LabelSelector) metav1.ListOptions {
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		s = labels.Nothing()
	}
	return metav1.ListOptions{LabelSelector: s.String()}
}

// controlledBy says whether uid is o's controller.
func controlledBy(o metav1.Object, uid types.UID) bool {
	owner := metav1.GetControllerOf(o)
	return owner != nil && owner.UID == uid
}

// deploymentRollout is a Deployment as a workload.
type deploymentRollout struct{ *appsv1.Deployment }

func (d deploymentRollout) status() (string, bool, error)   { return Status(d.Deployment) }
func (d deploymentRollout) selector() *metav1.LabelSelector { return d.Spec.Selector }

// newRevision: the pods of its newest ReplicaSet, the one of its revision.
func (d deploymentRollout) newRevision(ctx context.Context, client kubernetes.Interface) func(*corev1.Pod) bool {
	revision := d.Annotations[RevisionAnnotation]
	if d.Generation > d.Status.ObservedGeneration || revision == "" {
		return nil
	}
	sets, err := client.AppsV1().ReplicaSets(d.Namespace).List(ctx, listOf(d.Spec.Selector))
	if err != nil {
		return nil
	}
	for _, rs := range sets.Items {
		if controlledBy(&rs, d.UID) && rs.Annotations[RevisionAnnotation] == revision {
			return func(p *corev1.Pod) bool { return controlledBy(p, rs.UID) }
		}
	}
	return nil
}
