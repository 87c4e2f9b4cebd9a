package tests

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1sdk "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1sdk "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/pulumi-jobs/pulumi-jobs/deploy/driver"
)

// The measured limits P1 and P2 are compared with: what the cluster and
// Pulumi themselves take, measured on the same cluster in the same run, with
// nothing of ours in the way.

// bareNamespace creates a namespace for a bare measurement, deleted when the
// benchmark ends.
func bareNamespace(b *testing.B, c kubernetes.Interface, name string) string {
	b.Helper()
	ctx := context.Background()
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(b, err)
	b.Cleanup(func() {
		if err := c.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
			b.Logf("deleting namespace %s: %v", name, err)
		}
	})
	return name
}

// bareJobs creates waves×perWave Jobs of seconds each with client-go, as
// our Jobs are made to run on this cluster (kwok's pod-complete delay), one
// wave after the other, each wave awaited Complete through a watch: the
// cluster's own time for the Jobs, W×T plus its Job latency (pod creation,
// scheduling, kwok's start, the Job controller's completion).
func bareJobs(b *testing.B, c kubernetes.Interface, ns string, waves, perWave, seconds int) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	for w := range waves {
		selector := fmt.Sprintf("bench-wave=%d", w)
		watcher, err := c.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector})
		require.NoError(b, err)
		for j := range perWave {
			job := &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w%d-j%d", w, j), Labels: map[string]string{"bench-wave": fmt.Sprint(w)}},
				Spec: batchv1.JobSpec{
					BackoffLimit: new(int32),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"pod-complete.stage.kwok.x-k8s.io/delay": fmt.Sprintf("%ds", seconds)}},
						Spec: corev1.PodSpec{
							RestartPolicy: corev1.RestartPolicyNever,
							Containers:    []corev1.Container{{Name: "job", Image: "ghcr.io/acme/shop:1.0.0", Command: []string{"/app/shop", "job"}}},
						},
					},
				},
			}
			_, err := c.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{})
			require.NoError(b, err)
		}
		complete := map[string]bool{}
		for len(complete) < perWave {
			select {
			case ev, ok := <-watcher.ResultChan():
				require.True(b, ok, "the watch of wave %d ended", w)
				job, isJob := ev.Object.(*batchv1.Job)
				if !isJob || ev.Type == watch.Deleted {
					continue
				}
				for _, cond := range job.Status.Conditions {
					require.False(b, cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue, "bare Job %s failed", job.Name)
					if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
						complete[job.Name] = true
					}
				}
			case <-ctx.Done():
				require.FailNow(b, "bare Jobs did not complete", "wave %d: %d of %d complete", w, len(complete), perWave)
			}
		}
		watcher.Stop()
	}
	return time.Since(start)
}

// bareRollout creates a Deployment like our app's with client-go and
// returns how long the cluster took to roll it out: Available, and
// Progressing with NewReplicaSetAvailable, which is what the provider awaits.
func bareRollout(b *testing.B, c kubernetes.Interface, ns string, replicas int32) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	labels := map[string]string{"app": "bare"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "bare"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/acme/shop:1.0.0"}}},
			},
		},
	}
	watcher, err := c.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=bare"})
	require.NoError(b, err)
	defer watcher.Stop()
	start := time.Now()
	_, err = c.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	require.NoError(b, err)
	for {
		select {
		case ev, ok := <-watcher.ResultChan():
			require.True(b, ok, "the watch of the bare Deployment ended")
			d, isDep := ev.Object.(*appsv1.Deployment)
			if !isDep {
				continue
			}
			available, progressed := false, false
			for _, cond := range d.Status.Conditions {
				available = available || (cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue)
				progressed = progressed || (cond.Type == appsv1.DeploymentProgressing && cond.Reason == "NewReplicaSetAvailable")
			}
			if available && progressed && d.Status.ObservedGeneration >= d.Generation {
				return time.Since(start)
			}
		case <-ctx.Done():
			require.FailNow(b, "the bare Deployment did not roll out")
		}
	}
}

// plainNoChangeUp opens a stack through the same driver whose program
// registers n plain ConfigMaps (n-1 and the stack: n resources), ups it
// once, and returns the wall time of a second up, which changes nothing:
// Pulumi's own no-change up of n resources with the same CLI, engine and
// Kubernetes provider.
func plainNoChangeUp(b *testing.B, e *env, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	r := newStackSuffixed(b, e, "dev", "plain")
	ns := bareNamespace(b, e.cluster.Client, "p2-plain")
	d, err := driver.Open(ctx, driver.Options{
		WorkDir: r.workDir, Stack: r.name, PulumiRoot: e.root, Home: e.home,
		BackendURL: "file://" + r.backendDir, Kubeconfig: e.cluster.Kubeconfig, ProviderPath: e.provider,
		Progress: r.progress,
		Program: func(ctx *pulumi.Context) error {
			for i := range n - 1 {
				name := fmt.Sprintf("plain-%d", i)
				if _, err := corev1sdk.NewConfigMap(ctx, name, &corev1sdk.ConfigMapArgs{
					Metadata: &metav1sdk.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(ns)},
					Data:     pulumi.StringMap{"key": pulumi.String("value")},
				}); err != nil {
					return err
				}
			}
			return nil
		},
	})
	require.NoError(b, err)
	b.Cleanup(func() {
		if _, err := d.Destroy(context.Background()); err != nil {
			b.Logf("destroying the plain stack: %v", err)
		}
	})
	_, err = d.Up(ctx)
	require.NoError(b, err)
	start := time.Now()
	res, err := d.Up(ctx)
	took := time.Since(start)
	require.NoError(b, err)
	for op, count := range summary(b, res.Events) {
		require.True(b, op == apitype.OpSame || count == 0, "the plain stack's second up changes nothing: %d %s", count, op)
	}
	return took
}
