package tests

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/pulumi-jobs/pulumi-jobs/infra/outputs"
	"github.com/pulumi-jobs/pulumi-jobs/tests/localcluster"
)

var (
	crdGVR   = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	stackGVR = schema.GroupVersionResource{Group: "pulumi.com", Version: "v1", Resource: "stacks"}
)

// operatorStackCRD is the Pulumi Kubernetes Operator's own Stack CRD
// (v2.9.0, Apache-2.0), gzipped, relative to the repository root: see the
// README.md beside it.
const operatorStackCRD = "tests/testdata/pulumi-kubernetes-operator/pulumi.com_stacks.yaml.gz"

// installOperatorCRD installs the operator's own CRD from a gzipped file
// with a server-side apply (the Stack CRD is larger than the 256 KiB that a
// client-side apply's last-applied annotation allows) and waits until it is
// established. It is removed when the test ends.
func installOperatorCRD(t *testing.T, dyn dynamic.Interface, file string) {
	t.Helper()
	ctx := context.Background()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	z, err := gzip.NewReader(f)
	require.NoError(t, err, "reading %s", file)
	b, err := io.ReadAll(z)
	require.NoError(t, err, "reading %s", file)
	crd := &unstructured.Unstructured{}
	require.NoError(t, sigsyaml.Unmarshal(b, &crd.Object))
	data, err := json.Marshal(crd.Object)
	require.NoError(t, err)
	force := true
	_, err = dyn.Resource(crdGVR).Patch(ctx, crd.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: "pulumi-jobs-e2e", Force: &force})
	require.NoError(t, err, "installing %s", file)
	t.Cleanup(func() {
		_ = dyn.Resource(crdGVR).Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{})
	})
	require.Eventually(t, func() bool {
		got, err := dyn.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return false
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return true
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "the CRD %s is established", crd.GetName())
}

// TestGitOpsStackAccepted: with gitops set, the operator's own Stack CRD
// (v2.9.0) accepts the Stack the program declares, with every field it
// sets: the Stack the program sent is created again, as a dry run with
// strict field validation, so a field the operator does not know fails the
// test instead of being pruned. Its service account and bindings exist.
func TestGitOpsStackAccepted(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	crdFile := filepath.Join(e.root, operatorStackCRD)
	if _, err := os.Stat(crdFile); err != nil {
		t.Skipf("the operator's Stack CRD is missing (%v): it is %s in the repository", err, operatorStackCRD)
	}
	cfg, err := localcluster.RESTConfig(e.cluster.Kubeconfig)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	installOperatorCRD(t, dyn, crdFile)

	// The CRD rejects what it does not know, when asked to be strict.
	bogus := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "pulumi.com/v1", "kind": "Stack",
		"metadata": map[string]any{"name": "bogus", "namespace": "default"},
		"spec":     map[string]any{"stack": "acme/p/s", "noSuchField": true},
	}}
	_, err = dyn.Resource(stackGVR).Namespace("default").Create(ctx, bogus,
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
	require.Error(t, err, "the operator's CRD refuses an unknown field under strict validation")
	assert.Contains(t, err.Error(), "strict decoding error")

	r := newStackWith(t, e, stackConfig{App: app("1.0.0"), GitOps: map[string]any{
		"repository": "https://github.com/acme/shop-deploy.git", "targetStack": "acme/pulumi-jobs/prod",
		"accessTokenSecret": "pulumi-api", "directory": "deploy",
	}})
	res, err := r.Up(ctx)
	require.NoError(t, err)

	name, ok := res.Outputs[outputs.GitOpsStack].Value.(string)
	require.True(t, ok, "the stack exports the operator Stack's name")
	obj, err := dyn.Resource(stackGVR).Namespace(r.namespace).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)

	// What the program sent, from the state's inputs, passes strict validation.
	sent := sentObject(t, r, "kubernetes:pulumi.com/v1:Stack")
	sent.SetName(name + "-strict")
	_, err = dyn.Resource(stackGVR).Namespace(r.namespace).Create(ctx, sent,
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
	require.NoError(t, err, "the operator's CRD knows every field the program sets")
	spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
	assert.Equal(t, "acme/pulumi-jobs/prod", spec["stack"])
	assert.Equal(t, "https://github.com/acme/shop-deploy.git", spec["projectRepo"])
	assert.Equal(t, "main", spec["branch"])
	assert.Equal(t, "deploy", spec["repoDir"])
	assert.EqualValues(t, 300, spec["resyncFrequencySeconds"])
	assert.Equal(t, false, spec["destroyOnFinalize"])
	assert.Equal(t, true, spec["refresh"])
	assert.EqualValues(t, 3600, spec["retryMaxBackoffDurationSeconds"])
	assert.Equal(t, "shop-pulumi-operator", spec["serviceAccountName"])
	token, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "envRefs", "PULUMI_ACCESS_TOKEN", "secret")
	assert.Equal(t, map[string]string{"name": "pulumi-api", "key": "accessToken"}, token)

	c := e.cluster.Client
	_, err = c.CoreV1().ServiceAccounts(r.namespace).Get(ctx, "shop-pulumi-operator", metav1.GetOptions{})
	require.NoError(t, err)
	bindings, err := c.RbacV1().ClusterRoleBindings().List(ctx, listOpts("app.kubernetes.io/part-of=shop"))
	require.NoError(t, err)
	roles := map[string]bool{}
	for _, b := range bindings.Items {
		for _, s := range b.Subjects {
			if s.Kind == "ServiceAccount" && s.Namespace == r.namespace {
				roles[b.RoleRef.Name] = true
			}
		}
	}
	assert.True(t, roles["system:auth-delegator"], "the workspace account may delegate authentication: %v", roles)
}

// sentObject returns the inputs the program registered for the one resource
// of type typ in the stack's state: the object as the program declared it,
// before the API server pruned or defaulted anything.
func sentObject(t *testing.T, r *testStack, typ string) *unstructured.Unstructured {
	t.Helper()
	stack := r.Stack()
	state, err := stack.Export(context.Background())
	require.NoError(t, err)
	var dep struct {
		Resources []struct {
			Type   string         `json:"type"`
			Inputs map[string]any `json:"inputs"`
		} `json:"resources"`
	}
	require.NoError(t, json.Unmarshal(state.Deployment, &dep))
	for _, res := range dep.Resources {
		if res.Type == typ {
			obj := map[string]any{}
			for k, v := range res.Inputs {
				if k != "__fieldManager" && k != "__initialApiVersion" {
					obj[k] = v
				}
			}
			return &unstructured.Unstructured{Object: obj}
		}
	}
	require.FailNow(t, "no resource of type "+typ+" in the state")
	return nil
}
