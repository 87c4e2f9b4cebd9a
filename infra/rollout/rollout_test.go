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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/pulumi-jobs/pulumi-jobs/infra/podwatch"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// deployment is the Deployment shop/shop at revision 2, generation 2.
func deployment(replicas *int32, status appsv1.DeploymentStatus) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "shop", UID: "d-1", Generation: 2,
			Annotations: map[string]string{RevisionAnnotation: "2"}},
		Spec: appsv1.DeploymentSpec{Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "shop"}}},
		Status: status,
	}
}

func owner(kind, name string, uid types.UID) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid, Controller: ptr(true)}}
}

// replicaSet is a ReplicaSet of the Deployment shop at revision.
func replicaSet(name, revision string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID("rs-" + revision),
		Labels:          map[string]string{"app.kubernetes.io/name": "shop"},
		Annotations:     map[string]string{RevisionAnnotation: revision},
		OwnerReferences: owner("Deployment", "shop", "d-1")}}
}

// pod is a pod of the ReplicaSet of revision whose container app waits for
// reason.
func pod(name, revision, reason, message string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app.kubernetes.io/name": "shop"},
			OwnerReferences: owner("ReplicaSet", "shop-"+revision, types.UID("rs-"+revision))},
		Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}},
		}},
	}
}

func progressing(reason, message string) appsv1.DeploymentCondition {
	status := corev1.ConditionTrue
	if reason == "ProgressDeadlineExceeded" {
		status = corev1.ConditionFalse
	}
	return appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason, Message: message}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       *appsv1.Deployment
		waiting string
		done    bool
		err     string
	}{
		{"spec not observed yet", deployment(ptr[int32](2), appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}),
			"waiting for the Deployment controller to observe the new spec", false, ""},
		{"new replicas not all updated", deployment(ptr[int32](2), appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2}),
			"1 out of 2 new replicas have been updated", false, ""},
		{"old replicas pending termination", deployment(ptr[int32](2), appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 2, AvailableReplicas: 2}),
			"1 old replicas are pending termination", false, ""},
		{"updated replicas not available", deployment(ptr[int32](2), appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 1}),
			"1 of 2 updated replicas are available", false, ""},
		{"complete", deployment(ptr[int32](2), appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2,
			Conditions: []appsv1.DeploymentCondition{progressing("NewReplicaSetAvailable", `ReplicaSet "shop-2" has successfully progressed.`)}}),
			"", true, ""},
		{"replicas left to an HPA: complete when every updated replica is available", deployment(nil, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 5, UpdatedReplicas: 5, AvailableReplicas: 5}),
			"", true, ""},
		{"past its progress deadline", deployment(ptr[int32](1), appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{progressing("ProgressDeadlineExceeded", `ReplicaSet "shop-2" has timed out progressing.`)}}),
			"", false, `the rollout of Deployment shop/shop cannot finish: ProgressDeadlineExceeded: ReplicaSet "shop-2" has timed out progressing.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			waiting, done, err := Status(tc.d)
			assert.Equal(t, tc.waiting, waiting)
			assert.Equal(t, tc.done, done)
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tc.err)
			}
		})
	}
}

func TestAwait(t *testing.T) {
	stuck := appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, AvailableReplicas: 1}
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		err     string
		pod     podwatch.Failure
	}{
		{"complete at once",
			[]runtime.Object{deployment(ptr[int32](1), appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1})},
			"", podwatch.Failure{}},
		{"a pod of the new ReplicaSet cannot pull its image",
			[]runtime.Object{deployment(ptr[int32](1), stuck), replicaSet("shop-1", "1"), replicaSet("shop-2", "2"),
				pod("shop-1-aaaaa", "1", "", ""),
				pod("shop-2-bbbbb", "2", "ErrImagePull", `failed to pull and unpack image "ghcr.io/acme/shop:1.4.3": not found`)},
			`the rollout of Deployment shop/shop cannot finish: pod shop-2-bbbbb, container app: ErrImagePull: failed to pull and unpack image "ghcr.io/acme/shop:1.4.3": not found`,
			podwatch.Failure{Pod: "shop-2-bbbbb", Container: "app", Reason: "ErrImagePull", Message: `failed to pull and unpack image "ghcr.io/acme/shop:1.4.3": not found`}},
		{"a root image under runAsNonRoot",
			[]runtime.Object{deployment(ptr[int32](1), stuck), replicaSet("shop-2", "2"),
				pod("shop-2-bbbbb", "2", "CreateContainerConfigError", "container has runAsNonRoot and image will run as root")},
			"the rollout of Deployment shop/shop cannot finish: pod shop-2-bbbbb, container app: CreateContainerConfigError: container has runAsNonRoot and image will run as root",
			podwatch.Failure{Pod: "shop-2-bbbbb", Container: "app", Reason: "CreateContainerConfigError", Message: "container has runAsNonRoot and image will run as root"}},
		{"past its progress deadline",
			[]runtime.Object{deployment(ptr[int32](1), appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, AvailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{progressing("ProgressDeadlineExceeded", `ReplicaSet "shop-2" has timed out progressing.`)}})},
			`the rollout of Deployment shop/shop cannot finish: ProgressDeadlineExceeded: ReplicaSet "shop-2" has timed out progressing.`,
			podwatch.Failure{}},
		{"a pod of the old ReplicaSet that cannot start is not the rollout's: it waits until the timeout",
			[]runtime.Object{deployment(ptr[int32](1), stuck), replicaSet("shop-1", "1"), replicaSet("shop-2", "2"),
				pod("shop-1-aaaaa", "1", "ImagePullBackOff", `Back-off pulling image "ghcr.io/acme/shop:1.4.2"`), pod("shop-2-bbbbb", "2", "ContainerCreating", "")},
			"the rollout of Deployment shop/shop cannot finish: Timeout: not complete after 50ms: 1 old replicas are pending termination",
			podwatch.Failure{}},
		{"a new spec not yet observed: the last rollout's broken pod is not this one's",
			[]runtime.Object{deployment(ptr[int32](1), appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 1, AvailableReplicas: 1}),
				replicaSet("shop-2", "2"), pod("shop-2-bbbbb", "2", "CreateContainerConfigError", "container has runAsNonRoot and image will run as root")},
			"the rollout of Deployment shop/shop cannot finish: Timeout: not complete after 50ms: waiting for the Deployment controller to observe the new spec",
			podwatch.Failure{}},
		{"not in the cluster", nil,
			"the rollout of Deployment shop/shop cannot finish: NotFound: the Deployment is not in the cluster", podwatch.Failure{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(tc.objects...)
			err := Await(context.Background(), client, Options{Namespace: "shop", Name: "shop",
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

// TestAwaitUntilComplete: a rollout that completes while it is awaited ends
// the wait.
func TestAwaitUntilComplete(t *testing.T) {
	d := deployment(ptr[int32](1), appsv1.DeploymentStatus{ObservedGeneration: 1})
	client := fake.NewClientset(d)
	go func() {
		time.Sleep(30 * time.Millisecond)
		d := d.DeepCopy()
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}
		_, _ = client.AppsV1().Deployments("shop").UpdateStatus(context.Background(), d, metav1.UpdateOptions{})
	}()
	require.NoError(t, Await(context.Background(), client, Options{Namespace: "shop", Name: "shop",
		Timeout: 5 * time.Second, Interval: 10 * time.Millisecond}))
}
