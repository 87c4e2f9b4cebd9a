// Package program is the pulumi-jobs Pulumi program. Run is used both by the
// thin main package (`pulumi up` with the Go language host) and, inline, by
// the Automation API driver and the tests.
package program

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/outputs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// Run reads and validates the stack config, registers the release and
// exports its outputs. An invalid config registers no resource at all.
func Run(ctx *pulumi.Context) error {
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
