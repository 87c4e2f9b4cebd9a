package tests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Resources of the examples, as type::name.
const (
	jobsT       = "pulumi-jobs:index:Jobs::"
	deploymentT = "kubernetes:apps/v1:Deployment::"
)

// opsByName returns the engine's operation per resource, keyed type::name.
func opsByName(evts []events.EngineEvent) map[string]apitype.OpType {
	out := map[string]apitype.OpType{}
	for urn, op := range ops(evts) {
		out[shortURN(urn)] = op
	}
	return out
}

// changed returns the resources an up did something to, keyed type::name.
func changed(evts []events.EngineEvent) map[string]apitype.OpType {
	out := map[string]apitype.OpType{}
	for k, op := range opsByName(evts) {
		if op != apitype.OpSame {
			out[k] = op
		}
	}
	return out
}

// TestExampleJobsAroundOwnApp runs examples/jobs-yaml with a plain
// `pulumi up`: a YAML program declares its own Namespace and Deployment,
// with a Jobs component before it (dependsOn) and one after it.
func TestExampleJobsAroundOwnApp(t *testing.T) {
	e := setup(t)
	ns := "example-jobs"
	s := newCLIStack(t, e, "jobs-yaml", map[string]string{"namespace": ns, "image": "ghcr.io/acme/shop:1.0.0"})
	c := e.cluster.Client
	ctx := context.Background()

	evts, err := s.up(t)
	require.NoError(t, err)
	started, finished := sequences(evts)
	pre := []string{"migrations-migrate-schema", "migrations-migrate-search-index", "migrations-seed-reference-data"}
	for _, j := range pre {
		after(t, started, finished, deploymentT+"app", jobT+j, "the Deployment started before %s finished", j)
	}
	for _, j := range pre[:2] {
		after(t, started, finished, jobT+pre[2], jobT+j, "wave 1 started before wave 0's %s finished", j)
	}
	after(t, started, finished, jobT+"smoke-smoke-test", deploymentT+"app", "the smoke test started before the rollout was awaited")

	// The cluster agrees: the new ReplicaSet after the last migration, the
	// smoke test after the Deployment became Available.
	jobs := jobsOf(t, c, ns)
	last := latest(only(t, jobs, "migrate-schema").Status.CompletionTime.Time,
		only(t, jobs, "migrate-search-index").Status.CompletionTime.Time,
		only(t, jobs, "seed-reference-data").Status.CompletionTime.Time)
	rs := newReplicaSet(t, c, ns, "shop")
	assert.False(t, rs.CreationTimestamp.Time.Before(last), "the new ReplicaSet was created before the last migration completed")
	dep, err := c.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	available := condition(dep, appsv1.DeploymentAvailable)
	require.NotNil(t, available)
	assert.False(t, only(t, jobs, "smoke-test").CreationTimestamp.Time.Before(available.LastTransitionTime.Time))

	// The edges are in state, on every child Job, not only on the components.
	st := s.state(t)
	app, smoke := st[deploymentT+"app"], st[jobT+"smoke-smoke-test"]
	assert.Contains(t, app.Dependencies, st[jobsT+"migrations"].URN, "the app depends on the migrations")
	assert.Contains(t, smoke.Dependencies, app.URN, "the smoke test Job records its edge to the app")
	assert.Equal(t, st[jobsT+"smoke"].URN, smoke.Parent)
	seed := st[jobT+"migrations-seed-reference-data"].Dependencies
	assert.Contains(t, seed, st[jobT+"migrations-migrate-schema"].URN)
	assert.Contains(t, seed, st[jobT+"migrations-migrate-search-index"].URN)

	// Nothing changed: nothing runs.
	evts, err = s.up(t)
	require.NoError(t, err)
	assert.Empty(t, changed(evts), "a no-change up changes nothing")

	// A new image: the onChange migrations and the smoke test run again, the
	// once Job does not; the app rolls between them.
	before := jobsOf(t, c, ns)
	s.must(t, "config", "set", "image", "ghcr.io/acme/shop:1.1.0")
	evts, err = s.up(t)
	require.NoError(t, err)
	// A replaced Job's last step is the deletion of the previous run, after
	// the new one completed (create-before-delete).
	assert.Equal(t, map[string]apitype.OpType{
		jobT + "migrations-migrate-schema":       apitype.OpDeleteReplaced,
		jobT + "migrations-migrate-search-index": apitype.OpDeleteReplaced,
		deploymentT + "app":                      apitype.OpUpdate,
		jobT + "smoke-smoke-test":                apitype.OpDeleteReplaced,
	}, changed(evts))
	after := jobsOf(t, c, ns)
	assert.Equal(t, only(t, before, "seed-reference-data").UID, only(t, after, "seed-reference-data").UID, "the once Job did not run again")
	assert.NotEqual(t, only(t, before, "migrate-schema").UID, only(t, after, "migrate-schema").UID, "the migration ran again")

	// A failing migration: the up fails and the Deployment keeps its image;
	// no smoke test of the failed release runs.
	failing := strings.Replace(string(mustRead(t, filepath.Join(s.dir, "Pulumi.yaml"))),
		`          command: ["/app/shop", "migrate", "up"]`,
		`          command: ["/app/shop", "migrate", "up"]
          backoffLimit: 0
          annotations:
            pod-container-running-failed.stage.kwok.x-k8s.io: "true"
            pod-container-running-failed.stage.kwok.x-k8s.io/delay: 1s
            pod-container-running-failed.stage.kwok.x-k8s.io/exit-code: "3"`, 1)
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "Pulumi.yaml"), []byte(failing), 0o644))
	s.must(t, "config", "set", "image", "ghcr.io/acme/shop:1.2.0")
	_, err = s.up(t)
	require.Error(t, err, "the failing migration fails the up")
	dep, err = c.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/acme/shop:1.1.0", dep.Spec.Template.Spec.Containers[0].Image, "the Deployment was left as it was")
	assert.Equal(t, only(t, after, "smoke-test").UID, only(t, jobsOf(t, c, ns), "smoke-test").UID, "no smoke test of the failed release ran")

	// Destroy removes everything.
	s.must(t, "destroy", "--yes", "--skip-preview")
	_, err = c.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the Deployment is gone: %v", err)
	gone, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err) || gone.DeletionTimestamp != nil, "the namespace is gone or going")
}

