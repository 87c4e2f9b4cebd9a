package podwatch

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func jobPod(status corev1.PodStatus) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-pre-deploy-migrate-1a2b3c4d-x7k2p", Namespace: "shop",
			Labels: map[string]string{batchv1.JobNameLabel: "shop-pre-deploy-migrate-1a2b3c4d", "pulumi-jobs/job": "migrate"}},
		Status: status,
	}
}

func waiting(reason, message string) corev1.PodStatus {
	return corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
		{Name: "migrate", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}},
	}}
}

func unschedulable(since time.Duration) corev1.PodStatus {
	return corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
		Message:            "0/3 nodes are available: 3 Insufficient memory.",
		LastTransitionTime: metav1.NewTime(now.Add(-since)),
	}}}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pod    *corev1.Pod
		want   Failure
		failed bool
	}{
		{"ErrImagePull", jobPod(waiting("ErrImagePull", `failed to pull and unpack image "ghcr.io/acme/shop:1.4.3": not found`)),
			Failure{Pod: "shop-pre-deploy-migrate-1a2b3c4d-x7k2p", Job: "shop-pre-deploy-migrate-1a2b3c4d", JobConfigName: "migrate", Container: "migrate",
				Reason: "ErrImagePull", Message: `failed to pull and unpack image "ghcr.io/acme/shop:1.4.3": not found`}, true},
		{"ImagePullBackOff", jobPod(waiting("ImagePullBackOff", `Back-off pulling image "ghcr.io/acme/shop:1.4.3"`)),
			Failure{Pod: "shop-pre-deploy-migrate-1a2b3c4d-x7k2p", Job: "shop-pre-deploy-migrate-1a2b3c4d", JobConfigName: "migrate", Container: "migrate",
				Reason: "ImagePullBackOff", Message: `Back-off pulling image "ghcr.io/acme/shop:1.4.3"`}, true},
		{"ErrImageNeverPull", jobPod(waiting("ErrImageNeverPull", `Container image "shop:dev" is not present with pull policy of Never`)),
			Failure{Pod: "shop-pre-deploy-migrate-1a2b3c4d-x7k2p", Job: "shop-pre-deploy-migrate-1a2b3c4d", JobConfigName: "migrate", Container: "migrate",
				Reason: "ErrImageNeverPull", Message: `Container image "shop:dev" is not present with pull policy of Never`}, true},
		{"InvalidImageName", jobPod(waiting("InvalidImageName", `Failed to apply default image tag "ghcr.io/acme/Shop:1": couldn't parse image name`)),
			Failure{Pod: "shop-pre-deploy-migrate-1a2b3c4d-x7k2p", Job: "shop-pre-deploy-migrate-1a2b3c4d", JobConfigName: "migrate", Container: "migrate",
				Reason: "InvalidImageName", Message: `Failed to apply default image tag "ghcr.io/acme/Shop:1": couldn't parse image name`}, true},
		{"CreateContainerConfigError", jobPod(waiting("CreateContainerConfigError", "container has runAsNonRoot and image will run as root")),
			Failure{Pod: "shop-pre-deploy-migrate-1a2b3c4d-x7k2p", Job: "shop-pre-deploy-migrate-1a2b3c4d", JobConfigName: "migrate", Container: "migrate",
				Reason: "CreateContainerConfigError", Message: "container has runAsNonRoot and image will run as root"}, true},
		{"CreateContainerError", jobPod(waiting("CreateContainerError", `failed to create containerd container: exec: "/app/shop": no such file`)),
			Failure{Pod: "shop-pre-deploy-migrate-1a2b3c4d-x7k2p", Job: "shop-pre-deploy-migrate-1a2b3c4d", JobConfigName: "migrate", Container: "migrate",
				Reason: "CreateContainerError", Message: `failed to create containerd container: exec: "/app/shop": no such file`}, true},
		{"an init container that cannot start", jobPod(corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
			{Name: "wait-db", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: `secret "db" not found`}}},
		}}),
			Failure{Pod: "shop-pre-deploy-migrate-1a2b3c4d-x7k2p", Job: "shop-pre-deploy-migrate-1a2b3c4d", JobConfigName: "migrate", Container: "wait-db",
				Reason: "CreateContainerConfigError", Message: `secret "db" not found`}, true},
		{"unschedulable past the grace", jobPod(unschedulable(21 * time.Second)),
			Failure{Pod: "shop-pre-deploy-migrate-1a2b3c4d-x7k2p", Job: "shop-pre-deploy-migrate-1a2b3c4d", JobConfigName: "migrate",
				Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient memory."}, true},
		{"unschedulable within the grace", jobPod(unschedulable(19 * time.Second)), Failure{}, false},
		{"creating its container", jobPod(waiting("ContainerCreating", "")), Failure{}, false},
		{"pulling", jobPod(waiting("PodInitializing", "")), Failure{}, false},
		{"crash looping (it started)", jobPod(waiting("CrashLoopBackOff", "back-off 10s restarting failed container")), Failure{}, false},
		{"running", jobPod(corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "migrate", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}), Failure{}, false},
		{"a simulated (kwok) pod just created: no statuses yet", jobPod(corev1.PodStatus{Phase: corev1.PodPending}), Failure{}, false},
		{"failed already", jobPod(corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "migrate", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}}}}), Failure{}, false},
		{"an app pod (no Job)", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shop-5cfb6d6788-6pfjh"},
			Status: waiting("ImagePullBackOff", `Back-off pulling image "ghcr.io/acme/shop:1.4.3"`)},
			Failure{Pod: "shop-5cfb6d6788-6pfjh", Container: "migrate", Reason: "ImagePullBackOff", Message: `Back-off pulling image "ghcr.io/acme/shop:1.4.3"`}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, failed := Check(tc.pod, now, DefaultUnschedulableGrace)
			assert.Equal(t, tc.failed, failed)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCheckDeletedPod(t *testing.T) {
	p := jobPod(waiting("ErrImagePull", "not found"))
	p.DeletionTimestamp = &metav1.Time{Time: now}
	_, failed := Check(p, now, DefaultUnschedulableGrace)
	assert.False(t, failed, "a pod being deleted is not a failure")
}

