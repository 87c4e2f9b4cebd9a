package tests

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestFirstUpThenNoChange releases the shipped dev stack: the first up
// creates every resource and the release is live in the cluster; a second up
// with nothing changed reports zero changes and runs no Job again.
func TestFirstUpThenNoChange(t *testing.T) {
	e := setup(t)
	r := newStack(t, e, "dev")
	ctx := context.Background()
	client := e.cluster.Client

	first, err := r.Up(ctx)
	require.NoError(t, err)

	created := map[string]int{}
	for urn, op := range ops(first.Events) {
		require.Equal(t, apitype.OpCreate, op, "first up: %s", urn)
		if !strings.HasPrefix(typeOf(urn), "pulumi:providers:") {
			created[typeOf(urn)]++
		}
	}
	assert.Equal(t, map[string]int{
		"pulumi:pulumi:Stack":           1,
		"pulumi-jobs:index:Release":     1,
		"pulumi-jobs:index:Jobs":        2,
		"pulumi-jobs:index:App":         1,
		"kubernetes:core/v1:Namespace":  1,
		"kubernetes:batch/v1:Job":       5,
		"kubernetes:apps/v1:Deployment": 1,
		"kubernetes:core/v1:Service":    1,
	}, created, "the first up creates every resource of the dev stack")
	assert.Equal(t, 13, summary(t, first.Events)[apitype.OpCreate])

	ns, err := client.CoreV1().Namespaces().Get(ctx, r.namespace, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "restricted", ns.Labels["pod-security.kubernetes.io/enforce"])
	jobs, err := client.BatchV1().Jobs(r.namespace).List(ctx, listOpts(labelPartOf+"=shop"))
	require.NoError(t, err)
	require.Len(t, jobs.Items, 5)
	uids := map[types.UID]bool{}
	for _, j := range jobs.Items {
		assert.True(t, complete(j), "Job %s completed", j.Name)
		uids[j.UID] = true
	}
	dep, err := client.AppsV1().Deployments(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, int32(2), dep.Status.AvailableReplicas)
	_, err = client.CoreV1().Services(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)

	second, err := r.Up(ctx)
	require.NoError(t, err)
	for urn, op := range ops(second.Events) {
		assert.Equal(t, apitype.OpSame, op, "second up: %s", urn)
	}
	assert.Equal(t, map[apitype.OpType]int{apitype.OpSame: 13}, summary(t, second.Events), "a second up changes nothing")
	after, err := client.BatchV1().Jobs(r.namespace).List(ctx, listOpts(labelPartOf+"=shop"))
	require.NoError(t, err)
	require.Len(t, after.Items, 5, "no Job was created by the second up")
	for _, j := range after.Items {
		assert.True(t, uids[j.UID], "Job %s is the one the first up created", j.Name)
	}
}

func complete(j batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
