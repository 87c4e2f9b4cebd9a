package tests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pulumi-jobs/pulumi-jobs/deploy/driver"
)

// timeUp opens a fresh stack with c and returns the wall time of its up and
// how long the cluster took to make the Deployment Available: from its
// creation to its Available condition, as the cluster recorded them (both
// have a resolution of one second).
func timeUp(b *testing.B, e *env, suffix string, c stackConfig) (wall, available time.Duration) {
	b.Helper()
	r := newStackSuffixed(b, e, "dev", suffix)
	r.write(b, c)
	start := time.Now()
	_, err := r.Up(context.Background())
	require.NoError(b, err)
	wall = time.Since(start)
	dep, err := e.cluster.Client.AppsV1().Deployments(r.namespace).Get(context.Background(), "shop", metav1.GetOptions{})
	require.NoError(b, err)
	cond := condition(dep, appsv1.DeploymentAvailable)
	require.NotNil(b, cond, "the Deployment has an Available condition")
	return wall, cond.LastTransitionTime.Sub(dep.CreationTimestamp.Time)
}

// BenchmarkP1CriticalPath releases W waves of J Jobs of T seconds each and
// compares the up's wall time with the critical path: W×T plus the time the
// cluster itself needed to make the Deployment Available, read from its
// conditions. It also reports the same release with no Jobs (namespace,
// rollout and engine overhead) and the serial sum W×J×T that one-at-a-time
// hooks (Helm) would take. Run with -benchtime 1x: each iteration is a full
// release.
func BenchmarkP1CriticalPath(b *testing.B) {
	e := setup(b)
	const waves, perWave, seconds = 3, 3, 3
	for b.Loop() {
		base, _ := timeUp(b, e, "base", stackConfig{App: app("1.0.0")})
		var jobs []map[string]any
		for w := range waves {
			for j := range perWave {
				jobs = append(jobs, job(fmt.Sprintf("w%d-j%d", w, j), w, fmt.Sprintf("%ds", seconds), nil))
			}
		}
		wall, available := timeUp(b, e, "jobs", stackConfig{App: app("1.0.0"), PreDeploy: jobs})
		critical := waves*seconds*time.Second + available
		serial := waves*perWave*seconds*time.Second + base
		// The honest limit: the same Jobs and a Deployment like the app's,
		// created with client-go on the same cluster and awaited through
		// watches: W×T plus the cluster's own Job latency, plus its rollout.
		ns := bareNamespace(b, e.cluster.Client, "p1-bare")
		bareJobsTook := bareJobs(b, e.cluster.Client, ns, waves, perWave, seconds)
		rollout := bareRollout(b, e.cluster.Client, ns, 1)
		limit := bareJobsTook + rollout
		jobLatency := bareJobsTook - waves*seconds*time.Second
		b.ReportMetric(wall.Seconds(), "s/up")
		b.ReportMetric(wall.Seconds()/critical.Seconds(), "x-critical-path")
		b.ReportMetric(wall.Seconds()/limit.Seconds(), "x-measured-limit")
		b.ReportMetric(wall.Seconds()/serial.Seconds(), "x-serial-hooks")
		fmt.Printf("P1  %d waves × %d jobs × %ds: up %.1fs | critical path %.1fs (W×T + Deployment Available after %.0fs) → %.2f× | rollout-only release %.1fs | serial hooks %.1fs → %.2f×\n",
			waves, perWave, seconds, wall.Seconds(), critical.Seconds(), available.Seconds(), wall.Seconds()/critical.Seconds(),
			base.Seconds(), serial.Seconds(), wall.Seconds()/serial.Seconds())
		fmt.Printf("P1  up %.1fs | measured limit %.1fs = W×T %ds + the cluster's own Job latency %.1fs (bare client-go Jobs, same waves: %.1fs, %.2fs a wave) + a bare Deployment's rollout %.1fs → %.2f× (target ≤ 1.25×); ours beyond the limit %.1fs\n",
			wall.Seconds(), limit.Seconds(), waves*seconds, jobLatency.Seconds(), bareJobsTook.Seconds(), jobLatency.Seconds()/waves,
			rollout.Seconds(), wall.Seconds()/limit.Seconds(), (wall - limit).Seconds())
	}
}

// BenchmarkP2NoChangeUp compares a no-change up of the dev stack with the
// preview of an empty stack (a program that declares nothing), both through
// the same driver and engine.
func BenchmarkP2NoChangeUp(b *testing.B) {
	e := setup(b)
	r := newStack(b, e, "dev")
	ctx := context.Background()
	_, err := r.Up(ctx)
	require.NoError(b, err)
	// As many plain resources as the dev stack has (the stack resource and
	// its objects, as the engine counts them in a no-change up).
	res, err := r.Up(ctx)
	require.NoError(b, err)
	n := 0
	for _, count := range summary(b, res.Events) {
		n += count
	}
	plain := plainNoChangeUp(b, e, n)

	empty := newStackSuffixed(b, e, "dev", "empty")
	emptyDriver, err := driver.Open(ctx, driver.Options{
		WorkDir: empty.workDir, Stack: empty.name, PulumiRoot: e.root, Home: e.home,
		BackendURL: "file://" + empty.backendDir, Kubeconfig: e.cluster.Kubeconfig, ProviderPath: e.provider,
		Program: func(*pulumi.Context) error { return nil }, Progress: empty.progress,
	})
	require.NoError(b, err)

	for b.Loop() {
		start := time.Now()
		_, err := r.Preflight(ctx, "up")
		require.NoError(b, err)
		preflight := time.Since(start)
		start = time.Now()
		_, err = r.Up(ctx)
		require.NoError(b, err)
		up := time.Since(start)
		start = time.Now()
		_, err = emptyDriver.Preview(ctx)
		require.NoError(b, err)
		preview := time.Since(start)
		b.ReportMetric(up.Seconds(), "s/no-change-up")
		b.ReportMetric(preflight.Seconds(), "s/preflight")
		b.ReportMetric(preview.Seconds(), "s/empty-preview")
		b.ReportMetric(up.Seconds()/preview.Seconds(), "x-empty-preview")
		fmt.Printf("P2  no-change up of dev %.2fs (+ the driver's preflight %.2fs) | preview of an empty stack %.2fs → %.2f× (%.2f× with the preflight)\n",
			up.Seconds(), preflight.Seconds(), preview.Seconds(), up.Seconds()/preview.Seconds(), (up+preflight).Seconds()/preview.Seconds())
		limit := plain + 500*time.Millisecond
		b.ReportMetric(plain.Seconds(), "s/plain-no-change-up")
		b.ReportMetric(up.Seconds()/limit.Seconds(), "x-plain-limit")
		fmt.Printf("P2  no-change up of dev %.2fs | Pulumi's own no-change up of %d plain resources (ConfigMaps and the stack; same driver, CLI and provider) %.2fs, limit + 0.5 s = %.2fs → %.2f× (target ≤ 1.0×); ours beyond the plain up %.2fs\n",
			up.Seconds(), n, plain.Seconds(), limit.Seconds(), up.Seconds()/limit.Seconds(), (up - plain).Seconds())
	}
}
