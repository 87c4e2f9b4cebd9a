package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// The ledger fixture's hooks (infra/chart/testdata/ledger), released as
// "ledger": its Job names, and our Jobs' resources (one per hook, in
// either phase).
const (
	ledgerBackup  = "ledger-backup"                                                // pre-upgrade, another image
	ledgerMigrate = "ledger-migrate"                                               // post-install,pre-upgrade
	ledgerSeed    = "ledger-seed"                                                  // post-install
	ledgerViews   = "ledger-refresh-materialized-views-after-every-schema-changes" // 60 characters, post-install,post-upgrade
	ledgerJobT    = jobT + "ledger-hook-"
)

// TestChartLifecycle releases a chart that bundles its database, as its
// authors meant it for Helm, and checks each step against Helm's own run
// of the same chart on the same cluster:
//   - install: the migration once, after the database and the app; the
//     seed once; the backup never; a password generated;
//   - an up that changes nothing: nothing runs (the preview says so), the
//     password and the app's ReplicaSets stay;
//   - an image bump: the backup, then the migration, once each, before
//     the new ReplicaSet; the 60-character hook after it; the seed not;
//     the password kept (lookup).
func TestChartLifecycle(t *testing.T) {
	e := setup(t)
	r := newStack(t, e, "dev")
	copyTree(t, filepath.Join(e.root, "infra", "chart", "testdata", "ledger"), filepath.Join(r.workDir, "charts", "ledger"))
	cfg := stackConfig{App: map[string]any{"name": "ledger", "image": "ghcr.io/acme/ledger:1.0.0", "chart": map[string]any{"path": "charts/ledger"}}}
	r.write(t, cfg)
	ctx := context.Background()
	c := e.cluster.Client
	ns := r.namespace
	db, app := deploymentT+"ledger-"+ns+"/ledger-db", deploymentT+"ledger-"+ns+"/ledger"
	backup, migrate, seed := ledgerJobT+ledgerBackup, ledgerJobT+ledgerMigrate, ledgerJobT+ledgerSeed

	// Install.
	preview, err := r.Preview(ctx)
	require.NoError(t, err)
	res, err := r.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, steps(preview.Events), steps(res.Events), "the preview announced other steps than the up performed")
	started, finished := sequences(res.Events)
	assert.NotContains(t, finished, backup, "an install does not run the pre-upgrade backup")
	for _, k := range []string{db, app} {
		after(t, started, finished, migrate, k, "the post-install migration started before %s was rolled out", k)
	}
	after(t, started, finished, seed, migrate, "the seed (weight 5) started before the migration (0) finished")
	installed := hookRuns(t, c, ns)
	assert.Equal(t, []string{ledgerMigrate, ledgerViews, ledgerSeed}, keys(installed), "the install ran each install hook once")
	views := only(t, jobsOf(t, c, ns), ledgerViews)
	assert.LessOrEqual(t, len(views.Name), 63, "the 60-character hook runs as a valid Job name: %s", views.Name)
	assert.Equal(t, "post-install,post-upgrade", views.Annotations["pulumi-jobs/hook"])
	password := secretData(t, c, ns, "ledger-db", "password")
	require.Len(t, password, 24, "the chart generated a password")
	replicaSets := replicaSetsOf(t, c, ns, "ledger")

	// The same release again.
	preview, err = r.Preview(ctx)
	require.NoError(t, err)
	assert.Empty(t, changed(preview.Events), "the preview of an up that changes nothing announces no change")
	upChangesNothing(t, r)
	assert.Equal(t, installed, hookRuns(t, c, ns), "no hook ran")
	assert.Equal(t, password, secretData(t, c, ns, "ledger-db", "password"), "lookup kept the password")
	assert.Equal(t, replicaSets, replicaSetsOf(t, c, ns, "ledger"), "the app did not roll")

	// An image bump: an upgrade.
	cfg.App["image"] = "ghcr.io/acme/ledger:1.1.0"
	r.write(t, cfg)
	preview, err = r.Preview(ctx)
	require.NoError(t, err)
	res, err = r.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, steps(preview.Events), steps(res.Events), "the preview announced other steps than the up performed")
	assert.Equal(t, map[string]apitype.OpType{
		backup:  apitype.OpCreate,
		migrate: apitype.OpDeleteReplaced,
		ledgerJobT + "ledger-refresh-materialized-views-5a012c9c": apitype.OpDeleteReplaced, // shortened, 8 hex of SHA-256
		app: apitype.OpUpdate,
		"kubernetes:core/v1:ConfigMap::ledger-chart-record": apitype.OpUpdate,
	}, changed(res.Events), "the upgrade hooks ran once each, the seed did not, the database and its password stayed")
	started, finished = sequences(res.Events)
	migrateRun := newRunCreated(res.Events, migrate)
	require.Contains(t, finished, backup, "the backup's step finished")
	assert.Greater(t, migrateRun, finished[backup], "the migration (weight 0) ran before the backup (-5) finished")
	assert.Greater(t, started[app], migrateRun, "the rollout started before the pre-upgrade migration completed")
	upgraded := hookRuns(t, c, ns)
	assert.Equal(t, []string{ledgerBackup, ledgerMigrate, ledgerViews, ledgerSeed}, keys(upgraded))
	assert.Equal(t, installed[ledgerSeed], upgraded[ledgerSeed], "the seed did not run again")
	for _, h := range []string{ledgerMigrate, ledgerViews} {
		assert.NotEqual(t, installed[h], upgraded[h], "%s ran again", h)
	}
	jobs := jobsOf(t, c, ns)
	assert.Equal(t, "docker.io/library/postgres:16.4", only(t, jobs, ledgerBackup).Spec.Template.Spec.Containers[0].Image, "the backup keeps its own image")
	rs := newReplicaSet(t, c, ns, "ledger")
	assert.False(t, rs.CreationTimestamp.Time.Before(only(t, jobs, ledgerMigrate).Status.CompletionTime.Time),
		"the new ReplicaSet was created before the migration completed")
	assert.Equal(t, password, secretData(t, c, ns, "ledger-db", "password"), "lookup kept the password")

	compareWithHelm(t, e, filepath.Join(r.workDir, "charts", "ledger"),
		[]string{ledgerMigrate, ledgerViews, ledgerSeed}, []string{ledgerBackup, ledgerMigrate, ledgerViews})
}

