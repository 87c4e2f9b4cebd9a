package hook_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/hook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
)

// seen is what a test compares of a hook: all but its object and phases.
type seen struct {
	Source, Kind, Name string
	Events             []string
	Weight             int
}

func hooks(hs []hook.Hook) []seen {
	var out []seen
	for _, h := range hs {
		out = append(out, seen{h.Source, h.Kind, h.Name, h.Events, h.Weight})
	}
	return out
}

// TestArgoCD reads the Argo CD fixture: PreSync hooks as pre-install and
// pre-upgrade hooks by sync-wave, then kind (the ConfigMap before the Job of
// its wave), then name; PostSync as post-install and post-upgrade, a
// generateName read as the name; SyncFail not run, with a warning; the
// Service the app's.
func TestArgoCD(t *testing.T) {
	objs, err := manifest.Load("../manifest/testdata/hooks", "argo")
	require.NoError(t, err)
	p := &check.Problems{}
	app, pre, post, warnings := hook.ArgoCD(p, "app.manifests", objs)
	require.Empty(t, p.List)

	dir := "argo/" // Source is relative to the root Load was given
	assert.Equal(t, []string{"Service/my-app"}, kindNames(app))
	both := []string{"pre-install", "pre-upgrade"}
	assert.Equal(t, []seen{
		{dir + "settings.yaml", "ConfigMap", "migrate-settings", both, -1},
		{dir + "migrate.yaml", "Job", "migrate", both, -1},
		{dir + "seed.yaml", "Job", "seed", both, 5},
	}, hooks(pre))
	assert.Equal(t, []seen{
		{dir + "smoke.yaml", "Job", "smoke-test", []string{"post-install", "post-upgrade"}, 0},
	}, hooks(post))
	assert.Equal(t, []string{"Argo CD SyncFail hook Job/notify-failure (" + dir + "notify.yaml) is not run: pulumi-jobs runs PreSync and PostSync hooks only"}, warnings)
}

func TestArgoCDBadSyncWave(t *testing.T) {
	obj := manifest.Object{Source: "x.yaml", Obj: map[string]any{
		"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": "m", "annotations": map[string]any{
			hook.ArgoCDAnnotation: "PreSync", hook.ArgoCDSyncWaveAnnotation: "first",
		}},
	}}
	p := &check.Problems{}
	hook.ArgoCD(p, "app.manifests", []manifest.Object{obj})
	assert.Equal(t, []check.Problem{{Key: "app.manifests", Message: `Job/m (x.yaml): argocd.argoproj.io/sync-wave "first" is not a whole number: write one such as "-1"`}}, p.List)
}

func kindNames(objs []manifest.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, manifest.Kind(o)+"/"+manifest.Name(o))
	}
	return out
}
