package rollout

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
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

// statefulSetRollout is a StatefulSet as a workload.
type statefulSetRollout struct{ *appsv1.StatefulSet }

func (s statefulSetRollout) status() (string, bool, error) {
	waiting, done := StatefulSetStatus(s.StatefulSet)
	return waiting, done, nil
}

func (s statefulSetRollout) selector() *metav1.LabelSelector { return s.Spec.Selector }

// newRevision: its pods at its update revision (label
// controller-revision-hash).
func (s statefulSetRollout) newRevision(context.Context, kubernetes.Interface) func(*corev1.Pod) bool {
	revision := s.Status.UpdateRevision
	if s.Generation > s.Status.ObservedGeneration || revision == "" {
		return nil
	}
	return func(p *corev1.Pod) bool {
		return controlledBy(p, s.UID) && p.Labels[appsv1.ControllerRevisionHashLabelKey] == revision
	}
}
