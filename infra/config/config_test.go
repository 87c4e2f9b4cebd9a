package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/spec"
)

func TestDefaults(t *testing.T) {
	cfg := pulumitest.Config{Values: map[string]string{}}
	cfg.Set(config.Key(config.KeyNamespace), "shop")
	require.NoError(t, cfg.SetObject(config.Key(config.KeyApp), map[string]any{
		"name": "shop", "image": "ghcr.io/acme/shop:1.0.0", "env": map[string]string{"B": "2", "A": "1", "C": "3"},
	}))
	require.NoError(t, cfg.SetObject(config.Key(config.KeyPostDeploy), []map[string]any{{"name": "smoke", "command": []string{"smoke"}}}))

	s, err := config.Load(pulumitest.Source{Config: cfg, StackName: "dev"})
	require.NoError(t, err)

	assert.True(t, s.CreateNamespace)
	assert.False(t, s.HasDatabaseURL)
	assert.Equal(t, config.DefaultReplicas, s.App.Replicas)
	assert.Equal(t, config.DefaultPort, s.App.Port)
	assert.Equal(t, spec.Resources{
		Requests: spec.Quantities{CPU: config.DefaultCPURequest, Memory: config.DefaultMemoryRequest},
		Limits:   spec.Quantities{CPU: config.DefaultCPULimit, Memory: config.DefaultMemoryLimit},
	}, s.App.Resources)
	assert.Equal(t, []spec.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}, {Name: "C", Value: "3"}}, s.App.Env,
		"env is sorted so the pod template never changes with map order")
	require.Len(t, s.Jobs, 1)
	assert.Equal(t, spec.Job{
		Name: "smoke", Phase: spec.PostDeploy, Command: []string{"smoke"}, Image: "ghcr.io/acme/shop:1.0.0",
		Wave: 0, Rerun: spec.OnChange, BackoffLimit: 2, Timeout: 10 * time.Minute,
	}, s.Jobs[0])
}
