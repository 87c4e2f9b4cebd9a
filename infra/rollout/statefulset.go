package rollout

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/pulumi-jobs/pulumi-jobs/infra/podwatch"
)

// StatefulSetStatus is where a StatefulSet's rollout is, as `kubectl
// rollout status` tells it for the RollingUpdate strategy: the spec
// observed, every replica ready, and then every pod at the update revision
// (with a partition, the pods above it updated). With OnDelete, whose pods
// change only when someone deletes them, it is done once every replica is
// ready.
func StatefulSetStatus(s *appsv1.StatefulSet) (waiting string, done bool) {
	st := s.Status
	if st.ObservedGeneration == 0 || s.Generation > st.ObservedGeneration {
		return "waiting for the StatefulSet controller to observe the new spec", false
	}
	if s.Spec.Replicas != nil && st.ReadyReplicas < *s.Spec.Replicas {
		return fmt.Sprintf("%d of %d pods are ready", st.ReadyReplicas, *s.Spec.Replicas), false
	}
	if s.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return "", true
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && *ru.Partition > 0 && s.Spec.Replicas != nil {
		if want := *s.Spec.Replicas - *ru.Partition; st.UpdatedReplicas < want {
			return fmt.Sprintf("%d of %d pods above the partition updated", st.UpdatedReplicas, want), false
		}
		return "", true
	}
	if st.UpdateRevision != st.CurrentRevision {
		return fmt.Sprintf("%d pods at revision %s", st.UpdatedReplicas, st.UpdateRevision), false
	}
	return "", true
}

// checkStatefulSet is one read of Await for a StatefulSet; last gets the
// rollout's status.
func checkStatefulSet(ctx context.Context, client kubernetes.Interface, o Options, last *string) (bool, error) {
	s, err := client.AppsV1().StatefulSets(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return false, &Error{Kind: StatefulSet, Namespace: o.Namespace, Name: o.Name, Reason: "NotFound", Message: "the StatefulSet is not in the cluster"}
	case err != nil:
		*last = "reading the StatefulSet: " + err.Error()
		return false, nil
	}
	waiting, done := StatefulSetStatus(s)
	if done {
		return true, nil
	}
	*last = waiting
	if s.Generation > s.Status.ObservedGeneration {
		return false, nil
	}
	if f, ok := statefulSetCannotStart(ctx, client, s, o.Now(), o.Grace); ok {
		return false, &Error{Kind: StatefulSet, Namespace: o.Namespace, Name: o.Name, Pod: f, Reason: f.Reason}
	}
	return false, nil
}

// statefulSetCannotStart returns the first pod of s at its update revision
// (label controller-revision-hash) that podwatch.Check calls a failure.
func statefulSetCannotStart(ctx context.Context, client kubernetes.Interface, s *appsv1.StatefulSet, now time.Time, grace time.Duration) (podwatch.Failure, bool) {
	if s.Status.UpdateRevision == "" || s.Spec.Selector == nil {
		return podwatch.Failure{}, false
	}
	selector, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
	if err != nil {
		return podwatch.Failure{}, false
	}
	pods, err := client.CoreV1().Pods(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return podwatch.Failure{}, false
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if owner := metav1.GetControllerOf(p); owner == nil || owner.UID != s.UID || p.Labels[appsv1.ControllerRevisionHashLabelKey] != s.Status.UpdateRevision {
			continue
		}
		if f, ok := podwatch.Check(p, now, grace); ok {
			return f, true
		}
	}
	return podwatch.Failure{}, false
}
