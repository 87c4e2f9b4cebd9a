package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
)

func TestTopLevelKeys(t *testing.T) {
	assert.Equal(t, []string{"adopt", "adoptFrom", "app", "createNamespace", "databaseUrl", "gitops", "namespace", "pod", "postDeploy", "preDeploy", "release"},
		config.TopLevelKeys())
}

func TestUnknownKeys(t *testing.T) {
	const valid = "The valid pulumi-jobs keys are adopt, adoptFrom, app, createNamespace, databaseUrl, gitops, namespace, pod, postDeploy, preDeploy, release"
	cases := []struct {
		name string
		keys []string
		want []config.Problem
	}{
		{"none", nil, nil},
		{"all known, other namespaces ignored", []string{
			"pulumi-jobs:app", "pulumi-jobs:namespace", "pulumi-jobs:preDeploy", "kubernetes:context", "aws:region", "preDeploys",
		}, nil},
		{"plural", []string{"pulumi-jobs:preDeploys"}, []config.Problem{
			{Key: "pulumi-jobs:preDeploys", Message: "unknown key; did you mean preDeploy? " + valid},
		}},
		{"wrong case", []string{"pulumi-jobs:postdeploy"}, []config.Problem{
			{Key: "pulumi-jobs:postdeploy", Message: "unknown key; did you mean postDeploy? " + valid},
		}},
		{"two edits in a long key", []string{"pulumi-jobs:databaseURI"}, []config.Problem{
			{Key: "pulumi-jobs:databaseURI", Message: "unknown key; did you mean databaseUrl? " + valid},
		}},
		{"one edit in a short key", []string{"pulumi-jobs:ap"}, []config.Problem{
			{Key: "pulumi-jobs:ap", Message: "unknown key; did you mean app? " + valid},
		}},
		{"nothing near", []string{"pulumi-jobs:image"}, []config.Problem{
			{Key: "pulumi-jobs:image", Message: "unknown key; the valid pulumi-jobs keys are adopt, adoptFrom, app, createNamespace, databaseUrl, gitops, namespace, pod, postDeploy, preDeploy, release; remove it with: pulumi config rm 'pulumi-jobs:image'"},
		}},
		{"set without --path", []string{"pulumi-jobs:app.replicas"}, []config.Problem{
			{Key: "pulumi-jobs:app.replicas", Message: "unknown key; to set a field inside app use a path: pulumi config set --path 'app.replicas' <value>, then remove this key with: pulumi config rm 'pulumi-jobs:app.replicas'"},
		}},
		{"sorted by key", []string{"pulumi-jobs:releas", "kubernetes:context", "pulumi-jobs:gitop"}, []config.Problem{
			{Key: "pulumi-jobs:gitop", Message: "unknown key; did you mean gitops? " + valid},
			{Key: "pulumi-jobs:releas", Message: "unknown key; did you mean release? " + valid},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, config.UnknownKeys(c.keys))
		})
	}
}

func TestStackFile(t *testing.T) {
	assert.Equal(t, "Pulumi.dev.yaml", config.StackFile("dev"))
	assert.Equal(t, "Pulumi.prod.yaml", config.StackFile("acme/pulumi-jobs/prod"))
	err := &config.Error{Stack: "acme/pulumi-jobs/prod", Problems: []config.Problem{{Key: "pulumi-jobs:namespace", Message: "required"}}}
	assert.Equal(t, "stack \"acme/pulumi-jobs/prod\": 1 invalid config value(s); nothing was deployed. Fix them with `pulumi config set` or in Pulumi.prod.yaml:\n  - pulumi-jobs:namespace: required",
		err.Error())
}

// projectSource is a Source of a project other than pulumi-jobs.
type projectSource struct {
	pulumitest.Source
	project string
}

func (s projectSource) Project() string { return s.project }

func TestTargetStackProject(t *testing.T) {
	load := func(project, target string) error {
		cfg := pulumitest.Config{Values: map[string]string{}}
		cfg.Set(config.Key(config.KeyNamespace), "shop")
		require.NoError(t, cfg.SetObject(config.Key(config.KeyApp), map[string]any{"name": "shop", "image": "shop:1"}))
		require.NoError(t, cfg.SetObject(config.Key(config.KeyGitOps), map[string]any{
			"repository": "https://github.com/acme/shop.git", "targetStack": target, "accessTokenSecret": "pulumi-api",
		}))
		var src config.Source = pulumitest.Source{Config: cfg, StackName: "dev"}
		if project != "" {
			src = projectSource{Source: src.(pulumitest.Source), project: project}
		}
		_, err := config.Load(src)
		return err
	}
	assertRefused := func(err error, msg string) {
		t.Helper()
		var cerr *config.Error
		require.ErrorAs(t, err, &cerr)
		assert.Equal(t, []config.Problem{{Key: "pulumi-jobs:gitops.targetStack", Message: msg}}, cerr.Problems)
	}

	assertRefused(load("", "acme/pulumi-jobs/dev"),
		`"acme/pulumi-jobs/dev" is this stack itself (project pulumi-jobs, stack dev); the operator must run another stack of the project, the one this stack hands over to`)
	assert.NoError(t, load("", "acme/other/dev"), "same stack name, another project")
	assertRefused(load("shop", "acme/shop/dev"),
		`"acme/shop/dev" is this stack itself (project shop, stack dev); the operator must run another stack of the project, the one this stack hands over to`)
	assert.NoError(t, load("shop", "acme/pulumi-jobs/dev"), "the project comes from the Source when it has one")
	assert.NoError(t, load("", "acme/pulumi-jobs/prod"))
}
