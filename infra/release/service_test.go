package release_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// TestServicesOfFilesAreNotAwaited: the files' ClusterIP, headless and
// NodePort Services skip the provider's 10 s endpoint settle (the
// Deployment's rollout is awaited instead); a LoadBalancer Service is
// awaited until it has an address, without it; an Ingress is not awaited
// (Helm's --wait never waits for one); an object that says skipAwait or
// waitFor itself keeps what it says.
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
		service("awaited", "  annotations:\n    pulumi.com/skipAwait: \"false\"\n") + "---\n" +
		service("own-condition", "  annotations:\n    pulumi.com/waitFor: \"jsonpath={.spec.clusterIP}\"\n") + "---\n" +
		"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\nspec:\n  defaultBackend: {service: {name: plain, port: {number: 80}}}\n---\n" +
		"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: awaited-web\n  annotations:\n    pulumi.com/waitFor: \"jsonpath={.status.loadBalancer.ingress[0]}\"\nspec:\n  defaultBackend: {service: {name: plain, port: {number: 80}}}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "services.yaml"), []byte(files), 0o644))

	p := &check.Problems{}
	plan := release.NewPlan(p, "shop", vocab.Stack{Name: "dev", Project: "pulumi-jobs", Dir: dir}, &release.Args{
		Namespace: pulumi.String("shop"), Image: pulumi.String("ghcr.io/acme/shop:1.0.0"),
		App: release.App{Name: "shop", Manifests: "services.yaml"},
	})

	require.Empty(t, p.List)
	got := map[string]any{}
	for _, o := range plan.App.Objects {
		ann := o.Obj["metadata"].(map[string]any)["annotations"].(map[string]any)
		got[manifest.Name(o)] = [2]any{ann["pulumi.com/skipAwait"], ann["pulumi.com/waitFor"]}
	}
	address := "jsonpath={.status.loadBalancer.ingress[0]}"
	assert.Equal(t, map[string]any{
		"plain":         [2]any{"true", nil},
		"headless":      [2]any{"true", nil},
		"nodeport":      [2]any{"true", nil},
		"lb":            [2]any{nil, address},
		"awaited":       [2]any{"false", nil},
		"own-condition": [2]any{nil, "jsonpath={.spec.clusterIP}"},
		"web":           [2]any{"true", nil},
		"awaited-web":   [2]any{nil, address},
	}, got)
}
