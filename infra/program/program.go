// Package program is the pulumi-jobs Pulumi program. Run is used both by the
// thin main package (`pulumi up` with the Go language host) and, inline, by
// the Automation API driver and the tests.
package program

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/outputs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// Run reads and validates the stack config, registers the release and
// exports its outputs. An invalid config registers no resource at all.
func Run(ctx *pulumi.Context) error {
	if err := checkKeys(ctx.Stack(), os.Getenv(pulumi.EnvConfig)); err != nil {
		return err
	}
	s, err := config.Load(ctx)
	if err != nil {
		return err
	}
	r, err := release.NewRelease(ctx, s.App.Name, &release.ReleaseArgs{Spec: s})
	if err != nil {
		return fmt.Errorf("declaring release %q: %w", s.App.Name, err)
	}
	outputs.Export(ctx, s, r)
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
