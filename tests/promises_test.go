package tests

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
)

// jobsOf returns the release's Jobs in the cluster by their config name.
func jobsOf(t *testing.T, c kubernetes.Interface, ns string) map[string][]batchv1.Job {
	t.Helper()
	list, err := c.BatchV1().Jobs(ns).List(context.Background(), listOpts(labelJob))
	require.NoError(t, err)
	out := map[string][]batchv1.Job{}
	for _, j := range list.Items {
		out[j.Labels[labelJob]] = append(out[j.Labels[labelJob]], j)
	}
	return out
}

// only returns the single Job of name, failing if there is not exactly one.
func only(t *testing.T, jobs map[string][]batchv1.Job, name string) batchv1.Job {
	t.Helper()
	require.Len(t, jobs[name], 1, "exactly one Job %q", name)
	return jobs[name][0]
}

// sequences returns, per resource (type::name), the sequence number of the
// engine event that started its step and of the one that finished it.
func sequences(evts []events.EngineEvent) (started, finished map[string]int) {
	started, finished = map[string]int{}, map[string]int{}
	key := func(urn string) string {
		parts := strings.Split(urn, "::")
		return typeOf(urn) + "::" + parts[len(parts)-1]
	}
	for _, e := range evts {
		if p := e.ResourcePreEvent; p != nil {
			if _, seen := started[key(p.Metadata.URN)]; !seen {
				started[key(p.Metadata.URN)] = e.Sequence
			}
		}
		if o := e.ResOutputsEvent; o != nil {
			finished[key(o.Metadata.URN)] = e.Sequence
		}
	}
	return started, finished
}

// after asserts that the step of later started after the step of earlier
// finished (keys as sequences gives them); both must have been seen, so a
// step that never ran or a misspelt key fails instead of reading as 0.
func after(t *testing.T, started, finished map[string]int, later, earlier string, msgAndArgs ...any) {
	t.Helper()
	require.Contains(t, started, later, "no step of %s started", later)
	require.Contains(t, finished, earlier, "no step of %s finished", earlier)
	assert.Greater(t, started[later], finished[earlier], msgAndArgs...)
}

// The labels every release puts on its Jobs, as literals: the tests pin them.
const (
	labelJob    = "pulumi-jobs/job"
	labelPartOf = "app.kubernetes.io/part-of"
)

// jobT is the start of the sequences key of a Job; a release named shop
// names its Jobs shop-pre-deploy-<job> and shop-post-deploy-<job>.
const (
	jobT     = "kubernetes:batch/v1:Job::"
	preJobT  = jobT + "shop-pre-deploy-"
	postJobT = jobT + "shop-post-deploy-"
	// A chart's hook Job has one name in either phase.
	hookJobT = jobT + "shop-hook-"
)

// TestOrderAndPodSecurity: wave k+1 starts after wave k completed, the new
// ReplicaSet after the last migration, post-deploy Jobs after the
// Deployment became Available; and every pod was admitted by "restricted".
func TestOrderAndPodSecurity(t *testing.T) {
	e := setup(t)
	r := newStackWith(t, e, stackConfig{
		App:        app("1.0.0"),
		PreDeploy:  []map[string]any{job("a", 0, "2s", nil), job("b", 0, "2s", nil), job("c", 1, "1s", nil)},
		PostDeploy: []map[string]any{job("p", 0, "1s", nil), job("q", 1, "1s", nil)},
	})
	ctx := context.Background()
	res, err := r.Up(ctx)
	require.NoError(t, err)
	c := e.cluster.Client
	jobs := jobsOf(t, c, r.namespace)
	a, b, cc, p, q := only(t, jobs, "a"), only(t, jobs, "b"), only(t, jobs, "c"), only(t, jobs, "p"), only(t, jobs, "q")

	lastPre := latest(a.Status.CompletionTime.Time, b.Status.CompletionTime.Time, cc.Status.CompletionTime.Time)
	assert.False(t, cc.CreationTimestamp.Time.Before(latest(a.Status.CompletionTime.Time, b.Status.CompletionTime.Time)),
		"wave 1 Job created before wave 0 completed")

	rs := newReplicaSet(t, c, r.namespace, "shop")
	assert.False(t, rs.CreationTimestamp.Time.Before(lastPre), "the new ReplicaSet was created before the last migration completed")

	dep, err := c.AppsV1().Deployments(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	available := condition(dep, appsv1.DeploymentAvailable)
	require.NotNil(t, available)
	assert.False(t, p.CreationTimestamp.Time.Before(available.LastTransitionTime.Time), "post-deploy Job created before the Deployment was Available")
	assert.False(t, q.CreationTimestamp.Time.Before(p.Status.CompletionTime.Time))

	// The engine's own record is strictly ordered (timestamps above have a
	// resolution of one second).
	started, finished := sequences(res.Events)
	after(t, started, finished, preJobT+"c", preJobT+"a")
	after(t, started, finished, preJobT+"c", preJobT+"b")
	dk := "kubernetes:apps/v1:Deployment::shop"
	for _, pre := range []string{"a", "b", "c"} {
		after(t, started, finished, dk, preJobT+pre, "the Deployment started before %s finished", pre)
	}
	after(t, started, finished, postJobT+"p", dk)
	after(t, started, finished, postJobT+"p", "kubernetes:core/v1:Service::shop")
	after(t, started, finished, postJobT+"q", postJobT+"p")

	ns, err := c.CoreV1().Namespaces().Get(ctx, r.namespace, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])
	evs, err := c.CoreV1().Events(r.namespace).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, ev := range evs.Items {
		assert.NotEqual(t, "FailedCreate", ev.Reason, "%s %s: %s", ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.Message)
	}
	pods, err := c.CoreV1().Pods(r.namespace).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, pods.Items, 6, "5 Job pods and 1 app pod were admitted")
}

