package tests

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAppFromChart releases a Helm chart whose migrations are hooks
// (infra/chart/testdata/shop, copied to charts/shop of the project) with a
// few lines of config. Its hooks run as our phases on the real provider:
//   - first release, an install: the hook ConfigMap (weight -10) and the
//     install-only Secret before the migration (-5), before the app; the
//     pre-upgrade backup does not run; the smoke test (5) after the
//     rollout, and the test Pod (0) last, as helm test runs after the
//     release; the migration's and the test's runs are kept, the smoke
//     test's is deleted once the hooks succeeded (its hook-delete-policy is
//     hook-succeeded, as Helm deletes it);
//   - the next up, which changes no input, is not an upgrade: it runs
//     nothing and changes nothing in the cluster (it only forgets the
//     smoke test's deleted run), and the one after reports no change;
//   - an image bump, previewed first (the preview announces the up's
//     steps), is an upgrade: the migration then the backup (its first run)
//     before the new ReplicaSet, the smoke test and the test hook after
//     it, each once; the install-only Secret is left alone;
//   - a failing pre-upgrade hook is reported by the driver (hook, phase,
//     wave, reason), leaves the app as it was and runs no post hook.
func TestAppFromChart(t *testing.T) {
	e := setup(t)
	r := newStack(t, e, "dev")
	copyTree(t, filepath.Join(e.root, "infra", "chart", "testdata", "shop"), filepath.Join(r.workDir, "charts", "shop"))
	chart := map[string]any{"path": "charts/shop", "tests": true}
	cfg := stackConfig{App: map[string]any{"name": "shop", "image": "ghcr.io/org/shop:v1.0.0", "chart": chart}}
	r.write(t, cfg)
	ctx := context.Background()
	c := e.cluster.Client
	ns := r.namespace

	res, err := r.Up(ctx)
	require.NoError(t, err)
	started, finished := sequences(res.Events)
	hookConfig := "kubernetes:core/v1:ConfigMap::shop-hook-" + ns + "/shop-migrate"
	secret := "kubernetes:core/v1:Secret::shop-hook-" + ns + "/shop-initial-password"
	record := "kubernetes:core/v1:ConfigMap::shop-chart-record"
	deployment := "kubernetes:apps/v1:Deployment::shop-" + ns + "/shop"
	service := "kubernetes:core/v1:Service::shop-" + ns + "/shop"
	appConfig := "kubernetes:core/v1:ConfigMap::shop-" + ns + "/shop-config"
	migrate, backup := hookJobT+"shop-migrate", hookJobT+"shop-backup"
	testHook, smoke := hookJobT+"test-connection", hookJobT+"shop-smoke-test"
	for _, k := range []string{hookConfig, secret, deployment, service, appConfig, migrate, testHook, smoke, record} {
		require.Contains(t, finished, k, "the first release created %s", k)
	}
	assert.NotContains(t, finished, backup, "an install does not run the pre-upgrade backup")
	after(t, started, finished, migrate, hookConfig, "the migration started before its ConfigMap hook was created")
	after(t, started, finished, migrate, secret, "the migration started before the install Secret was created")
	after(t, started, finished, record, testHook, "the record was written before the last hook finished")
	for _, k := range []string{deployment, service, appConfig} {
		after(t, started, finished, k, migrate, "%s started before the last pre-deploy hook finished", k)
		after(t, started, finished, smoke, k, "the smoke test started before %s was awaited", k)
	}
	after(t, started, finished, testHook, smoke, "the test hook started before the post-upgrade hooks finished")

	jobs := jobsOf(t, c, ns)
	migrated, tested := only(t, jobs, "shop-migrate"), only(t, jobs, "test-connection")
	for _, j := range []string{"shop-migrate", "test-connection"} {
		assert.True(t, complete(only(t, jobs, j)), "%s completed and is kept", j)
	}
	assert.Empty(t, jobs["shop-smoke-test"], "the smoke test ran (its step finished) and its hook-succeeded policy deleted its Job")
	assert.Len(t, jobs, 2, "not the backup")
	assert.Equal(t, "ghcr.io/org/shop:v1.0.0", migrated.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, "pre-install,pre-upgrade", migrated.Annotations["pulumi-jobs/hook"], "the hook's events, recorded")
	assert.NotContains(t, migrated.Annotations, "helm.sh/hook", "Helm's hook annotations are not left on a hook we run")
	assert.Equal(t, []string{"wget", "-qO-", "http://shop:80/healthz"}, only(t, jobs, "test-connection").Spec.Template.Spec.Containers[0].Command,
		"the test Pod runs as a Job")
	pw, err := c.CoreV1().Secrets(ns).Get(ctx, "shop-initial-password", metav1.GetOptions{})
	require.NoError(t, err)
	rs := newReplicaSet(t, c, ns, "shop")
	assert.False(t, rs.CreationTimestamp.Time.Before(migrated.Status.CompletionTime.Time), "the ReplicaSet was created before the pre-deploy hooks completed")
	rec, err := c.CoreV1().ConfigMaps(ns).Get(ctx, "pulumi-jobs.chart.shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "1", rec.Annotations["pulumi-jobs/revision"], "the install is revision 1")

	// The next up changes no input (chart, values, image): not an upgrade,
	// as Flux's helm-controller decides it. No hook runs and the app is
	// left as the install applied it, though the chart now renders
	// .Release.IsUpgrade (shop.example.com/is-upgrade); the state forgets
	// the smoke test's run that its policy deleted. Then an up changes
	// nothing at all.
	res, err = r.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]apitype.OpType{smoke: apitype.OpDelete}, changed(res.Events),
		"no hook ran, nothing was updated; the deleted smoke test's run left the state")
	dep, err := c.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "false", dep.Annotations["shop.example.com/is-upgrade"], "the app is as the install applied it")
	upChangesNothing(t, r)
	jobs = jobsOf(t, c, ns)
	assert.Equal(t, migrated.UID, only(t, jobs, "shop-migrate").UID, "the migration did not run again")
	assert.Equal(t, tested.UID, only(t, jobs, "test-connection").UID, "the test did not run again")

	cfg.App["image"] = "ghcr.io/org/shop:v1.1.0"
	r.write(t, cfg)
	preview, err := r.Preview(ctx)
	require.NoError(t, err)
	res, err = r.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, steps(preview.Events), steps(res.Events), "the preview announced other steps than the up performed")
	// A replaced Job's last step is the deletion of its previous run, at the
	// end of the up: order by the step that created the new run.
	started, finished = sequences(res.Events)
	// The backup's run is new (its last one left the state when no input
	// changed): its create step; the migration's replaces its last run.
	migrateRun, backupRun := newRunCreated(res.Events, migrate), finished[backup]
	require.Positive(t, migrateRun, "the engine reported the creation of the migration's new run")
	require.Positive(t, backupRun, "the engine reported the creation of the backup's new run")
	assert.Greater(t, backupRun, migrateRun, "weight 0 ran before weight -5 finished")
	assert.Greater(t, started[deployment], backupRun, "the rollout started before the upgrade hooks completed")
	after(t, started, finished, smoke, deployment, "the smoke test started before the rollout was awaited (Available)")
	// A replaced Job's last step is the deletion of the previous run, after
	// the new one completed (create-before-delete).
	assert.Equal(t, map[string]apitype.OpType{
		migrate:    apitype.OpDeleteReplaced,
		backup:     apitype.OpCreate,
		deployment: apitype.OpUpdate,
		smoke:      apitype.OpCreate,
		testHook:   apitype.OpDeleteReplaced,
		record:     apitype.OpUpdate,
		// The post-delete cleanup it keeps for destroy takes the new image.
		"pulumi-jobs:index:DeleteHooks::shop-post-delete": apitype.OpUpdate,
	}, changed(res.Events), "an upgrade runs every upgrade hook once around the rollout, and nothing else: "+
		"not the hook ConfigMap, not the install-only Secret")
	dep, err = c.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "true", dep.Annotations["shop.example.com/is-upgrade"], "rendered as an upgrade")
	jobs = jobsOf(t, c, ns)
	backedUp := only(t, jobs, "shop-backup")
	assert.NotEqual(t, tested.UID, only(t, jobs, "test-connection").UID, "the test hook ran again")
	assert.NotEqual(t, migrated.UID, only(t, jobs, "shop-migrate").UID, "the migration ran again")
	assert.Equal(t, "ghcr.io/org/shop:v1.1.0", backedUp.Spec.Template.Spec.Containers[0].Image)
	rs = newReplicaSet(t, c, ns, "shop")
	assert.Equal(t, "ghcr.io/org/shop:v1.1.0", rs.Spec.Template.Spec.Containers[0].Image)
	assert.False(t, rs.CreationTimestamp.Time.Before(backedUp.Status.CompletionTime.Time), "the new ReplicaSet was created before the upgrade hooks completed")
	assert.Empty(t, jobs["shop-smoke-test"], "the smoke test ran again, and its policy deleted it again")
	pw2, err := c.CoreV1().Secrets(ns).Get(ctx, "shop-initial-password", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, pw.UID, pw2.UID, "the install-only Secret is kept")

	cfg.App["image"] = "ghcr.io/org/shop:v1.2.0"
	chart["values"] = map[string]any{"backup": map[string]any{"podAnnotations": failing()}}
	r.write(t, cfg)
	start := time.Now()
	res, err = r.Up(ctx)
	require.Error(t, err, "the backup hook fails")
	failed, err := r.FailedJobs(ctx, start)
	require.NoError(t, err)
	require.Len(t, failed, 1, "only the backup hook failed")
	assert.Equal(t, "shop-backup", failed[0].ConfigName, "the hook's name, as the chart names it")
	assert.Equal(t, "pre-deploy", failed[0].Phase)
	assert.Equal(t, "1", failed[0].Wave, "weight 0 is the second pre-deploy wave")
	assert.Equal(t, "BackoffLimitExceeded", failed[0].Reason)
	dep, err = c.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/org/shop:v1.1.0", dep.Spec.Template.Spec.Containers[0].Image, "a failed pre-upgrade hook left the app as it was")
	assert.Equal(t, rs.Name, newReplicaSet(t, c, ns, "shop").Name, "no new ReplicaSet")
	started, _ = sequences(res.Events)
	require.Contains(t, started, backup, "the engine reported the failing backup's step")
	assert.NotContains(t, started, smoke, "no post hook of the failed release ran")
}

// newRunCreated returns the sequence number of the engine event that
// finished creating the new run of the replaced resource key (type::name).
func newRunCreated(evts []events.EngineEvent, key string) int {
	for _, e := range evts {
		if o := e.ResOutputsEvent; o != nil && o.Metadata.Op == apitype.OpCreateReplacement && shortURN(o.Metadata.URN) == key {
			return e.Sequence
		}
	}
	return -1
}
