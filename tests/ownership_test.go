package tests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
)

// preview runs `pulumi preview` and returns the engine's events.
func (s *cliStack) preview(t *testing.T) ([]events.EngineEvent, error) {
	t.Helper()
	log := filepath.Join(s.dir, "events-"+time.Now().Format("150405.000000000")+".json")
	_, err := s.run(t, 5*time.Minute, "preview", "--event-log", log)
	if _, statErr := os.Stat(log); statErr != nil {
		require.NoError(t, err, "pulumi preview wrote no event log")
	}
	return readEventLog(t, log), err
}

// diagnostics joins the engine's diagnostics of a severity.
func diagnostics(evts []events.EngineEvent, severity string) string {
	var b strings.Builder
	for _, e := range evts {
		if d := e.DiagnosticEvent; d != nil && d.Severity == severity {
			b.WriteString(d.Message)
		}
	}
	return b.String()
}

// refusedEverywhere runs preview and up and asserts that both fail with the
// refusal, naming each of objects, and that neither created anything.
func refusedEverywhere(t *testing.T, s *cliStack, objects ...string) {
	t.Helper()
	for verb, run := range map[string]func(*testing.T) ([]events.EngineEvent, error){"preview": s.preview, "up": s.up} {
		evts, err := run(t)
		require.Error(t, err, "%s must fail", verb)
		msg := diagnostics(evts, "error")
		assert.Contains(t, msg, "would take over", verb)
		assert.Contains(t, msg, "Nothing was changed", verb)
		assert.Contains(t, msg, "pulumi config set adopt true", verb)
		for _, o := range objects {
			assert.Contains(t, msg, o, verb)
		}
		for _, e := range evts {
			if e.ResOutputsEvent != nil && strings.Contains(string(e.ResOutputsEvent.Metadata.Type), "kubernetes:") {
				t.Errorf("%s created %s", verb, e.ResOutputsEvent.Metadata.URN)
			}
		}
	}
}

// foreignNamespace creates another team's namespace with a ConfigMap and a
// Deployment in it, deleted when the test ends.
func foreignNamespace(t *testing.T, c kubernetes.Interface, ns, deployment string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"team": "payments"}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	_, err = c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "ledger"}, Data: map[string]string{"balance": "42"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	// The selector the release's Deployment would have: adoptable.
	labels := map[string]string{"app.kubernetes.io/name": deployment}
	_, err = c.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: deployment},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/payments/" + deployment + ":7.0.0"}}},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

// foreignIntact asserts that the other team's namespace, ConfigMap and
// Deployment are as foreignNamespace made them, and that no Job ran there.
func foreignIntact(t *testing.T, c kubernetes.Interface, ns, deployment string) {
	t.Helper()
	ctx := context.Background()
	got, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	require.NoError(t, err, "the namespace is still there")
	assert.Nil(t, got.DeletionTimestamp, "the namespace is not being deleted")
	delete(got.Labels, "kubernetes.io/metadata.name")
	assert.Equal(t, map[string]string{"team": "payments"}, got.Labels, "the namespace was not relabelled")
	assert.Empty(t, got.Annotations, "the namespace was not annotated")
	cm, err := c.CoreV1().ConfigMaps(ns).Get(ctx, "ledger", metav1.GetOptions{})
	require.NoError(t, err, "the ledger is still there")
	assert.Equal(t, map[string]string{"balance": "42"}, cm.Data)
	dep, err := c.AppsV1().Deployments(ns).Get(ctx, deployment, metav1.GetOptions{})
	require.NoError(t, err, "the other team's Deployment is still there")
	assert.Equal(t, "ghcr.io/payments/"+deployment+":7.0.0", dep.Spec.Template.Spec.Containers[0].Image)
	assert.Empty(t, dep.Annotations["pulumi-jobs/owner"], "the Deployment was not marked")
	jobs, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, jobs.Items, "no Job ran")
}

