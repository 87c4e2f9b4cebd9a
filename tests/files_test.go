package tests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// copyTree copies the directory from into to.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		copyFile(t, p, filepath.Join(to, rel))
		return nil
	}))
}

// TestAppFromFluxLayout releases a Flux user's repository layout with a few
// lines of config: the app from deploy/, the seed's migration Job from
// pre-deploy/ and a cache warm-up from post-deploy/, all unchanged files
// without a security context. The Jobs run in order around the rollout,
// restricted fields are filled in, the release image replaces the files'
// tag, and a new image re-runs the migration.
func TestAppFromFluxLayout(t *testing.T) {
	e := setup(t)
	r := newStack(t, e, "dev")
	copyTree(t, filepath.Join(e.root, "tests", "testdata", "flux"), r.workDir)
	cfg := stackConfig{
		App:        map[string]any{"name": "my-app", "image": "ghcr.io/org/my-app:v1.0.0", "manifests": "deploy"},
		PreDeploy:  []map[string]any{{"manifest": "pre-deploy/migration.job.yaml"}},
		PostDeploy: []map[string]any{{"manifest": "post-deploy/cache.job.yaml"}},
	}
	r.write(t, cfg)
	ctx := context.Background()
	c := e.cluster.Client

	res, err := r.Up(ctx)
	require.NoError(t, err)
	started, finished := sequences(res.Events)
	dk := "kubernetes:apps/v1:Deployment::my-app-" + r.namespace + "/my-app"
	sk := "kubernetes:core/v1:Service::my-app-" + r.namespace + "/my-app"
	migration, warm := jobT+"my-app-pre-deploy-db-migration", jobT+"my-app-post-deploy-cache-warm"
	after(t, started, finished, dk, migration, "the Deployment started before the migration finished")
	after(t, started, finished, sk, migration)
	after(t, started, finished, warm, dk, "the warm-up started before the rollout was awaited")
	after(t, started, finished, warm, sk)

	jobs := jobsOf(t, c, r.namespace)
	m := only(t, jobs, "db-migration")
	assert.True(t, complete(m), "the migration completed")
	assert.True(t, complete(only(t, jobs, "cache-warm")))
	assert.Equal(t, "ghcr.io/org/my-app:v1.0.0", m.Spec.Template.Spec.Containers[0].Image, "the release image replaced the file's")
	assert.Equal(t, []string{"sh", "-c", "./migrate up"}, m.Spec.Template.Spec.Containers[0].Command)
	dep, err := c.AppsV1().Deployments(r.namespace).Get(ctx, "my-app", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/org/my-app:v1.0.0", dep.Spec.Template.Spec.Containers[0].Image)
	require.NotNil(t, dep.Spec.Template.Spec.SecurityContext.RunAsNonRoot)
	assert.True(t, *dep.Spec.Template.Spec.SecurityContext.RunAsNonRoot, "restricted filled in")
	rs := newReplicaSet(t, c, r.namespace, "my-app")
	assert.False(t, rs.CreationTimestamp.Time.Before(m.Status.CompletionTime.Time), "the new ReplicaSet before the migration completed")

	upChangesNothing(t, r)

	cfg.App["image"] = "ghcr.io/org/my-app:v1.1.0"
	r.write(t, cfg)
	_, err = r.Up(ctx)
	require.NoError(t, err)
	jobs = jobsOf(t, c, r.namespace)
	assert.NotEqual(t, m.UID, only(t, jobs, "db-migration").UID, "the new image re-ran the migration")
	dep, err = c.AppsV1().Deployments(r.namespace).Get(ctx, "my-app", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "ghcr.io/org/my-app:v1.1.0", dep.Spec.Template.Spec.Containers[0].Image)
}

// TestAppFromKustomization releases a kustomize overlay (base + prod
// overlay with a patch, a configMapGenerator and an images: tag) as the app:
// kustomize's output is what reaches the cluster, the release image wins
// over the overlay's tag, the migration runs before every app object, and a
// settings change rolls the app through a new generated ConfigMap without
// running the migration again. Destroy keeps the object Flux was told not
// to prune, and the namespace it is in.
func TestAppFromKustomization(t *testing.T) {
	e := setup(t)
	r := newStack(t, e, "dev")
	copyTree(t, filepath.Join(e.root, "tests", "testdata", "kustomize"), r.workDir)
	cfg := stackConfig{
		App:       map[string]any{"name": "my-app", "image": "ghcr.io/org/my-app:v1.1.0", "manifests": "overlays/prod"},
		PreDeploy: []map[string]any{job("migrate", 0, "1s", nil)},
	}
	r.write(t, cfg)
	ctx := context.Background()
	c := e.cluster.Client
	ns := r.namespace

	res, err := r.Up(ctx)
	require.NoError(t, err)
	started, finished := sequences(res.Events)
	migrate := jobT + "my-app-pre-deploy-migrate"
	require.Contains(t, finished, migrate)
	var appObjects []string
	for k := range started {
		if strings.Contains(k, "::my-app-"+ns+"/") {
			appObjects = append(appObjects, k)
			after(t, started, finished, k, migrate, "%s started before the migration finished", k)
		}
	}
	assert.Len(t, appObjects, 5, "the Deployment, the Service, the generated ConfigMap, the kept one and the Backup: %v", appObjects)
	crd := "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition::my-app-backups.example.com"
	backup := "kubernetes:example.com/v1:Backup::my-app-" + ns + "/nightly"
	require.Contains(t, finished, crd)
	after(t, started, finished, crd, migrate)
	after(t, started, finished, backup, crd, "the custom resource started before its definition was created")

	dep, err := c.AppsV1().Deployments(ns).Get(ctx, "my-app", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), *dep.Spec.Replicas, "the overlay's patch")
	assert.Equal(t, "my-app", dep.Labels["app.kubernetes.io/name"], "the base's labels")
	assert.Equal(t, "ghcr.io/org/my-app:v1.1.0", dep.Spec.Template.Spec.Containers[0].Image, "the release image over the overlay's tag")
	settings := dep.Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name
	assert.Regexp(t, `^my-app-settings-[a-z0-9]{10}$`, settings, "kustomize's generated name")
	cm, err := c.CoreV1().ConfigMaps(ns).Get(ctx, settings, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"LOG_LEVEL": "warn"}, cm.Data)
	migrated := only(t, jobsOf(t, c, ns), "migrate")

	overlay := filepath.Join(r.workDir, "overlays", "prod", "kustomization.yaml")
	b, err := os.ReadFile(overlay)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(overlay, []byte(strings.Replace(string(b), "LOG_LEVEL=warn", "LOG_LEVEL=debug", 1)), 0o644))
	res, err = r.Up(ctx)
	require.NoError(t, err)
	ch := changed(res.Events)
	assert.Equal(t, apitype.OpUpdate, ch[deploymentT+"my-app-"+ns+"/my-app"], "the Deployment rolls to the new settings")
	assert.NotContains(t, ch, migrate, "a settings change does not run the migration")
	assert.Equal(t, migrated.UID, only(t, jobsOf(t, c, ns), "migrate").UID)
	dep, err = c.AppsV1().Deployments(ns).Get(ctx, "my-app", metav1.GetOptions{})
	require.NoError(t, err)
	next := dep.Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name
	assert.NotEqual(t, settings, next)
	cm, err = c.CoreV1().ConfigMaps(ns).Get(ctx, next, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"LOG_LEVEL": "debug"}, cm.Data)

	// Destroy keeps what the files ask to keep, and the namespace the
	// release created, which holds it; the rest goes.
	_, err = r.Destroy(ctx)
	require.NoError(t, err)
	_, err = c.AppsV1().Deployments(ns).Get(ctx, "my-app", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the Deployment is gone: %v", err)
	kept, err := c.CoreV1().ConfigMaps(ns).Get(ctx, "my-app-feature-flags", metav1.GetOptions{})
	require.NoError(t, err, "the ConfigMap with prune: disabled outlived the release")
	assert.Equal(t, map[string]string{"new-checkout": "on"}, kept.Data)
	namespace, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	require.NoError(t, err, "the namespace holding it was kept")
	assert.Nil(t, namespace.DeletionTimestamp)
	require.NoError(t, c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}), "the test removes what the release kept")
}

