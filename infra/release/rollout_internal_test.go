package release

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
)

// TestSkipProviderAwaitOf: an apps/v1 Deployment of the files gets
// pulumi.com/skipAwait (the release awaits its rollout), on a copy: the
// plan's object is left as it was; a Deployment that chooses its own await,
// and any other kind, is left alone.
func TestSkipProviderAwaitOf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		obj     map[string]any
		want    map[string]any
		awaited bool
	}{
		{"a Deployment",
			map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"}},
			map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web",
				"annotations": map[string]any{"pulumi.com/skipAwait": "true"}}},
			true},
		{"a Deployment with annotations of its own",
			map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web",
				"annotations": map[string]any{"team": "shop"}}},
			map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web",
				"annotations": map[string]any{"team": "shop", "pulumi.com/skipAwait": "true"}}},
			true},
		{"a Deployment that says waitFor",
			map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web",
				"annotations": map[string]any{"pulumi.com/waitFor": "condition=Available"}}},
			map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web",
				"annotations": map[string]any{"pulumi.com/waitFor": "condition=Available"}}},
			false},
		{"a Deployment that says skipAwait false",
			map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web",
				"annotations": map[string]any{"pulumi.com/skipAwait": "false"}}},
			map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web",
				"annotations": map[string]any{"pulumi.com/skipAwait": "false"}}},
			false},
		{"a StatefulSet",
			map[string]any{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": map[string]any{"name": "db"}},
			map[string]any{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": map[string]any{"name": "db",
				"annotations": map[string]any{"pulumi.com/skipAwait": "true"}}},
			true},
		{"a DaemonSet",
			map[string]any{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": map[string]any{"name": "agent"}},
			map[string]any{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": map[string]any{"name": "agent"}},
			false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := manifest.Object{Obj: tc.obj}
			got, awaited := skipProviderAwaitOf(before)
			assert.Equal(t, tc.awaited, awaited)
			assert.Equal(t, tc.want, got.Obj)
			if awaited {
				ann, _ := before.Obj["metadata"].(map[string]any)["annotations"].(map[string]any)
				_, changed := ann["pulumi.com/skipAwait"]
				assert.False(t, changed, "the plan's object is not changed")
			}
		})
	}
}
