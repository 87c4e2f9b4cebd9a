package program_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
)

func gitopsConfig(t *testing.T, gitops map[string]any) pulumitest.Config {
	t.Helper()
	cfg := minimal()
	require.NoError(t, cfg.SetObject("pulumi-jobs:gitops", gitops))
	return cfg
}

func TestGitOpsHandOver(t *testing.T) {
	r := runStack(t, "bootstrap", gitopsConfig(t, map[string]any{
		"repository":        "https://github.com/acme/shop-deploy.git",
		"directory":         "deploy/",
		"targetStack":       "acme/pulumi-jobs/prod",
		"accessTokenSecret": "pulumi-api",
		"resyncInterval":    "2m",
	}))
	var stack pulumitest.Registration
	for _, reg := range r.regs {
		if reg.TypeToken == "kubernetes:pulumi.com/v1:Stack" {
			stack = reg
		}
	}
	require.NotEmpty(t, stack.URN, "a pulumi.com/v1 Stack is declared")
	gitops := r.find("pulumi-jobs:index:GitOps", "shop-gitops")
	assert.Equal(t, "urn:pulumi:bootstrap::pulumi-jobs::pulumi-jobs:index:Release::shop", gitops.RegisterRPC.GetParent())
	assert.Equal(t, "urn:pulumi:bootstrap::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:GitOps::shop-gitops", gitops.URN)
	assert.Equal(t, gitops.URN, stack.RegisterRPC.GetParent())

	spec := prop(t, stack.Inputs, "spec").ObjectValue()
	assert.Equal(t, "acme/pulumi-jobs/prod", spec["stack"].StringValue())
	assert.Equal(t, "https://github.com/acme/shop-deploy.git", spec["projectRepo"].StringValue())
	assert.Equal(t, "main", spec["branch"].StringValue(), "the default branch")
	assert.Equal(t, "deploy", spec["repoDir"].StringValue())
	assert.Equal(t, float64(120), spec["resyncFrequencySeconds"].NumberValue())
	assert.Equal(t, "shop-pulumi-operator", spec["serviceAccountName"].StringValue())
	assert.False(t, spec["destroyOnFinalize"].BoolValue(), "deleting the Stack object must not destroy the release")
	assert.True(t, spec["refresh"].BoolValue())
	assert.Equal(t, float64(3600), spec["retryMaxBackoffDurationSeconds"].NumberValue())
	assert.Equal(t, "Secret", prop(t, stack.Inputs, "spec.envRefs.PULUMI_ACCESS_TOKEN.type").StringValue())
	assert.Equal(t, "pulumi-api", prop(t, stack.Inputs, "spec.envRefs.PULUMI_ACCESS_TOKEN.secret.name").StringValue())
	assert.Equal(t, "accessToken", prop(t, stack.Inputs, "spec.envRefs.PULUMI_ACCESS_TOKEN.secret.key").StringValue())
	for _, forbidden := range []string{"accessTokenSecret", "envSecrets", "secrets"} {
		_, has := spec[resource.PropertyKey(forbidden)]
		assert.False(t, has, "the deprecated %s is not used", forbidden)
	}

	sa := r.find("kubernetes:core/v1:ServiceAccount", "shop-gitops-sa")
	delegator := r.find("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "shop-gitops-auth-delegator")
	admin := r.find("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "shop-gitops-admin")
	nsRole := r.find("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "shop-gitops-namespace")
	nsBinding := r.find("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "shop-gitops-namespace")
	assert.Equal(t, "system:auth-delegator", prop(t, delegator.Inputs, "roleRef.name").StringValue())
	assert.Equal(t, "admin", prop(t, admin.Inputs, "roleRef.name").StringValue())
	assert.Equal(t, "shop", prop(t, nsRole.Inputs, "rules[0].resourceNames[0]").StringValue(), "rights on the release's namespace only")
	assert.ElementsMatch(t, []string{sa.URN, delegator.URN, admin.URN, nsRole.URN, nsBinding.URN}, r.explicitDeps(stack),
		"the Stack waits for its service account and permissions")
}