// TestParallelWave: two Jobs of one wave ran at the same time.
func TestParallelWave(t *testing.T) {
	e := setup(t)
	r := newStackWith(t, e, stackConfig{
		App:       app("1.0.0"),
		PreDeploy: []map[string]any{job("x", 0, "4s", nil), job("y", 0, "4s", nil)},
	})
	res, err := r.Up(context.Background())
	require.NoError(t, err)
	jobs := jobsOf(t, e.cluster.Client, r.namespace)
	x, y := only(t, jobs, "x"), only(t, jobs, "y")
	assert.True(t, x.Status.StartTime.Time.Before(y.Status.CompletionTime.Time) && y.Status.StartTime.Time.Before(x.Status.CompletionTime.Time),
		"x ran %s–%s, y ran %s–%s: the intervals must overlap", x.Status.StartTime, x.Status.CompletionTime, y.Status.StartTime, y.Status.CompletionTime)
	started, finished := sequences(res.Events)
	assert.Less(t, started[preJobT+"y"], finished[preJobT+"x"], "y started before x finished")
	assert.Less(t, started[preJobT+"x"], finished[preJobT+"y"], "x started before y finished")
}

// TestRerunPolicies: a new image re-runs onChange Jobs exactly once and
// removes their previous run; once and onRelease Jobs do not run; a new
// release id then runs onRelease Jobs once.
func TestRerunPolicies(t *testing.T) {
	e := setup(t)
	cfg := stackConfig{
		App:     app("1.0.0"),
		Release: "r1",
		PreDeploy: []map[string]any{
			job("m", 0, "1s", nil),
			job("o", 0, "1s", map[string]any{"rerun": "once"}),
			// onRelease is onChange plus the release trigger (issue 3), so to see
			// the trigger alone this Job runs an image of its own.
			job("rel", 0, "1s", map[string]any{"rerun": "onRelease", "image": "ghcr.io/acme/shop-tools:7"}),
		},
		PostDeploy: []map[string]any{job("p", 0, "1s", nil)},
	}
	r := newStackWith(t, e, cfg)
	ctx := context.Background()
	c := e.cluster.Client
	_, err := r.Up(ctx)
	require.NoError(t, err)
	first := jobsOf(t, c, r.namespace)

	cfg.App = app("1.1.0")
	r.write(t, cfg)
	_, err = r.Up(ctx)
	require.NoError(t, err)
	second := jobsOf(t, c, r.namespace)
	for _, name := range []string{"m", "p"} {
		old, cur := only(t, first, name), only(t, second, name)
		assert.NotEqual(t, old.UID, cur.UID, "%s ran again", name)
		assert.Equal(t, "ghcr.io/acme/shop:1.1.0", cur.Spec.Template.Spec.Containers[0].Image)
		assert.True(t, complete(cur))
		_, err := c.BatchV1().Jobs(r.namespace).Get(ctx, old.Name, metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "the previous run of %s is gone", name)
	}
	for _, name := range []string{"o", "rel"} {
		assert.Equal(t, only(t, first, name).UID, only(t, second, name).UID, "%s did not run", name)
	}

	cfg.Release = "r2"
	r.write(t, cfg)
	_, err = r.Up(ctx)
	require.NoError(t, err)
	third := jobsOf(t, c, r.namespace)
	assert.NotEqual(t, only(t, second, "rel").UID, only(t, third, "rel").UID, "rel ran for the new release")
	for _, name := range []string{"m", "o", "p"} {
		assert.Equal(t, only(t, second, name).UID, only(t, third, name).UID, "%s did not run for a new release id", name)
	}
}

