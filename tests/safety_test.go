package tests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pulumi-jobs/pulumi-jobs/deploy/driver"
	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
)

// reopen opens the test stack r again through a driver whose options
// change modifies.
func reopen(t *testing.T, e *env, r *testStack, change func(*driver.Options)) *driver.Driver {
	t.Helper()
	opts := driver.Options{
		WorkDir: r.workDir, Stack: r.name, PulumiRoot: e.root, Home: e.home,
		BackendURL: "file://" + r.backendDir, Kubeconfig: e.cluster.Kubeconfig,
		ProviderPath: e.provider, Progress: r.progress,
	}
	change(&opts)
	d, err := driver.Open(context.Background(), opts)
	require.NoError(t, err)
	return d
}

// TestOwnership: through the driver, a namespace that exists and that the
// release did not create is refused at preview and up (the refusal lives in
// the release, TestOwnershipFromYAML has the cases: here the driver passes
// it on) and nothing changes; with createNamespace false the release goes
// into it and destroy leaves the namespace, its labels and someone else's
// ConfigMap in it alone.
func TestOwnership(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	c := e.cluster.Client
	r := newStackWith(t, e, stackConfig{App: app("1.0.0"), PreDeploy: []map[string]any{job("m", 0, "1s", nil)}})
	labels := map[string]string{"team": "payments"}
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.namespace, Labels: labels}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), r.namespace, metav1.DeleteOptions{}) })
	_, err = c.CoreV1().ConfigMaps(r.namespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "someone-elses"}, Data: map[string]string{"keep": "me"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	_, err = r.Preflight(ctx, "up")
	require.NoError(t, err)
	_, err = r.Preview(ctx)
	require.ErrorContains(t, err, "Namespace "+r.namespace+" (owner unknown)", "preview")
	_, err = r.Up(ctx)
	require.ErrorContains(t, err, "Namespace "+r.namespace+" (owner unknown)", "up")
	assert.ErrorContains(t, err, "Nothing was changed")
	jobs, err := c.BatchV1().Jobs(r.namespace).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, jobs.Items, "nothing ran")

	own := false
	r.write(t, stackConfig{App: app("1.0.0"), PreDeploy: []map[string]any{job("m", 0, "1s", nil)}, CreateNamespace: &own})
	_, err = r.Preflight(ctx, "up")
	require.NoError(t, err)
	_, err = r.Up(ctx)
	require.NoError(t, err)
	_, err = r.Destroy(ctx)
	require.NoError(t, err)

	ns, err := c.CoreV1().Namespaces().Get(ctx, r.namespace, metav1.GetOptions{})
	require.NoError(t, err, "the namespace stays")
	delete(ns.Labels, "kubernetes.io/metadata.name") // the API server's own
	assert.Equal(t, labels, ns.Labels, "its labels are unchanged")
	cm, err := c.CoreV1().ConfigMaps(r.namespace).Get(ctx, "someone-elses", metav1.GetOptions{})
	require.NoError(t, err, "someone else's ConfigMap survives up and destroy")
	assert.Equal(t, map[string]string{"keep": "me"}, cm.Data)
}

// TestUnknownKey: a misspelt top-level key (preDeploys for preDeploy) is
// refused before anything runs, with the key and the likely fix.
func TestUnknownKey(t *testing.T) {
	e := setup(t)
	r := newStackWith(t, e, stackConfig{App: app("1.0.0")})
	r.setConfig(t, "preDeploys", `[{"name":"m","command":["m"]}]`)
	_, err := r.Preflight(context.Background(), "preview")
	var cfgErr *config.Error
	require.ErrorAs(t, err, &cfgErr)
	require.Len(t, cfgErr.Problems, 1)
	assert.Equal(t, "pulumi-jobs:preDeploys", cfgErr.Problems[0].Key)
	assert.True(t, strings.HasPrefix(cfgErr.Problems[0].Message, "unknown key; did you mean preDeploy? The valid pulumi-jobs keys are "),
		"the likely fix: %s", cfgErr.Problems[0].Message)
}

// TestClusterPaths: a relative --kubeconfig reaches the provider as an
// absolute path (the provider runs in another directory), and a preflight
// against a cluster that does not answer fails clearly, fast.
func TestClusterPaths(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	r := newStackWith(t, e, stackConfig{App: app("1.0.0")})
	wd, err := os.Getwd()
	require.NoError(t, err)
	rel, err := filepath.Rel(wd, e.cluster.Kubeconfig)
	require.NoError(t, err)
	require.False(t, filepath.IsAbs(rel))
	d := reopen(t, e, r, func(o *driver.Options) { o.Kubeconfig = rel })
	_, err = d.Preflight(ctx, "up")
	require.NoError(t, err)
	_, err = d.Up(ctx)
	require.NoError(t, err, "the provider found the cluster through a relative kubeconfig")
	_, err = e.cluster.Client.AppsV1().Deployments(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)

	dead := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(dead, []byte(`apiVersion: v1
kind: Config
clusters: [{name: gone, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: gone, context: {cluster: gone, user: u}}]
current-context: gone
`), 0o600))
	d = reopen(t, e, r, func(o *driver.Options) { o.Kubeconfig = dead })
	start := time.Now()
	_, err = d.Preflight(ctx, "preview")
	require.ErrorIs(t, err, driver.ErrUnreachable)
	assert.Contains(t, err.Error(), dead)
	assert.Less(t, time.Since(start), driver.ReachTimeout+5*time.Second)
}

// TestLostCluster: after a complete release the cluster loses everything
// (the namespace and all in it deleted, as when the local cluster is
// recreated empty). The preflight notices what the state records and the
// cluster lacks; the next up refreshes and puts the release back instead of
// reporting "unchanged".
func TestLostCluster(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	c := e.cluster.Client
	r := newStackWith(t, e, stackConfig{
		App:        app("1.0.0"),
		PreDeploy:  []map[string]any{job("m", 0, "1s", nil), job("o", 0, "1s", map[string]any{"rerun": "once"})},
		PostDeploy: []map[string]any{job("p", 0, "1s", nil)},
	})
	pf, err := r.Preflight(ctx, "up")
	require.NoError(t, err)
	assert.Empty(t, pf.Lost)
	_, err = r.Up(ctx)
	require.NoError(t, err)

	require.NoError(t, c.CoreV1().Namespaces().Delete(ctx, r.namespace, metav1.DeleteOptions{}))
	require.Eventually(t, func() bool {
		_, err := c.CoreV1().Namespaces().Get(ctx, r.namespace, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, 2*time.Minute, 250*time.Millisecond, "the namespace is gone")

	pf, err = r.Preflight(ctx, "up")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"Namespace " + r.namespace, "Deployment " + r.namespace + "/shop"}, pf.Lost)
	start := time.Now()
	_, err = r.Up(ctx)
	require.NoError(t, err)
	t.Logf("the release was put back in %s", time.Since(start).Round(100*time.Millisecond))
	_, err = c.AppsV1().Deployments(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err, "the Deployment is back")
	jobs := jobsOf(t, c, r.namespace)
	for _, name := range []string{"m", "o", "p"} {
		assert.True(t, complete(only(t, jobs, name)), "%s ran again on the new cluster", name)
	}
	pf, err = r.Preflight(ctx, "up")
	require.NoError(t, err)
	assert.Empty(t, pf.Lost, "nothing is missing any more")
}
