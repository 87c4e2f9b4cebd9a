package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
)

// stackConfig is a test stack's pulumi-jobs config.
type stackConfig struct {
	App             map[string]any
	PreDeploy       []map[string]any
	PostDeploy      []map[string]any
	Release         string
	CreateNamespace *bool
	GitOps          map[string]any
}

// app returns an app config with image tag.
func app(tag string) map[string]any {
	return map[string]any{"name": "shop", "image": "ghcr.io/acme/shop:" + tag, "replicas": 1}
}

// job returns a job config that runs for delay (a Go duration) on kwok.
func job(name string, wave int, delay string, extra map[string]any) map[string]any {
	j := map[string]any{
		"name": name, "command": []string{"/app/shop", name}, "wave": wave,
		"annotations": map[string]any{"pod-complete.stage.kwok.x-k8s.io/delay": delay},
	}
	for k, v := range extra {
		j[k] = v
	}
	return j
}

// failing returns annotations that make a Job's pods fail with exit code 3.
func failing() map[string]any {
	return map[string]any{
		"pod-container-running-failed.stage.kwok.x-k8s.io":           "true",
		"pod-container-running-failed.stage.kwok.x-k8s.io/delay":     "1s",
		"pod-container-running-failed.stage.kwok.x-k8s.io/exit-code": "3",
		"pod-container-running-failed.stage.kwok.x-k8s.io/message":   "relation \"users\" already exists",
	}
}

// write replaces the stack's pulumi-jobs config, keeping what the CLI put in
// the file (the passphrase salt and secure values).
func (r *testStack) write(t testing.TB, c stackConfig) {
	t.Helper()
	path := filepath.Join(r.workDir, "Pulumi."+r.name+".yaml")
	doc := map[string]any{}
	if b, err := os.ReadFile(path); err == nil {
		require.NoError(t, yaml.Unmarshal(b, &doc))
	}
	kept := map[string]any{}
	if old, ok := doc["config"].(map[string]any); ok {
		for k, v := range old {
			if m, ok := v.(map[string]any); ok && m["secure"] != nil {
				kept[k] = v
			}
		}
	}
	kept[config.Key(config.KeyNamespace)] = r.namespace
	kept[config.Key(config.KeyApp)] = c.App
	kept[config.Key(config.KeyPreDeploy)] = orEmpty(c.PreDeploy)
	kept[config.Key(config.KeyPostDeploy)] = orEmpty(c.PostDeploy)
	kept[config.Key(config.KeyRelease)] = c.Release
	if c.GitOps != nil {
		kept[config.Key(config.KeyGitOps)] = c.GitOps
	}
	if c.CreateNamespace != nil {
		kept[config.Key(config.KeyCreateNamespace)] = *c.CreateNamespace
	}
	doc["config"] = kept
	b, err := json.MarshalIndent(doc, "", "  ") // JSON is YAML
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func orEmpty(jobs []map[string]any) []map[string]any {
	if jobs == nil {
		return []map[string]any{}
	}
	return jobs
}