// TestExampleRelease runs examples/release-yaml with a plain `pulumi up`: a
// whole Release declared in Pulumi YAML.
func TestExampleRelease(t *testing.T) {
	e := setup(t)
	ns := "example-release"
	s := newCLIStack(t, e, "release-yaml", map[string]string{"namespace": ns})
	c := e.cluster.Client
	ctx := context.Background()

	evts, err := s.up(t)
	require.NoError(t, err)
	started, finished := sequences(evts)
	for _, j := range []string{"migrate-schema", "migrate-search-index", "seed-reference-data"} {
		after(t, started, finished, deploymentT+"shop", preJobT+j, "the Deployment started before %s finished", j)
	}
	after(t, started, finished, postJobT+"smoke-test", deploymentT+"shop")
	jobs := jobsOf(t, c, ns)
	for _, j := range []string{"migrate-schema", "migrate-search-index", "seed-reference-data", "smoke-test"} {
		assert.True(t, complete(only(t, jobs, j)), "Job %s completed", j)
	}
	st := s.state(t)
	assert.Contains(t, st[postJobT+"smoke-test"].Dependencies, st[deploymentT+"shop"].URN)

	evts, err = s.up(t)
	require.NoError(t, err)
	assert.Empty(t, changed(evts), "a no-change up changes nothing")

	// A new release id re-runs the onRelease smoke test only.
	s.must(t, "config", "set", "release", "2")
	evts, err = s.up(t)
	require.NoError(t, err)
	assert.Equal(t, map[string]apitype.OpType{postJobT + "smoke-test": apitype.OpDeleteReplaced}, changed(evts))

	s.must(t, "destroy", "--yes", "--skip-preview")
	_, err = c.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the Deployment is gone: %v", err)
}

