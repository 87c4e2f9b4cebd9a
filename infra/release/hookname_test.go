package release_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// TestLongHookName: a chart hook Job with a 60-character name, which Helm
// accepts, is registered under a resource name the provider can auto-name
// into a Job name of at most 63 characters; its label keeps the hook's name.
func TestLongHookName(t *testing.T) {
	dir := t.TempDir()
	hook := strings.Repeat("a", 50) + "-migration"
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "templates"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte("apiVersion: v2\nname: shop\nversion: 1.0.0\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "templates", "hook.yaml"), []byte(`apiVersion: batch/v1
kind: Job
metadata:
  name: `+hook+`
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
spec:
  template:
    spec:
      containers: [{name: migrate, image: ghcr.io/acme/shop:1.0.0}]
`), 0o644))
	r := runProgram(t, "dev", newRelease("shop", &release.Args{
		Namespace: pulumi.String("shop"),
		Image:     pulumi.String("ghcr.io/acme/shop:1.0.0"),
		App:       release.App{Name: "shop", Chart: &release.Chart{Path: dir}},
		Cluster:   &fakeCluster{},
	}))
	// "shop-hook-" and the hook's name is 70 characters: its first 45, "-" and
	// 8 hex digits of its SHA-256 leave 9 for the provider's "-" and suffix.
	urn := "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-hook-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-8faa3da9"
	job := r.get(t, urn)
	assert.Equal(t, hook, prop(t, job.Inputs, `metadata.labels["pulumi-jobs/job"]`).StringValue())
}
