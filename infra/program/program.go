// Package program is the pulumi-jobs Pulumi program. Run is used both by the
// thin main package (`pulumi up` with the Go language host) and, inline, by
// the Automation API driver and the tests.
package program

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/outputs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// Run reads and validates the stack config into the args of one release,
// registers it with release.New, named after its app, and exports its
// outputs: the program is a thin client of the library. An invalid config registers no resource at all.
func Run(ctx *pulumi.Context) error {
	return run(ctx, ctx)
}

// RunIn returns Run for the project in dir, releasing to the cluster of the
// kubeconfig file (empty: $KUBECONFIG, ~/.kube/config): the paths of the
// config (app.manifests, app.chart, a job's manifest) are relative to dir,
// and the release looks up what it would create in that cluster. The
// Automation API tells an inline program neither its project directory nor
// the environment it gives the provider, so a driver that runs the program
// inline says both with this.
func RunIn(dir, kubeconfig string) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		return run(ctx, rootedSource{Context: ctx, root: dir, kubeconfig: kubeconfig})
	}
}

// rootedSource is the context as a config source whose project directory
// is known.
type rootedSource struct {
	*pulumi.Context
	root       string
	kubeconfig string
}

// RootDirectory is the project directory.
func (s rootedSource) RootDirectory() string { return s.root }

// run is Run with config read from src.
func run(ctx *pulumi.Context, src config.Source) error {
	if err := checkKeys(ctx.Stack(), os.Getenv(pulumi.EnvConfig)); err != nil {
		return err
	}
	plan, err := config.Load(src)
	if err != nil {
		return err
	}
	if s, ok := src.(rootedSource); ok && s.kubeconfig != "" {
		kctx, _ := ctx.GetConfig("kubernetes:context")
		if plan.Args.Cluster, err = ownership.Connect(s.kubeconfig, kctx); err != nil {
			return fmt.Errorf("reaching the cluster of %s: %w", s.kubeconfig, err)
		}
	}
	// The plan config.Load made (files read) is the one registered, its
	// chart rendered once the release has asked its cluster: each run plans
	// the release once.
	r, err := release.NewFromPlan(ctx, plan.App.Name, plan)
	var refused *check.ArgsError
	if errors.As(err, &refused) {
		return config.FromRelease(ctx.Stack(), refused)
	}
	if err != nil {
		return fmt.Errorf("declaring release %q: %w", plan.App.Name, err)
	}
	outputs.Export(ctx, r.Plan, r)
	return nil
}

// checkKeys refuses unknown pulumi-jobs keys when the program can see the
// whole config: a language host (plain `pulumi up`) hands the program its
// config as JSON in PULUMI_CONFIG. An inline program of the Automation API
// gets none; the deploy driver checks the stack's keys before it runs it.
func checkKeys(stack, all string) error {
	if all == "" {
		return nil
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(all), &cfg); err != nil {
		return fmt.Errorf("reading %s: %w", pulumi.EnvConfig, err)
	}
	if problems := config.UnknownKeys(slices.Sorted(maps.Keys(cfg))); len(problems) > 0 {
		return &config.Error{Stack: stack, Problems: problems}
	}
	return nil
}
