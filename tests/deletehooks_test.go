package tests

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/pulumi-jobs/pulumi-jobs/deploy/driver"
)

// The contract fixture's delete hooks: a pre-delete drain (kept) and a
// post-delete farewell (hook-succeeded).
const (
	contractDrain    = "contract-drain"
	contractFarewell = "contract-farewell"
)

// hookWatch records what the cluster reports in a namespace, in the order
// it reports it: "complete <job>" and "failed <job>" when a Job finishes
// (by its pulumi-jobs/job label, else its name), and "deleted deployment
// <name>".
type hookWatch struct {
	mu     sync.Mutex
	seen   []string
	stopFn func()
}

// watchHooks starts a hookWatch on ns; it is stopped when the test ends.
func watchHooks(t *testing.T, c kubernetes.Interface, ns string) *hookWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	jobs, err := c.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	deployments, err := c.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	w := &hookWatch{}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ev := range jobs.ResultChan() {
			job, ok := ev.Object.(*batchv1.Job)
			if !ok {
				continue
			}
			name := job.Labels[labelJob]
			if name == "" {
				name = job.Name
			}
			for _, cond := range job.Status.Conditions {
				if cond.Status == corev1.ConditionTrue && (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) {
					w.add(strings.ToLower(string(cond.Type)) + " " + name)
				}
			}
		}
	}()
	go func() {
		defer wg.Done()
		for ev := range deployments.ResultChan() {
			if d, ok := ev.Object.(*appsv1.Deployment); ok && ev.Type == watch.Deleted {
				w.add("deleted deployment " + d.Name)
			}
		}
	}()
	w.stopFn = sync.OnceFunc(func() {
		cancel()
		jobs.Stop()
		deployments.Stop()
		wg.Wait()
	})
	t.Cleanup(w.stopFn)
	return w
}

func (w *hookWatch) add(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.seen, s) {
		w.seen = append(w.seen, s)
	}
}

// stop ends the watch and returns what it saw.
func (w *hookWatch) stop() []string {
	w.stopFn()
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.seen)
}

// inOrder asserts that each of steps was seen, in that order.
func inOrder(t *testing.T, seen []string, steps ...string) {
	t.Helper()
	last := -1
	for _, s := range steps {
		i := slices.Index(seen, s)
		if !assert.GreaterOrEqual(t, i, 0, "%q was not seen; seen: %v", s, seen) {
			return
		}
		assert.Greater(t, i, last, "%q came before %q; seen: %v", s, steps, seen)
		last = i
	}
}

// destroyWithDeleteHooks destroys the contract release r (in namespace
// ns, the chart copied to chartDir) as a chart's uninstall runs: first
// with a pre-delete drain that fails, which stops the destroy with the
// app intact and says which hook failed; then, the drain fixed, the
// drain before the app's objects go and the post-delete farewell after.
func destroyWithDeleteHooks(t *testing.T, e *env, r *testStack, config stackConfig) {
	t.Helper()
	ctx := context.Background()
	c := e.cluster.Client
	ns := r.namespace
	chart := config.App["chart"].(map[string]any)

	chart["values"] = map[string]any{"failDrain": true}
	r.write(t, config)
	_, err := r.Up(ctx)
	require.NoError(t, err)
	w := watchHooks(t, c, ns)
	_, err = r.Destroy(ctx)
	var engineErr *driver.EngineError
	require.ErrorAs(t, err, &engineErr, "a failing pre-delete hook fails the destroy")
	assert.True(t, slices.ContainsFunc(engineErr.Diagnostics, func(d string) bool {
		return strings.Contains(d, "pre-delete hook Job/"+contractDrain+" (contract/templates/drain.yaml) of release contract failed")
	}), "the engine's diagnostics name the failed hook: %v", engineErr.Diagnostics)
	seen := w.stop()
	assert.Contains(t, seen, "failed "+contractDrain)
	assert.NotContains(t, seen, "deleted deployment contract")
	_, err = c.AppsV1().Deployments(ns).Get(ctx, "contract", metav1.GetOptions{})
	assert.NoError(t, err, "the app is intact after the failed pre-delete hook")

	delete(chart, "values")
	r.write(t, config)
	_, err = r.Up(ctx)
	require.NoError(t, err)
	w = watchHooks(t, c, ns)
	res, err := r.Destroy(ctx)
	require.NoError(t, err)
	inOrder(t, w.stop(), "complete "+contractDrain, "deleted deployment contract", "complete "+contractFarewell)
	started, finished := sequences(res.Events)
	deployment := "kubernetes:apps/v1:Deployment::contract-" + ns + "/contract"
	after(t, started, finished, deployment, "pulumi-jobs:index:DeleteHooks::contract-pre-delete",
		"the app's Deployment is deleted after the pre-delete hooks ran")
	after(t, started, finished, "pulumi-jobs:index:DeleteHooks::contract-post-delete", deployment,
		"the post-delete hooks run after the app's Deployment is deleted")
}
