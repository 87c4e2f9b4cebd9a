package release_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// TestServicesOfFilesAreNotAwaited: the files' ClusterIP, headless and
// NodePort Services skip the provider's 10 s endpoint settle (the
// Deployment's rollout is awaited instead); a LoadBalancer keeps its await,
// and a Service that says skipAwait itself keeps what it says.
func TestServicesOfFilesAreNotAwaited(t *testing.T) {
	dir := t.TempDir()
	service := func(name, extra string) string {
		return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n" + extra +
			"spec:\n  selector: {app: shop}\n  ports: [{port: 80}]\n"
	}
	files := service("plain", "") + "---\n" +
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: headless\nspec:\n  clusterIP: None\n  selector: {app: shop}\n  ports: [{port: 80}]\n---\n" +
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: nodeport\nspec:\n  type: NodePort\n  ports: [{port: 80}]\n---\n" +
		"apiVersion: v1\nkind: Service\nmetadata:\n  name: lb\nspec:\n  type: LoadBalancer\n  ports: [{port: 80}]\n---\n" +
		service("awaited", "  annotations:\n    pulumi.com/skipAwait: \"false\"\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(files), 0o644))

	p := &check.Problems{}
	plan := release.Check(p, "shop", jobs.Env{Stack: "dev", Project: "pulumi-jobs", Root: dir}, &release.Args{
		Namespace: pulumi.String("shop"), Image: pulumi.String("ghcr.io/acme/shop:1.0.0"),
		App: release.App{Name: "shop", Manifests: "services.yaml"},
	})
	require.Empty(t, p.List)
	got := map[string]any{}
	for _, o := range plan.App.Objects {
		ann := o.Obj["metadata"].(map[string]any)["annotations"].(map[string]any)
		got[manifest.Name(o)] = ann["pulumi.com/skipAwait"]
	}
	assert.Equal(t, map[string]any{"plain": "true", "headless": "true", "nodeport": "true", "lb": nil, "awaited": "false"}, got)
}
