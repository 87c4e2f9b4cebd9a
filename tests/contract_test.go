package tests

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/tests/localcluster"
)

// The contract fixture (tests/testdata/charts/contract), released as
// "contract".
const (
	contractChart     = "tests/testdata/charts/contract"
	contractCRD       = "widgets.contract.example.com"
	contractMigrate   = "contract-migrate"
	contractSeed      = "contract-seed"
	contractMigrator  = "contract-migrator"
	serviceMonitorCRD = "servicemonitors.monitoring.coreos.com"
)

var (
	widgetGVR  = schema.GroupVersionResource{Group: "contract.example.com", Version: "v1", Resource: "widgets"}
	monitorGVR = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "servicemonitors"}
)

// installServiceMonitorCRD installs a minimal servicemonitors.monitoring.coreos.com
// CRD (what a chart gates its ServiceMonitor on), removed when the test ends.
func installServiceMonitorCRD(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "servicemonitors.yaml.gz")
	require.NoError(t, writeGzip(file, []byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {plural: servicemonitors, singular: servicemonitor, kind: ServiceMonitor}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`)))
	installOperatorCRD(t, dyn, file)
}

// writeGzip writes data gzipped to file, as installOperatorCRD reads it.
func writeGzip(file string, data []byte) error {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	if _, err := z.Write(data); err != nil {
		return err
	}
	if err := z.Close(); err != nil {
		return err
	}
	return os.WriteFile(file, b.Bytes(), 0o644)
}

// contractClients are the clients a contract test reads the cluster with.
func contractClients(t *testing.T, e *env) (kubernetes.Interface, dynamic.Interface) {
	t.Helper()
	cfg, err := localcluster.RESTConfig(e.cluster.Kubeconfig)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	return e.cluster.Client, dyn
}

// deleteCRDAtEnd removes a CRD that a release leaves behind on purpose,
// once the test ends.
func deleteCRDAtEnd(t *testing.T, dyn dynamic.Interface, name string) {
	t.Cleanup(func() {
		_ = dyn.Resource(crdGVR).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// exists says whether the object of gvr ns/name is in the cluster.
func exists(t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, name string) bool {
	t.Helper()
	var err error
	if ns == "" {
		_, err = dyn.Resource(gvr).Get(context.Background(), name, metav1.GetOptions{})
	} else {
		_, err = dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return false
	}
	require.NoError(t, err)
	return true
}

// TestHelmContract releases a chart that leans on Helm's contract, and
// checks each promise against the cluster and against Helm's own run of the
// same chart:
//   - crds/ are installed before the objects of their kind, and a destroy
//     leaves the CRD and another team's custom resource of its kind;
//   - .Capabilities are the cluster's: the ServiceMonitor gated on the
//     monitoring.coreos.com/v1 CRD is rendered, as Helm renders it;
//   - the migration's ServiceAccount (hook-succeeded) is gone once the
//     hooks succeeded, as Helm deletes it;
//   - the post-install seed, whose TTL removes its Job, never runs again:
//     not after a refresh, not on the next up; a state that lost the
//     migration's kept run imports it from the cluster instead of running it;
//   - the chart's genCA certificate is not rotated by an up that changes
//     nothing (the upgrade is decided from the inputs); the install's
//     preview shows what is random unknown (the up renders again);
//   - destroy runs the pre-delete drain before the app's objects are
//     deleted and the post-delete farewell after, as Helm's uninstall does;
//     a failing drain stops the destroy with the app intact.
func TestHelmContract(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	c, dyn := contractClients(t, e)
	installServiceMonitorCRD(t, dyn)
	deleteCRDAtEnd(t, dyn, contractCRD)

	r := newStack(t, e, "dev")
	copyTree(t, filepath.Join(e.root, contractChart), filepath.Join(r.workDir, "charts", "contract"))
	config := stackConfig{App: map[string]any{"name": "contract", "image": "ghcr.io/acme/contract:1.0.0", "chart": map[string]any{"path": "charts/contract"}}}
	r.write(t, config)
	ns := r.namespace

	// The install's preview: what the chart renders at random (the CA, the
	// Deployment's checksum of it) is unknown there, as the up renders
	// again; the rest is the render's.
	installPreview, err := r.Preview(ctx)
	require.NoError(t, err)
	checksum, image := previewedPodTemplate(t, installPreview.Events, "contract")
	assert.Equal(t, plugin.UnknownStringValue, checksum, "the random checksum/ca is unknown in the preview")
	assert.Equal(t, "ghcr.io/acme/contract:1.0.0", image, "the rest is the render's")

	// Install.
	_, err = r.Up(ctx)
	require.NoError(t, err)
	assert.True(t, exists(t, dyn, crdGVR, "", contractCRD), "the chart's crds/ are installed")
	assert.True(t, exists(t, dyn, widgetGVR, ns, "contract"), "the custom resource of the chart's CRD is created after it")
	assert.True(t, exists(t, dyn, monitorGVR, ns, "contract"), "the ServiceMonitor gated on the cluster's monitoring.coreos.com/v1 is rendered")
	_, err = c.CoreV1().ServiceAccounts(ns).Get(ctx, contractMigrator, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the migration's identity (hook-succeeded) is deleted once the hooks succeeded: %v", err)
	migrate := only(t, jobsOf(t, c, ns), contractMigrate)
	require.Eventually(t, func() bool { return len(jobsOf(t, c, ns)[contractSeed]) == 0 }, 90*time.Second, time.Second,
		"the seed's Job is removed by its ttlSecondsAfterFinished")
	ca := secretData(t, c, ns, "contract-ca", "tls.crt")
	require.NotEmpty(t, ca)

	// The seed's Job is gone, and a refresh forgets it: the next up runs
	// nothing, the record says the seed ran.
	_, err = r.Refresh(ctx)
	require.NoError(t, err)
	preview, err := r.Preview(ctx)
	require.NoError(t, err)
	assert.Empty(t, changed(preview.Events), "the preview after a refresh announces no change")
	upChangesNothing(t, r)
	jobs := jobsOf(t, c, ns)
	assert.Empty(t, jobs[contractSeed], "the install-only seed did not run again")
	assert.Equal(t, migrate.UID, only(t, jobs, contractMigrate).UID, "the migration did not run again")
	assert.Equal(t, ca, secretData(t, c, ns, "contract-ca", "tls.crt"), "the genCA certificate was not rotated")

	// The stack's state loses the migration's run while the cluster keeps
	// it: the next up finds the run in the cluster and imports it; no hook
	// runs again (the record in the cluster says they ran).
	st := r.Stack()
	state, err := st.Export(ctx)
	require.NoError(t, err)
	state.Deployment = withoutResource(t, state.Deployment, "::contract-hook-contract-migrate")
	require.NoError(t, st.Import(ctx, state))
	res, err := r.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, apitype.OpImport, opsByName(res.Events)["kubernetes:batch/v1:Job::contract-hook-contract-migrate"],
		"the migration's last run is imported from the cluster, not run again")
	jobs = jobsOf(t, c, ns)
	assert.Empty(t, jobs[contractSeed], "the seed did not run again")
	assert.Equal(t, migrate.UID, only(t, jobs, contractMigrate).UID, "the migration did not run again")

	// Another team's Widget, in a namespace of its own: our destroy leaves
	// the CRD, and with it that Widget.
	other := "contract-other-" + time.Now().Format("150405")
	_, err = c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), other, metav1.DeleteOptions{}) })
	widget := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "contract.example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "theirs", "namespace": other},
	}}
	_, err = dyn.Resource(widgetGVR).Namespace(other).Create(ctx, widget, metav1.CreateOptions{})
	require.NoError(t, err)
	destroyWithDeleteHooks(t, e, r, config)
	assert.True(t, exists(t, dyn, crdGVR, "", contractCRD), "destroy leaves the chart's CRD")
	assert.True(t, exists(t, dyn, widgetGVR, other, "theirs"), "another team's custom resource of its kind survives the destroy")

	compareContractWithHelm(t, e, filepath.Join(r.workDir, "charts", "contract"))
}

// compareContractWithHelm installs the contract chart with Helm's own CLI
// (bin/helm) in a namespace of its own and checks that Helm did what we
// did: the ServiceMonitor rendered from the cluster's capabilities, the
// hook-succeeded identity deleted, the delete hooks around the uninstall,
// the CRD left by it.
func compareContractWithHelm(t *testing.T, e *env, chart string) {
	t.Helper()
	helm := helmCommand(t, e)
	c, dyn := contractClients(t, e)
	ns := "helm-contract-" + time.Now().Format("150405")
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	helm("install", "contract", chart, "--namespace", ns, "--create-namespace", "--wait", "--timeout", "2m")
	assert.True(t, exists(t, dyn, monitorGVR, ns, "contract"), "Helm renders the ServiceMonitor too")
	_, err := c.CoreV1().ServiceAccounts(ns).Get(context.Background(), contractMigrator, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "Helm deleted the hook-succeeded identity too: %v", err)
	w := watchHooks(t, c, ns)
	helm("uninstall", "contract", "--namespace", ns, "--wait")
	inOrder(t, w.stop(), "complete "+contractDrain, "deleted deployment contract", "complete "+contractFarewell)
	assert.True(t, exists(t, dyn, crdGVR, "", contractCRD), "Helm's uninstall leaves the CRD too")
}

// helmCommand returns a runner of bin/helm on the test cluster, or skips
// the test saying how to build it.
func helmCommand(t *testing.T, e *env) func(args ...string) {
	t.Helper()
	helm := filepath.Join(e.bin, "helm")
	if _, err := os.Stat(helm); err != nil {
		t.Skipf("bin/helm is missing (%v): build it with `make bin/helm` to compare with Helm's own run", err)
	}
	home := t.TempDir()
	return func(args ...string) {
		t.Helper()
		cmd := exec.Command(helm, append(args, "--kubeconfig", e.cluster.Kubeconfig)...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "helm %v:\n%s", args, out)
	}
}

// TestTakeOverHelmRelease: a release `helm install` made is continued by
// adopt as an upgrade: revision 2, the pre-upgrade migration runs, the
// install-only seed does not run again; Helm's own history is left.
func TestTakeOverHelmRelease(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	c, dyn := contractClients(t, e)
	deleteCRDAtEnd(t, dyn, contractCRD)
	helm := helmCommand(t, e)

	r := newStack(t, e, "dev")
	ns := r.namespace
	chart := filepath.Join(r.workDir, "charts", "contract")
	copyTree(t, filepath.Join(e.root, contractChart), chart)
	helm("install", "contract", chart, "--namespace", ns, "--create-namespace", "--wait", "--timeout", "2m", "--set", "image=ghcr.io/acme/contract:1.0.0")
	r.write(t, stackConfig{App: map[string]any{"name": "contract", "image": "ghcr.io/acme/contract:1.0.0", "chart": map[string]any{"path": "charts/contract"}}})
	r.setConfig(t, config.KeyAdopt, "true")
	_, err := r.Up(ctx)
	require.NoError(t, err)

	rec, err := c.CoreV1().ConfigMaps(ns).Get(ctx, "pulumi-jobs.chart.contract", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "2", rec.Annotations["pulumi-jobs/revision"], "Helm's revision 1, continued as revision 2")
	jobs := jobsOf(t, c, ns)
	assert.Len(t, jobs[contractMigrate], 1, "the pre-upgrade migration ran")
	assert.Empty(t, jobs[contractSeed], "the install-only seed did not run again")
	_, err = c.CoreV1().Secrets(ns).Get(ctx, "sh.helm.release.v1.contract.v1", metav1.GetOptions{})
	assert.NoError(t, err, "Helm's history is left as it is")
	_, err = c.BatchV1().Jobs(ns).Get(ctx, contractMigrate, metav1.GetOptions{})
	assert.NoError(t, err, "Helm's own last run of the migration is left as it is")
}

// withoutResource returns the deployment (a stack's exported state) without
// the resource whose URN ends with suffix, and without every reference to it,
// as a state that lost it would be.
func withoutResource(t *testing.T, deployment json.RawMessage, suffix string) json.RawMessage {
	t.Helper()
	var d map[string]any
	require.NoError(t, json.Unmarshal(deployment, &d))
	resources, _ := d["resources"].([]any)
	var urn string
	var kept []any
	for _, r := range resources {
		res := r.(map[string]any)
		if u, _ := res["urn"].(string); strings.HasSuffix(u, suffix) {
			urn = u
			continue
		}
		kept = append(kept, res)
	}
	require.NotEmpty(t, urn, "the state has a resource whose URN ends with %s", suffix)
	drop := func(list any) []any {
		var out []any
		for _, v := range asSlice(list) {
			if v != urn {
				out = append(out, v)
			}
		}
		return out
	}
	for _, r := range kept {
		res := r.(map[string]any)
		if deps, ok := res["dependencies"]; ok {
			res["dependencies"] = drop(deps)
		}
		if pdeps, ok := res["propertyDependencies"].(map[string]any); ok {
			for k, v := range pdeps {
				pdeps[k] = drop(v)
			}
		}
	}
	d["resources"] = kept
	out, err := json.Marshal(d)
	require.NoError(t, err)
	return out
}

// asSlice is v as a JSON array, nil when it is not one.
func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// previewedPodTemplate returns the checksum/ca annotation and the first
// image of the pod template of the Deployment name as a preview's events
// show its new inputs.
func previewedPodTemplate(t *testing.T, evts []events.EngineEvent, name string) (checksum, image string) {
	t.Helper()
	for _, e := range evts {
		pre := e.ResourcePreEvent
		if pre == nil || pre.Metadata.Type != "kubernetes:apps/v1:Deployment" || pre.Metadata.New == nil {
			continue
		}
		in := pre.Metadata.New.Inputs
		meta, _ := in["metadata"].(map[string]any)
		if meta["name"] != name {
			continue
		}
		spec, _ := in["spec"].(map[string]any)
		template, _ := spec["template"].(map[string]any)
		tmeta, _ := template["metadata"].(map[string]any)
		ann, _ := tmeta["annotations"].(map[string]any)
		pod, _ := template["spec"].(map[string]any)
		containers, _ := pod["containers"].([]any)
		require.NotEmpty(t, containers, "the previewed Deployment %s has containers", name)
		checksum, _ = ann["checksum/ca"].(string)
		image, _ = containers[0].(map[string]any)["image"].(string)
		return checksum, image
	}
	t.Fatalf("no Deployment %s in the preview", name)
	return "", ""
}
