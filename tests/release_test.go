package tests

import (
	"context"
	"encoding/json"
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
		"pulumi-jobs:index:AppPhase":    1,
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

	// A stack that an earlier version released is updated in place: its
	// state, rewritten as that version wrote it, is imported, and the next
	// up finds every resource through its aliases and changes nothing.
	st := r.Stack()
	current, err := st.Export(ctx)
	require.NoError(t, err)
	for _, c := range []struct {
		name    string
		rewrite [][2]string
	}{
		{"0.3: the app phase's token was App's", [][2]string{
			{"$pulumi-jobs:index:AppPhase", "$pulumi-jobs:index:App"},
		}},
		{"0.2: components PreDeploy, Deploy and PostDeploy, Jobs by their bare names", [][2]string{
			{"$pulumi-jobs:index:AppPhase::shop-app\"", "$pulumi-jobs:index:Deploy::shop-deploy\""},
			{"$pulumi-jobs:index:AppPhase$", "$pulumi-jobs:index:Deploy$"},
			{"$pulumi-jobs:index:Jobs::shop-pre-deploy\"", "$pulumi-jobs:index:PreDeploy::shop-pre-deploy\""},
			{"$pulumi-jobs:index:Jobs::shop-post-deploy\"", "$pulumi-jobs:index:PostDeploy::shop-post-deploy\""},
			{"$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-pre-deploy-", "$pulumi-jobs:index:PreDeploy$kubernetes:batch/v1:Job::"},
			{"$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-post-deploy-", "$pulumi-jobs:index:PostDeploy$kubernetes:batch/v1:Job::"},
			{"kubernetes:core/v1:Namespace::shop\"", "kubernetes:core/v1:Namespace::" + r.namespace + "\""},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := string(current.Deployment)
			for _, rw := range c.rewrite {
				require.Contains(t, text, rw[0], "the state has what the rewrite replaces")
				text = strings.ReplaceAll(text, rw[0], rw[1])
			}
			old := current
			old.Deployment = json.RawMessage(text)
			require.NoError(t, st.Import(ctx, old))

			res, err := r.Up(ctx)
			require.NoError(t, err)
			assert.Equal(t, map[apitype.OpType]int{apitype.OpSame: 13}, summary(t, res.Events), "every resource is found through its aliases")
			jobs, err := client.BatchV1().Jobs(r.namespace).List(ctx, listOpts(labelPartOf+"=shop"))
			require.NoError(t, err)
			require.Len(t, jobs.Items, 5)
			for _, j := range jobs.Items {
				assert.True(t, uids[j.UID], "Job %s is the one the first up created", j.Name)
			}
			now, err := st.Export(ctx)
			require.NoError(t, err)
			assert.ElementsMatch(t, urnsOf(t, current), urnsOf(t, now), "the state is written with today's names again")
		})
	}
}

// urnsOf lists the URNs of a stack's exported state.
func urnsOf(t *testing.T, state apitype.UntypedDeployment) []string {
	t.Helper()
	var d apitype.DeploymentV3
	require.NoError(t, json.Unmarshal(state.Deployment, &d))
	var urns []string
	for _, r := range d.Resources {
		urns = append(urns, string(r.URN))
	}
	return urns
}

func complete(j batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