// TestOwnershipFromYAML: a Release declared in Pulumi YAML, run with a
// plain `pulumi preview`/`pulumi up` through the component provider, never
// takes over what it did not create. Into another team's namespace; into a
// shared namespace (createNamespace: false) holding a Deployment named like
// the app; and a second stack aimed at the namespace the first created: each
// is refused at preview and at up, naming the object, and everything that
// was there is intact after the refused stack's destroy.
func TestOwnershipFromYAML(t *testing.T) {
	e := setup(t)
	c := e.cluster.Client
	ctx := context.Background()

	t.Run("existing namespace", func(t *testing.T) {
		ns := "ledger-team"
		foreignNamespace(t, c, ns, "ledger-api")
		s := newCLIStack(t, e, "release-yaml", map[string]string{"namespace": ns})
		refusedEverywhere(t, s, "Namespace "+ns+" (owner unknown)")
		foreignIntact(t, c, ns, "ledger-api")
		s.must(t, "destroy", "--yes", "--skip-preview")
		foreignIntact(t, c, ns, "ledger-api")
	})

	t.Run("foreign object named like ours", func(t *testing.T) {
		ns := "shared-space"
		foreignNamespace(t, c, ns, "shop")
		s := newCLIStack(t, e, "release-yaml", map[string]string{"namespace": ns, "createNamespace": "false"})
		refusedEverywhere(t, s, "Deployment "+ns+"/shop (owner unknown)")
		foreignIntact(t, c, ns, "shop")
		s.must(t, "destroy", "--yes", "--skip-preview")
		foreignIntact(t, c, ns, "shop")
	})

	t.Run("second stack", func(t *testing.T) {
		ns := "first-stack-shop"
		first := newCLIStack(t, e, "release-yaml", map[string]string{"namespace": ns})
		_, err := first.up(t)
		require.NoError(t, err)
		before, err := c.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, "release-yaml/e2e/shop", before.Annotations["pulumi-jobs/owner"], "the first stack marked its Deployment")
		jobsBefore := jobsOf(t, c, ns)

		second := newCLIStack(t, e, "release-yaml", map[string]string{"namespace": ns})
		second.must(t, "stack", "rename", "second")
		refusedEverywhere(t, second, "Namespace "+ns+" (owned by release release-yaml/e2e/shop)")
		second.must(t, "config", "set", "createNamespace", "false")
		refusedEverywhere(t, second,
			"Deployment "+ns+"/shop (owned by release release-yaml/e2e/shop)",
			"Service "+ns+"/shop (owned by release release-yaml/e2e/shop)")
		second.must(t, "destroy", "--yes", "--skip-preview")

		after, err := c.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
		require.NoError(t, err, "the first release's Deployment survives the second stack")
		assert.Equal(t, before.UID, after.UID)
		assert.Equal(t, before.Generation, after.Generation, "and was not changed")
		assert.Equal(t, jobUIDs(jobsBefore), jobUIDs(jobsOf(t, c, ns)), "no Job of the second stack ran")
		evts, err := first.up(t)
		require.NoError(t, err)
		assert.Empty(t, changed(evts), "the first release is as it was")
	})
}

// TestOwnershipAdopt: with adopt, a release takes over an object it did not
// create — announced at preview, marked as its own in the cluster, its
// conflicting fields taken — and later runs treat it as its own.
func TestOwnershipAdopt(t *testing.T) {
	e := setup(t)
	c := e.cluster.Client
	ctx := context.Background()
	ns := "adopt-shop"
	foreignNamespace(t, c, ns, "shop")
	s := newCLIStack(t, e, "release-yaml", map[string]string{"namespace": ns, "createNamespace": "false", "adopt": "true"})

	evts, err := s.preview(t)
	require.NoError(t, err)
	assert.Contains(t, diagnostics(evts, "warning"), "adopts Deployment "+ns+"/shop (owner unknown)")
	_, err = s.up(t)
	require.NoError(t, err)
	dep, err := c.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "release-yaml/e2e/shop", dep.Annotations["pulumi-jobs/owner"], "marked as the release's")
	assert.Equal(t, "ghcr.io/acme/shop:1.4.2", dep.Spec.Template.Spec.Containers[0].Image, "the release's image won the field conflict")

	s.must(t, "config", "set", "adopt", "false")
	evts, err = s.preview(t)
	require.NoError(t, err, "once marked, it is the release's own: no opt-in needed any more")
	assert.NotContains(t, diagnostics(evts, "warning"), "adopts")
}

// jobUIDs lists the Jobs' UIDs by job name.
func jobUIDs(jobs map[string][]batchv1.Job) map[string][]types.UID {
	out := map[string][]types.UID{}
	for name, list := range jobs {
		out[name] = uids(list)
	}
	return out
}

// TestInvalidReleaseFromYAML: args that the release's rules refuse are
// refused the same way through the component provider, from a plain
// `pulumi preview` and `up` of a YAML program: every problem named under its
// argument, nothing registered, not even the namespace.
func TestInvalidReleaseFromYAML(t *testing.T) {
	e := setup(t)
	ns := "invalid-yaml"
	s := newCLIStack(t, e, "release-yaml", map[string]string{"namespace": ns, "image": "ghcr.io/acme/shop:"})
	for verb, run := range map[string]func(*testing.T) ([]events.EngineEvent, error){"preview": s.preview, "up": s.up} {
		evts, err := run(t)
		require.Error(t, err, "%s must fail", verb)
		msg := diagnostics(evts, "error")
		assert.Contains(t, msg, "pulumi-jobs:index:Release shop: 1 invalid argument(s); nothing was registered:\n"+
			`  - image: "ghcr.io/acme/shop:" is not an image reference (invalid reference format); use repo:tag or repo@sha256:…, e.g. "ghcr.io/acme/shop:1.4.2"`, verb)
		for _, e := range evts {
			if o := e.ResOutputsEvent; o != nil && strings.Contains(string(o.Metadata.Type), "kubernetes:") {
				t.Errorf("%s created %s", verb, o.Metadata.URN)
			}
		}
	}
	_, err := e.cluster.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the namespace was not created: %v", err)
}
