package outputs_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/outputs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// TestMermaidOfChart draws a chart's release: the pre-deploy hook objects
// before the migration, the app's objects by kind, the smoke test after it
// and the test hook last. (The built-in app's graph is in program's TestMermaid.)
func TestMermaidOfChart(t *testing.T) {
	p := &check.Problems{}
	plan := release.NewPlan(p, "shop", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, &release.Args{
		Namespace:  pulumi.String("shop"),
		Image:      pulumi.String("ghcr.io/org/shop:v1.1.0"),
		App:        release.App{Name: "shop", Chart: &release.Chart{Path: "../chart/testdata/shop", Tests: true}},
		PostDeploy: []jobs.Job{{Name: "warm-cache", Command: []string{"warm"}}},
	})

	require.Empty(t, p.List)
	require.NoError(t, plan.RenderChart(nil, nil, ""))
	// An install: the upgrade-only backup does not run.
	want := `flowchart LR
  prehooks["pre-deploy hooks<br/>ConfigMap shop-migrate<br/>Secret shop-initial-password (once)"]
  subgraph pre0["pre-deploy · wave 0"]
    pre0_shop_migrate["shop-migrate<br/>onUpgrade: runs, revision 1"]
  end
  prehooks --> pre0
  app["app shop<br/>ConfigMap shop-config<br/>Deployment shop<br/>Service shop"]
  pre0 --> app
  subgraph post0["post-deploy · wave 0"]
    post0_warm_cache["warm-cache<br/>onChange"]
    post0_shop_smoke_test["shop-smoke-test<br/>onUpgrade: runs, revision 1"]
  end
  app --> post0
  subgraph post1["post-deploy · wave 1"]
    post1_test_connection["test-connection<br/>onUpgrade: runs, revision 1"]
  end
  post0 --> post1`
	assert.Equal(t, want, strings.TrimSpace(outputs.Mermaid(plan)))
}
