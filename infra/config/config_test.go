package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

func TestDefaults(t *testing.T) {
	cfg := pulumitest.Config{Values: map[string]string{}}
	cfg.Set(config.Key(config.KeyNamespace), "shop")
	require.NoError(t, cfg.SetObject(config.Key(config.KeyApp), map[string]any{
		"name": "shop", "image": "ghcr.io/acme/shop:1.0.0", "env": map[string]string{"B": "2", "A": "1", "C": "3"},
	}))
	require.NoError(t, cfg.SetObject(config.Key(config.KeyPostDeploy), []map[string]any{{"name": "smoke", "command": []string{"smoke"}}}))

	plan, err := config.Load(pulumitest.Source{Config: cfg, StackName: "dev"})
	require.NoError(t, err)

	resources := pod.Resources{
		Requests: &pod.Quantities{CPU: "100m", Memory: "128Mi"},
		Limits:   &pod.Quantities{CPU: "500m", Memory: "256Mi"},
	}
	assert.True(t, plan.CreateNamespace)
	assert.Nil(t, plan.Args.DatabaseURL)
	assert.Equal(t, release.AppPlan{
		Name: "shop", Replicas: 1, Port: 8080, Env: map[string]string{"A": "1", "B": "2", "C": "3"}, Resources: resources,
	}, plan.App)
	assert.Empty(t, plan.PreDeploy)
	assert.Equal(t, []jobs.Wave{{Number: 0, Jobs: []jobs.Planned{{
		Name: "smoke", Key: "postDeploy[0].name", Command: []string{"smoke"}, Wave: 0, Rerun: "onChange", BackoffLimit: 2, Timeout: 10 * time.Minute,
		Resources: resources,
	}}}}, plan.PostDeploy)
}
