package rollout

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/pulumi-jobs/pulumi-jobs/infra/podwatch"
)

// statefulSet is the StatefulSet shop/db at generation 2.
func statefulSet(replicas int32, strategy appsv1.StatefulSetUpdateStrategy, status appsv1.StatefulSetStatus) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", UID: "s-1", Generation: 2},
		Spec: appsv1.StatefulSetSpec{Replicas: &replicas, UpdateStrategy: strategy,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		Status: status,
	}
}

var rolling = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}

// dbPod is the pod name of db at revision whose container waits for reason.
func dbPod(name, revision, reason, message string) *corev1.Pod {
	p := pod(name, "", reason, message)
	p.Labels = map[string]string{"app": "db", appsv1.ControllerRevisionHashLabelKey: revision}
	p.OwnerReferences = owner("StatefulSet", "db", "s-1")
	return p
}

func TestStatefulSetStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       *appsv1.StatefulSet
		waiting string
		done    bool
	}{
		{"spec not observed yet", statefulSet(2, rolling, appsv1.StatefulSetStatus{ObservedGeneration: 1, ReadyReplicas: 2}),
			"waiting for the StatefulSet controller to observe the new spec", false},
		{"pods not ready", statefulSet(2, rolling, appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1}),
			"1 of 2 pods are ready", false},
		{"update revision not reached", statefulSet(2, rolling, appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 2, UpdatedReplicas: 1,
			CurrentRevision: "db-1", UpdateRevision: "db-2"}), "1 pods at revision db-2", false},
		{"complete", statefulSet(2, rolling, appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 2, UpdatedReplicas: 2,
			CurrentRevision: "db-2", UpdateRevision: "db-2"}), "", true},
		{"partitioned: the pods above the partition updated", statefulSet(3, appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr[int32](1)}},
			appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3, UpdatedReplicas: 2, CurrentRevision: "db-1", UpdateRevision: "db-2"}), "", true},
		{"OnDelete: every replica ready", statefulSet(2, appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 2, CurrentRevision: "db-1", UpdateRevision: "db-2"}), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			waiting, done := StatefulSetStatus(tc.s)
			assert.Equal(t, tc.waiting, waiting)
			assert.Equal(t, tc.done, done)
		})
	}
}

func TestAwaitStatefulSet(t *testing.T) {
	stuck := appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 0, CurrentRevision: "db-1", UpdateRevision: "db-2"}
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		err     string
		pod     podwatch.Failure
	}{
		{"complete", []runtime.Object{statefulSet(1, rolling, appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1, UpdatedReplicas: 1,
			CurrentRevision: "db-2", UpdateRevision: "db-2"})}, "", podwatch.Failure{}},
		{"a pod at the update revision cannot pull its image",
			[]runtime.Object{statefulSet(1, rolling, stuck), dbPod("db-0", "db-2", "ImagePullBackOff", `Back-off pulling image "postgres:99"`)},
			`the rollout of StatefulSet shop/db cannot finish: pod db-0, container app: ImagePullBackOff: Back-off pulling image "postgres:99"`,
			podwatch.Failure{Pod: "db-0", Container: "app", Reason: "ImagePullBackOff", Message: `Back-off pulling image "postgres:99"`}},
		{"a pod of the old revision is not the rollout's: it waits until the timeout",
			[]runtime.Object{statefulSet(1, rolling, stuck), dbPod("db-0", "db-1", "ImagePullBackOff", `Back-off pulling image "postgres:98"`)},
			"the rollout of StatefulSet shop/db cannot finish: Timeout: not complete after 50ms: 0 of 1 pods are ready", podwatch.Failure{}},
		{"not in the cluster", nil,
			"the rollout of StatefulSet shop/db cannot finish: NotFound: the StatefulSet is not in the cluster", podwatch.Failure{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Await(context.Background(), fake.NewClientset(tc.objects...), Options{Kind: StatefulSet, Namespace: "shop", Name: "db",
				Timeout: 50 * time.Millisecond, Interval: 10 * time.Millisecond, Now: func() time.Time { return now }})
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.err)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.pod, e.Pod)
		})
	}
}