// compareWithHelm releases the chart with Helm's own CLI (bin/helm) in a
// namespace of its own, install, the same upgrade again and an image bump,
// and checks that Helm ran the hooks we ran on the install and on the
// image bump, and that Helm runs every hook of an upgrade even when nothing
// changed, where we ran none.
func compareWithHelm(t *testing.T, e *env, chart string, install, upgrade []string) {
	t.Helper()
	helm := filepath.Join(e.bin, "helm")
	if _, err := os.Stat(helm); err != nil {
		t.Skipf("bin/helm is missing (%v): build it with `make bin/helm` to compare with Helm's own run", err)
	}
	ns := "helm-ledger-" + time.Now().Format("150405")
	c := e.cluster.Client
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(helm, append(args, "--namespace", ns, "--kubeconfig", e.cluster.Kubeconfig)...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "helm %v:\n%s", args, out)
	}
	t.Cleanup(func() {
		_ = c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})

	run("install", "ledger", chart, "--create-namespace", "--wait", "--timeout", "2m", "--set", "image=ghcr.io/acme/ledger:1.0.0")
	installed := helmJobs(t, c, ns)
	assert.Equal(t, install, keys(installed), "Helm's install ran these hooks too")
	password := secretData(t, c, ns, "ledger-db", "password")

	run("upgrade", "ledger", chart, "--wait", "--timeout", "2m", "--set", "image=ghcr.io/acme/ledger:1.0.0")
	again := helmJobs(t, c, ns)
	var rerun []string
	for _, name := range keys(again) {
		if installed[name] != again[name] {
			rerun = append(rerun, name)
		}
	}
	assert.Equal(t, []string{ledgerBackup, ledgerMigrate, ledgerViews}, rerun, "Helm runs every upgrade hook on an upgrade that changes nothing; we run none")
	assert.Equal(t, password, secretData(t, c, ns, "ledger-db", "password"), "Helm's lookup kept the password too")

	run("upgrade", "ledger", chart, "--wait", "--timeout", "2m", "--set", "image=ghcr.io/acme/ledger:1.1.0")
	upgraded := helmJobs(t, c, ns)
	rerun = nil
	for _, name := range keys(upgraded) {
		if again[name] != upgraded[name] {
			rerun = append(rerun, name)
		}
	}
	assert.Equal(t, upgrade, rerun, "Helm's upgrade ran these hooks too")
	assert.Equal(t, again[ledgerSeed], upgraded[ledgerSeed], "Helm did not run the seed again either")
}

// hookRuns returns the UID of each hook Job of ours in ns, by hook name.
func hookRuns(t *testing.T, c kubernetes.Interface, ns string) map[string]types.UID {
	t.Helper()
	out := map[string]types.UID{}
	for name, runs := range jobsOf(t, c, ns) {
		require.Len(t, runs, 1, "one Job of hook %s", name)
		out[name] = runs[0].UID
	}
	return out
}

// helmJobs returns the UID of each Job in ns, by name: Helm names a hook's
// Job as the chart does and, by its default hook-delete-policy
// (before-hook-creation), keeps the last run of each.
func helmJobs(t *testing.T, c kubernetes.Interface, ns string) map[string]types.UID {
	t.Helper()
	list, err := c.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	out := map[string]types.UID{}
	for _, j := range list.Items {
		out[j.Name] = j.UID
	}
	return out
}

// keys returns the names of m, sorted.
func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// secretData returns one key of a Secret's data.
func secretData(t *testing.T, c kubernetes.Interface, ns, name, key string) string {
	t.Helper()
	s, err := c.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return string(s.Data[key])
}

// replicaSetsOf returns the names of the ReplicaSets of the Deployment name.
func replicaSetsOf(t *testing.T, c kubernetes.Interface, ns, name string) []string {
	t.Helper()
	ctx := context.Background()
	d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	sets, err := c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	var out []string
	for _, rs := range sets.Items {
		if metav1.IsControlledBy(&rs, d) {
			out = append(out, rs.Name)
		}
	}
	slices.Sort(out)
	return out
}
