package hook_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pulumi-jobs/pulumi-jobs/infra/hook"
)

// TestPlace pins where an install and an upgrade run a hook of every
// combination of events, as Helm runs them, once each.
func TestPlace(t *testing.T) {
	for _, tc := range []struct {
		events           string
		install, upgrade hook.Phase
	}{
		{"pre-install", hook.Pre, hook.None},
		{"post-install", hook.Post, hook.None},
		{"pre-upgrade", hook.None, hook.Pre},
		{"post-upgrade", hook.None, hook.Post},
		{"pre-install,pre-upgrade", hook.Pre, hook.Pre},
		{"post-install,post-upgrade", hook.Post, hook.Post},
		{"post-install,pre-upgrade", hook.Post, hook.Pre}, // a migration that needs the bundled database
		{"pre-install,post-upgrade", hook.Pre, hook.Post},
		{"pre-install,post-install", hook.Pre, hook.None}, // Helm runs it twice; once, first
		{"pre-upgrade,post-upgrade", hook.None, hook.Pre},
		{"pre-install,post-install,pre-upgrade,post-upgrade", hook.Pre, hook.Pre},
		{"post-install,test", hook.Post, hook.Post}, // tests on
		{"test", hook.Post, hook.Post},
		{"pre-upgrade,pre-rollback", hook.None, hook.Pre},
		{"pre-delete", hook.None, hook.None},
		{"post-rollback", hook.None, hook.None},
		{"", hook.None, hook.None},
	} {
		events := strings.Split(tc.events, ",")
		assert.Equal(t, tc.install, hook.Place(events, false, true), "install %s", tc.events)
		assert.Equal(t, tc.upgrade, hook.Place(events, true, true), "upgrade %s", tc.events)
	}
	// Without tests, a test hook runs on neither.
	assert.Equal(t, hook.None, hook.Place([]string{"test"}, false, false))
	assert.Equal(t, hook.None, hook.Place([]string{"test"}, true, false))
}

// TestOnceOnlyAndTestOnly: which hooks a release runs once, and which only
// as tests after the other post-deploy hooks.
func TestOnceOnlyAndTestOnly(t *testing.T) {
	for _, tc := range []struct {
		events         []string
		once, testOnly bool
	}{
		{[]string{"pre-install"}, true, false},
		{[]string{"post-install"}, true, false},
		{[]string{"pre-install", "post-install"}, true, false},
		{[]string{"pre-install", "pre-upgrade"}, false, false},
		{[]string{"post-install", "post-upgrade"}, false, false},
		{[]string{"pre-upgrade"}, false, false},
		{[]string{"post-upgrade"}, false, false},
		{[]string{"pre-install", "post-upgrade"}, false, false}, // runs on every upgrade, after the app
		{[]string{"post-install", "test"}, true, false},         // also runs with the release's post hooks
		{[]string{"test"}, false, true},
		{[]string{"pre-delete"}, false, false},
		{nil, false, false},
	} {
		h := hook.Hook{Events: tc.events}
		assert.Equal(t, tc.once, hook.OnceOnly(h), "OnceOnly %v", tc.events)
		assert.Equal(t, tc.testOnly, hook.TestOnly(h), "TestOnly %v", tc.events)
	}
}

// TestJobName: a hook's Job is named after the hook, a test Pod's after its
// template, whose name does not change between renders.
func TestJobName(t *testing.T) {
	for _, tc := range []struct {
		hook      hook.Hook
		asJob     bool
		name, key string
	}{
		{hook.Hook{Kind: "Job", Name: "shop-migrate", Source: "shop/templates/migrate-job.yaml"}, true, "shop-migrate", "Job/shop-migrate"},
		{hook.Hook{Kind: "Pod", Name: "shop-test-x7k2p", Source: "shop/templates/tests/test-connection.yaml"}, true, "test-connection", "Pod/test-connection"},
		{hook.Hook{Kind: "ConfigMap", Name: "shop-migrate", Source: "shop/templates/migrate-config.yaml"}, false, "shop-migrate", "ConfigMap/shop-migrate"},
	} {
		assert.Equal(t, tc.asJob, tc.hook.RunsAsJob(), tc.hook.Kind)
		assert.Equal(t, tc.name, tc.hook.JobName(), tc.hook.Kind)
		assert.Equal(t, tc.key, tc.hook.Key(), tc.hook.Kind)
	}
}

// TestMark: a hook object we run keeps what it was in one annotation of
// ours, and none of the hook annotations that would say another tool runs it.
func TestMark(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ann, want map[string]any
	}{
		{"Helm", map[string]any{"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5", "helm.sh/hook-delete-policy": "hook-succeeded", "team": "db"},
			map[string]any{"pulumi-jobs/hook": "pre-install,pre-upgrade", "team": "db"}},
		{"Argo CD", map[string]any{"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "HookSucceeded", "argocd.argoproj.io/sync-wave": "-1"},
			map[string]any{"pulumi-jobs/hook": "argocd: PreSync"}},
		{"not a hook", map[string]any{"team": "db"}, map[string]any{"team": "db"}},
	} {
		obj := map[string]any{"metadata": map[string]any{"annotations": tc.ann}}
		hook.Mark(obj)
		assert.Equal(t, tc.want, obj["metadata"].(map[string]any)["annotations"], tc.name)
	}
}