// TestAppFromArgoCDDirectory releases an Argo CD Application's directory
// as it is, hooks included, with three lines of app config: the PreSync
// ConfigMap (sync-wave -1), the generateName'd migration (0) and the seed
// (1) run in that order before the app, the PostSync smoke test after the
// rollout; every run is kept (no HookSucceeded deletion); a no-change up
// changes nothing; a new image re-runs the hooks around the rollout.
func TestAppFromArgoCDDirectory(t *testing.T) {
	e := setup(t)
	r := newStack(t, e, "dev")
	copyTree(t, filepath.Join(e.root, "tests", "testdata", "argo"), r.workDir)
	cfg := stackConfig{App: map[string]any{"name": "my-app", "image": "ghcr.io/org/my-app:v1.0.0", "manifests": "app"}}
	r.write(t, cfg)
	ctx := context.Background()
	c := e.cluster.Client
	ns := r.namespace

	res, err := r.Up(ctx)
	require.NoError(t, err)
	started, finished := sequences(res.Events)
	settings := "kubernetes:core/v1:ConfigMap::my-app-hook-" + ns + "/migrate-settings"
	migrate, seed := jobT+"my-app-pre-deploy-migrate", jobT+"my-app-pre-deploy-seed"
	deployment := deploymentT + "my-app-" + ns + "/my-app"
	smoke := jobT + "my-app-post-deploy-smoke-test"
	for _, k := range []string{settings, migrate, seed, deployment, smoke} {
		require.Contains(t, finished, k)
	}
	after(t, started, finished, migrate, settings)
	after(t, started, finished, seed, migrate, "sync-wave 1 started before sync-wave 0 finished")
	after(t, started, finished, deployment, seed)
	after(t, started, finished, smoke, deployment, "the PostSync hook started before the rollout was awaited")
	jobs := jobsOf(t, c, ns)
	for _, j := range []string{"migrate", "seed", "smoke-test"} {
		assert.True(t, complete(only(t, jobs, j)), "%s completed and is kept", j)
	}
	assert.Equal(t, "ghcr.io/org/my-app:v1.0.0", only(t, jobs, "migrate").Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, "argocd: PreSync", only(t, jobs, "migrate").Annotations["pulumi-jobs/hook"])

	upChangesNothing(t, r)

	cfg.App["image"] = "ghcr.io/org/my-app:v1.1.0"
	r.write(t, cfg)
	res, err = r.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]apitype.OpType{
		migrate: apitype.OpDeleteReplaced, seed: apitype.OpDeleteReplaced,
		deployment: apitype.OpUpdate, smoke: apitype.OpDeleteReplaced,
	}, changed(res.Events))
}
