package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRealNodePodSettings proves on real containers what TestPodSettings
// can only show as specs on kwok's nodes (docs/pod-settings.md):
//   - the database URL, password included, read from a Secret the platform
//     wrote (an env entry's secretKeyRef, no databaseUrl config) reaches the
//     processes: the migration applies the schema in PostgreSQL, which
//     checks the password (scram-sha-256), and the app's readiness reads it;
//   - a post-deploy Job with a native sidecar that never exits by itself
//     (an init container with restartPolicy Always) completes once its main
//     container exits: the kubelet stops the sidecar.
func TestRealNodePodSettings(t *testing.T) {
	rn := startRealNode(t)
	ctx := context.Background()
	client := rn.env.cluster.Client
	r := newStack(t, rn.env, "dev")
	rn.namespace(t, r.namespace)
	db := strings.ReplaceAll(r.namespace, "-", "_")
	require.NoError(t, rn.pg.CreateDatabase(ctx, db))
	_, err := client.CoreV1().Secrets(r.namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-db"},
		StringData: map[string]string{"url": rn.pg.DatabaseURL(rn.node.HostIP, db)},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	fromSecret := map[string]any{"env": []any{map[string]any{
		"name": "DATABASE_URL", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "shop-db", "key": "url"}},
	}}}
	app := realApp("v1")
	app["pod"] = fromSecret
	no := false
	r.write(t, stackConfig{
		App:             app,
		CreateNamespace: &no,
		PreDeploy: []map[string]any{realJob("migrate", "pulumi-jobs.local/migrate:v1", []string{"--to", "1"},
			map[string]any{"pod": fromSecret})},
		PostDeploy: []map[string]any{realJob("smoke", "pulumi-jobs.local/smoke:v1",
			[]string{"--url", "http://shop:8080/version", "--expect", "v1 schema=1"},
			map[string]any{"pod": map[string]any{"sidecars": []any{map[string]any{"name": "proxy", "image": "pulumi-jobs.local/pause:v1"}}}})},
	})
	start := time.Now()
	_, err = r.Up(ctx)
	require.NoError(t, err, "engine progress:\n%s", r.progress.String())
	t.Logf("release with the database URL from a Secret and a sidecar: %s", time.Since(start).Round(100*time.Millisecond))
	checkReleased(t, rn, r, db, "v1", 1)

	smoke := jobOf(t, rn.env, r.namespace, "smoke")
	assert.True(t, complete(smoke), "the Job with a sidecar that never exits by itself completed")
	pods, err := client.CoreV1().Pods(r.namespace).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + smoke.Name})
	require.NoError(t, err)
	require.Len(t, pods.Items, 1)
	p := pods.Items[0]
	require.Len(t, p.Spec.InitContainers, 1)
	assert.Equal(t, "proxy", p.Spec.InitContainers[0].Name)
	require.NotNil(t, p.Spec.InitContainers[0].RestartPolicy)
	assert.Equal(t, corev1.ContainerRestartPolicyAlways, *p.Spec.InitContainers[0].RestartPolicy, "a native sidecar")
	// The kubelet stops the sidecar once the main container has exited; its
	// status may lag the Job's completion by a moment.
	var sidecar, main *corev1.ContainerStateTerminated
	require.Eventually(t, func() bool {
		got, err := client.CoreV1().Pods(r.namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil || len(got.Status.InitContainerStatuses) != 1 || len(got.Status.ContainerStatuses) != 1 {
			return false
		}
		sidecar = got.Status.InitContainerStatuses[0].State.Terminated
		main = got.Status.ContainerStatuses[0].State.Terminated
		return sidecar != nil && main != nil
	}, 30*time.Second, 500*time.Millisecond, "the sidecar and the main container have both terminated")
	assert.Equal(t, int32(0), main.ExitCode, "the smoke test passed")
	assert.False(t, sidecar.FinishedAt.Time.Before(main.FinishedAt.Time), "the sidecar ran until the main container had exited")
	assert.Equal(t, int32(0), sidecar.ExitCode, "the sidecar was stopped (SIGTERM), not failed")
}