// TestFailingMigration: a failed migration fails the up naming the Job and
// the reason, leaves the Deployment and the post-deploy Jobs as they were;
// an up with no change runs it again instead of hanging; fixed, it succeeds.
func TestFailingMigration(t *testing.T) {
	e := setup(t)
	cfg := stackConfig{
		App:        app("1.0.0"),
		PreDeploy:  []map[string]any{job("migrate", 0, "1s", map[string]any{"backoffLimit": 0})},
		PostDeploy: []map[string]any{job("smoke", 0, "1s", nil)},
	}
	r := newStackWith(t, e, cfg)
	ctx := context.Background()
	c := e.cluster.Client
	_, err := r.Up(ctx)
	require.NoError(t, err)
	before, err := c.AppsV1().Deployments(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	smoke := only(t, jobsOf(t, c, r.namespace), "smoke")

	cfg.App = app("2.0.0")
	cfg.PreDeploy = []map[string]any{job("migrate", 0, "1s", map[string]any{"backoffLimit": 0, "annotations": failing()})}
	r.write(t, cfg)
	_, err = r.Up(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "migrate")
	assert.Contains(t, err.Error(), "BackoffLimitExceeded")

	after, err := c.AppsV1().Deployments(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, before.Generation, after.Generation, "the Deployment was not touched")
	assert.Equal(t, "ghcr.io/acme/shop:1.0.0", after.Spec.Template.Spec.Containers[0].Image)
	jobs := jobsOf(t, c, r.namespace)
	assert.Equal(t, smoke.UID, only(t, jobs, "smoke").UID, "no post-deploy Job of the failed release exists")
	failedRuns := uids(jobs["migrate"])

	start := time.Now()
	_, err = r.Up(ctx)
	require.Error(t, err, "the migration still fails")
	assert.Contains(t, err.Error(), "BackoffLimitExceeded")
	assert.Less(t, time.Since(start), 90*time.Second, "a failed Job is run again, not re-awaited until the timeout")
	rerun := false
	for _, j := range jobsOf(t, c, r.namespace)["migrate"] {
		rerun = rerun || !slices.Contains(failedRuns, j.UID)
	}
	assert.True(t, rerun, "an up with no change ran the failed migration again (replaceUnready)")

	cfg.PreDeploy = []map[string]any{job("migrate", 0, "1s", map[string]any{"backoffLimit": 0})}
	r.write(t, cfg)
	_, err = r.Up(ctx)
	require.NoError(t, err)
	fixed, err := c.AppsV1().Deployments(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/acme/shop:2.0.0", fixed.Spec.Template.Spec.Containers[0].Image)
	newSmoke := only(t, jobsOf(t, c, r.namespace), "smoke")
	assert.Equal(t, "ghcr.io/acme/shop:2.0.0", newSmoke.Spec.Template.Spec.Containers[0].Image)
}

// TestTimeout: a Job past its timeout fails the up within timeout + 30 s,
// naming DeadlineExceeded.
func TestTimeout(t *testing.T) {
	e := setup(t)
	r := newStackWith(t, e, stackConfig{
		App:       app("1.0.0"),
		PreDeploy: []map[string]any{job("slow", 0, "10m", map[string]any{"timeout": "5s", "backoffLimit": 0})},
	})
	// A hanging wait must fail this test, not stall the suite.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	_, err := r.Up(ctx)
	took := time.Since(start)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DeadlineExceeded")
	assert.Contains(t, err.Error(), "slow")
	assert.Less(t, took, 5*time.Second+30*time.Second, "the up failed %s after it started", took)
}

// TestSecretStaysSecret: the database URL is in the cluster's Secret and
// nowhere in plaintext: not in the state, the outputs or the engine events.
func TestSecretStaysSecret(t *testing.T) {
	e := setup(t)
	r := newStackWith(t, e, stackConfig{App: app("1.0.0"), PreDeploy: []map[string]any{job("migrate", 0, "1s", nil)}})
	const url = "postgres://shop:pl41n-t3xt-pa55word@db.internal:5432/shop"
	ctx := context.Background()
	stack := r.Stack()
	require.NoError(t, stack.SetConfig(ctx, config.Key(config.KeyDatabaseURL), auto.ConfigValue{Value: url, Secret: true}))
	res, err := r.Up(ctx)
	require.NoError(t, err)

	forbidden := []string{url, base64.StdEncoding.EncodeToString([]byte(url))}
	// The state as the backend stores it (stack export would decrypt).
	var state strings.Builder
	require.NoError(t, filepath.WalkDir(r.backendDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		state.Write(b)
		return err
	}))
	require.Contains(t, state.String(), `"ciphertext"`, "the state holds encrypted values")
	evts, err := json.Marshal(res.Events)
	require.NoError(t, err)
	outs, err := json.Marshal(res.Outputs)
	require.NoError(t, err)
	stackFile, err := os.ReadFile(filepath.Join(r.workDir, "Pulumi."+r.name+".yaml"))
	require.NoError(t, err)
	for _, s := range forbidden {
		assert.NotContains(t, state.String(), s, "state files")
		assert.NotContains(t, string(evts), s, "engine events")
		assert.NotContains(t, string(outs), s, "outputs")
		assert.NotContains(t, r.progress.String(), s, "progress")
		assert.NotContains(t, string(stackFile), s, "stack file")
	}
	secrets, err := e.cluster.Client.CoreV1().Secrets(r.namespace).List(ctx, listOpts(labelPartOf+"=shop"))
	require.NoError(t, err)
	require.Len(t, secrets.Items, 1)
	assert.Equal(t, url, string(secrets.Items[0].Data["DATABASE_URL"]))
}

// TestPreviewMatchesUp: the steps a preview announces are the steps the
// following up performs.
func TestPreviewMatchesUp(t *testing.T) {
	e := setup(t)
	cfg := stackConfig{
		App:        app("1.0.0"),
		Release:    "r1",
		PreDeploy:  []map[string]any{job("m", 0, "1s", nil), job("o", 1, "1s", map[string]any{"rerun": "once"})},
		PostDeploy: []map[string]any{job("p", 0, "1s", map[string]any{"rerun": "onRelease"})},
	}
	r := newStackWith(t, e, cfg)
	ctx := context.Background()
	for i, change := range []func(){
		func() {},
		func() { cfg.App = app("1.1.0") },
		func() { cfg.Release = "r2" },
		func() {},
	} {
		change()
		r.write(t, cfg)
		preview, err := r.Preview(ctx)
		require.NoError(t, err)
		up, err := r.Up(ctx)
		require.NoError(t, err)
		assert.Equal(t, steps(preview.Events), steps(up.Events), "step %d: the preview announced other steps than the up performed", i)
	}
}

// steps lists "op type::name" of every step the engine announced, sorted.
func steps(evts []events.EngineEvent) []string {
	var out []string
	for _, e := range evts {
		if p := e.ResourcePreEvent; p != nil {
			parts := strings.Split(p.Metadata.URN, "::")
			out = append(out, string(p.Metadata.Op)+" "+typeOf(p.Metadata.URN)+"::"+parts[len(parts)-1])
		}
	}
	slices.Sort(out)
	return out
}

// TestDestroy: destroy removes every object of the release and the namespace
// the stack created; a namespace it did not create stays.
func TestDestroy(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	c := e.cluster.Client
	for _, own := range []bool{true, false} {
		r := newStackWith(t, e, stackConfig{App: app("1.0.0"), PreDeploy: []map[string]any{job("m", 0, "1s", nil)}, CreateNamespace: &own})
		if !own {
			_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.namespace}}, metav1.CreateOptions{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), r.namespace, metav1.DeleteOptions{}) })
		}
		_, err := r.Up(ctx)
		require.NoError(t, err)
		_, err = r.Destroy(ctx)
		require.NoError(t, err)
		_, err = c.CoreV1().Namespaces().Get(ctx, r.namespace, metav1.GetOptions{})
		if own {
			assert.True(t, apierrors.IsNotFound(err), "the namespace the stack created is gone")
			continue
		}
		require.NoError(t, err, "a namespace the stack did not create stays")
		jobs, err := c.BatchV1().Jobs(r.namespace).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, jobs.Items)
		deps, err := c.AppsV1().Deployments(r.namespace).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, deps.Items)
		svcs, err := c.CoreV1().Services(r.namespace).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, svcs.Items)
	}
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

func uids(jobs []batchv1.Job) []types.UID {
	var out []types.UID
	for _, j := range jobs {
		out = append(out, j.UID)
	}
	return out
}

func condition(d *appsv1.Deployment, typ appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == typ {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// newReplicaSet returns the Deployment's ReplicaSet of its current revision.
func newReplicaSet(t *testing.T, c kubernetes.Interface, ns, name string) appsv1.ReplicaSet {
	t.Helper()
	ctx := context.Background()
	d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	sets, err := c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, rs := range sets.Items {
		if metav1.IsControlledBy(&rs, d) && rs.Annotations["deployment.kubernetes.io/revision"] == d.Annotations["deployment.kubernetes.io/revision"] {
			return rs
		}
	}
	require.FailNow(t, "no ReplicaSet of the current revision")
	return appsv1.ReplicaSet{}
}
