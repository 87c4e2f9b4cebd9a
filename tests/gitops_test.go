package tests

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/pulumi-jobs/pulumi-jobs/infra/outputs"
)

var (
	crdGVR   = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	stackGVR = schema.GroupVersionResource{Group: "pulumi.com", Version: "v1", Resource: "stacks"}
)

// stackCRD is a structural CRD for pulumi.com/v1 Stack, written for this
// test (the operator's own CRD is not obtainable here). It declares the
// fields the program sets, with the operator's names and types; the API
// server prunes any field it does not declare, so a field the program
// misspells would be missing from the stored object.
func stackCRD() *unstructured.Unstructured {
	str := map[string]any{"type": "string"}
	secretRef := map[string]any{"type": "object", "properties": map[string]any{
		"type": str, "secret": map[string]any{"type": "object", "properties": map[string]any{"name": str, "key": str}},
	}}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "stacks.pulumi.com"},
		"spec": map[string]any{
			"group": "pulumi.com", "scope": "Namespaced",
			"names": map[string]any{"kind": "Stack", "listKind": "StackList", "plural": "stacks", "singular": "stack"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object",
					"properties": map[string]any{"spec": map[string]any{
						"type": "object", "required": []any{"stack"},
						"properties": map[string]any{
							"stack": str, "projectRepo": str, "branch": str, "repoDir": str, "serviceAccountName": str,
							"resyncFrequencySeconds":         map[string]any{"type": "integer", "minimum": 60},
							"retryMaxBackoffDurationSeconds": map[string]any{"type": "integer"},
							"destroyOnFinalize":              map[string]any{"type": "boolean"},
							"refresh":                        map[string]any{"type": "boolean"},
							"envRefs":                        map[string]any{"type": "object", "additionalProperties": secretRef},
						},
					}},
				}},
			}},
		},
	}}
}

// TestGitOpsStackAccepted: with gitops set, the API server accepts the
// operator Stack the program declares, with every field it sets, plus its
// service account and bindings.
func TestGitOpsStackAccepted(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	cfg, err := clientcmd.BuildConfigFromFlags("", e.cluster.Kubeconfig)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	_, err = dyn.Resource(crdGVR).Create(ctx, stackCRD(), metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = dyn.Resource(crdGVR).Delete(context.Background(), "stacks.pulumi.com", metav1.DeleteOptions{})
	})
	require.Eventually(t, func() bool {
		crd, err := dyn.Resource(crdGVR).Get(ctx, "stacks.pulumi.com", metav1.GetOptions{})
		if err != nil {
			return false
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return true
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "the Stack CRD is established")

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