// mustRead reads a file or fails the test.
func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// TestExampleChart runs examples/chart-yaml with a plain `pulumi up`: a Helm
// chart released through our component provider from Pulumi YAML. The
// hooks run as phases (hook objects and hooks in weight order before the
// app, which waits for them in state too; smoke test and test hook after
// it; the pre-upgrade backup not on an install; the smoke test's Job deleted
// once the hooks succeeded, by its hook-delete-policy); the next up changes
// no input and runs nothing (it only forgets the deleted run); a new image
// is an upgrade that runs every upgrade hook once; destroy removes the
// chart's objects, hook Jobs included.
func TestExampleChart(t *testing.T) {
	e := setup(t)
	ns := "example-chart"
	s := newCLIStack(t, e, "chart-yaml", map[string]string{"namespace": ns})
	// charts/shop is a link to the fixture chart: copy what it points to.
	chart, err := filepath.EvalSymlinks(filepath.Join(e.root, "examples", "chart-yaml", "charts", "shop"))
	require.NoError(t, err)
	copyTree(t, chart, filepath.Join(s.dir, "charts", "shop"))
	c := e.cluster.Client
	ctx := context.Background()

	evts, err := s.up(t)
	require.NoError(t, err)
	started, finished := sequences(evts)
	deployment := deploymentT + "shop-" + ns + "/shop"
	hookConfig := "kubernetes:core/v1:ConfigMap::shop-hook-" + ns + "/shop-migrate"
	record := "kubernetes:core/v1:ConfigMap::shop-chart-record"
	migrate, backup := hookJobT+"shop-migrate", hookJobT+"shop-backup"
	smoke, testHook := hookJobT+"shop-smoke-test", hookJobT+"test-connection"
	for _, k := range []string{deployment, hookConfig, migrate, smoke, testHook, record} {
		require.Contains(t, finished, k)
	}
	assert.NotContains(t, finished, backup, "an install does not run the pre-upgrade backup")
	after(t, started, finished, migrate, hookConfig)
	after(t, started, finished, deployment, migrate)
	after(t, started, finished, smoke, deployment)
	after(t, started, finished, testHook, smoke)
	st := s.state(t)
	assert.Contains(t, st[deployment].Dependencies, st[migrate].URN, "the app waits for the last pre-deploy hook in state")
	assert.Contains(t, st[smoke].Dependencies, st[deployment].URN)
	jobs := jobsOf(t, c, ns)
	for _, j := range []string{"shop-migrate", "test-connection"} {
		assert.True(t, complete(only(t, jobs, j)), "Job %s completed", j)
	}
	assert.Empty(t, jobs["shop-smoke-test"], "the smoke test's hook-succeeded policy deleted its Job")

	// The next up changes no input: not an upgrade, nothing runs; the state
	// forgets the smoke test's deleted run. Then an up changes nothing.
	evts, err = s.up(t)
	require.NoError(t, err)
	assert.Equal(t, map[string]apitype.OpType{smoke: apitype.OpDelete}, changed(evts), "no hook ran, nothing was updated")
	evts, err = s.up(t)
	require.NoError(t, err)
	assert.Empty(t, changed(evts), "a no-change up changes nothing")

	s.must(t, "config", "set", "image", "ghcr.io/org/shop:v1.1.0")
	evts, err = s.up(t)
	require.NoError(t, err)
	assert.Equal(t, map[string]apitype.OpType{
		migrate: apitype.OpDeleteReplaced, backup: apitype.OpCreate,
		deployment: apitype.OpUpdate, smoke: apitype.OpCreate, testHook: apitype.OpDeleteReplaced,
		record: apitype.OpUpdate,
		// The post-delete cleanup it keeps for destroy takes the new image.
		"pulumi-jobs:index:DeleteHooks::shop-post-delete": apitype.OpUpdate,
	}, changed(evts), "an upgrade runs each upgrade hook once, the backup for the first time")

	s.must(t, "destroy", "--yes", "--skip-preview")
	_, err = c.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the Deployment is gone: %v", err)
	left, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		assert.Empty(t, left.Items, "no hook Job is left behind (Helm leaves its hooks)")
	}
}