func TestFailureString(t *testing.T) {
	for _, tc := range []struct {
		f    Failure
		want string
	}{
		{Failure{Pod: "p-1", Job: "shop-pre-deploy-migrate-1a2b3c4d", JobConfigName: "migrate", Container: "migrate", Reason: "CreateContainerConfigError",
			Message: "container has runAsNonRoot and image will run as root"},
			`Job shop-pre-deploy-migrate-1a2b3c4d (job "migrate") cannot start: pod p-1, container migrate: CreateContainerConfigError: container has runAsNonRoot and image will run as root`},
		{Failure{Pod: "p-1", Job: "j", Reason: "Unschedulable", Message: "0/3 nodes are available"},
			"Job j cannot start: pod p-1: Unschedulable: 0/3 nodes are available"},
		{Failure{Pod: "shop-5cfb6d6788-6pfjh", Container: "app", Reason: "ErrImagePull"},
			"pod shop-5cfb6d6788-6pfjh, container app: ErrImagePull"},
	} {
		assert.Equal(t, tc.want, tc.f.String())
	}
}

func TestFailPatch(t *testing.T) {
	got := FailPatch(Failure{Pod: "p-1", Job: "j", Container: "migrate", Reason: "ErrImagePull", Message: `pull "x": not found`})
	assert.JSONEq(t, `{"metadata":{"annotations":{"pulumi-jobs/cannot-start":"Job j cannot start: pod p-1, container migrate: ErrImagePull: pull \"x\": not found"}},"spec":{"activeDeadlineSeconds":1}}`, string(got))
}

// TestSweep: one pass fails the active Job whose pod cannot start, once;
// leaves a finished Job and a pod that is starting alone; reports an app
// pod without touching anything.
func TestSweep(t *testing.T) {
	job := func(name string, conds ...batchv1.JobCondition) *batchv1.Job {
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}, Status: batchv1.JobStatus{Conditions: conds}}
	}
	pod := func(name, jobName string, status corev1.PodStatus) *corev1.Pod {
		labels := map[string]string{"app.kubernetes.io/part-of": "shop"}
		if jobName != "" {
			labels[batchv1.JobNameLabel] = jobName
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: labels}, Status: status}
	}
	client := fake.NewClientset(
		job("migrate-a"), job("seed-b", batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}), job("index-c"),
		pod("migrate-a-1", "migrate-a", waiting("CreateContainerConfigError", "container has runAsNonRoot and image will run as root")),
		pod("seed-b-1", "seed-b", waiting("ErrImagePull", "not found")),
		pod("index-c-1", "index-c", waiting("ContainerCreating", "")),
		pod("db-0", "", waiting("ImagePullBackOff", `Back-off pulling image "x"`)),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shop-5f7c9d8b6-x2k4q", Namespace: "shop", Labels: map[string]string{"app.kubernetes.io/part-of": "shop"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "shop-5f7c9d8b6", UID: "rs-1", Controller: ptr(true)}}},
			Status: waiting("ErrImagePull", "not found")},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other-1", Namespace: "shop", Labels: map[string]string{batchv1.JobNameLabel: "other"}},
			Status: waiting("ErrImagePull", "not found")},
	)
	var reports []string
	o := Options{Namespace: "shop", Selector: "app.kubernetes.io/part-of=shop", Now: func() time.Time { return now },
		Report: func(f Failure) { reports = append(reports, f.String()) }}
	reported := map[string]bool{}
	Sweep(context.Background(), client, o, reported)
	Sweep(context.Background(), client, o, reported)

	assert.Equal(t, []string{
		`pod db-0, container migrate: ImagePullBackOff: Back-off pulling image "x"`,
		"Job migrate-a cannot start: pod migrate-a-1, container migrate: CreateContainerConfigError: container has runAsNonRoot and image will run as root",
	}, reports, "each failure is reported once, over two passes; a Deployment's pod is its rollout's to report")
	var patched []string
	for _, a := range client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok {
			patched = append(patched, p.GetName()+" "+string(p.GetPatch()))
		}
	}
	assert.Equal(t, []string{`migrate-a {"metadata":{"annotations":{"pulumi-jobs/cannot-start":"Job migrate-a cannot start: pod migrate-a-1, container migrate: CreateContainerConfigError: container has runAsNonRoot and image will run as root"}},"spec":{"activeDeadlineSeconds":1}}`}, patched,
		"only the active Job whose pod cannot start is patched, once")
	got, err := client.BatchV1().Jobs("shop").Get(context.Background(), "migrate-a", metav1.GetOptions{})
	require.NoError(t, err)
	require.NotNil(t, got.Spec.ActiveDeadlineSeconds)
	assert.Equal(t, int64(1), *got.Spec.ActiveDeadlineSeconds)
	assert.Equal(t, "Job migrate-a cannot start: pod migrate-a-1, container migrate: CreateContainerConfigError: container has runAsNonRoot and image will run as root",
		got.Annotations[CannotStartAnnotation])
}

func ptr[T any](v T) *T { return &v }
