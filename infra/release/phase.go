package release

import (
	"fmt"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/spec"
)

// phaseArgs is what every phase needs from the release.
type phaseArgs struct {
	release   spec.Release
	namespace pulumi.StringOutput
	db        *databaseSecret
}

// Phase is a Job phase: the PreDeploy (pulumi-jobs:index:PreDeploy) or
// PostDeploy (pulumi-jobs:index:PostDeploy) component. Its Jobs run in waves:
// every Job of a wave depends on every Job of the wave before it, and Jobs of
// one wave are independent, so the engine runs them in parallel.
type Phase struct {
	pulumi.ResourceState

	// Waves are the phase's Jobs by wave, in wave order.
	Waves []Wave
	// JobNames are the cluster names of the Jobs, as a list of
	// {wave: N, jobs: [names]} in wave order.
	JobNames pulumi.MapArrayOutput `pulumi:"jobs"`
}

// Wave is the Job resources of one wave.
type Wave struct {
	// Number is the wave number from the stack config.
	Number int
	// Jobs are the wave's Job resources, in config order.
	Jobs []*batchv1.Job
}

// newPhase registers a Job phase. Its first wave depends on after (the
// Deployment and Service for the post-deploy phase; nothing for pre-deploy);
// every later wave depends on the wave before it and on after.
func newPhase(ctx *pulumi.Context, typ, name string, phase spec.Phase, a phaseArgs, after []pulumi.Resource, opts ...pulumi.ResourceOption) (*Phase, error) {
	p := &Phase{}
	if err := ctx.RegisterComponentResource(typ, name, p, opts...); err != nil {
		return nil, fmt.Errorf("registering %s phase: %w", phase.Label(), err)
	}
	var previous []pulumi.Resource
	names := pulumi.MapArray{}
	for _, w := range a.release.Waves(phase) {
		deps := append(append([]pulumi.Resource{}, after...), previous...)
		wave := Wave{Number: w.Number}
		waveNames := pulumi.StringArray{}
		for _, j := range w.Jobs {
			job, err := newJob(ctx, j, a, deps, p)
			if err != nil {
				return nil, err
			}
			wave.Jobs = append(wave.Jobs, job)
			waveNames = append(waveNames, job.Metadata.Name().Elem())
		}
		p.Waves = append(p.Waves, wave)
		names = append(names, pulumi.Map{"wave": pulumi.Int(w.Number), "jobs": waveNames})
		previous = previous[:0:0]
		for _, job := range wave.Jobs {
			previous = append(previous, job)
		}
	}
	p.JobNames = names.ToMapArrayOutput()
	if err := ctx.RegisterResourceOutputs(p, pulumi.Map{"jobs": p.JobNames}); err != nil {
		return nil, fmt.Errorf("registering outputs of the %s phase: %w", phase.Label(), err)
	}
	return p, nil
}

// jobs returns every Job resource of the phase.
func (p *Phase) jobs() []pulumi.Resource {
	var out []pulumi.Resource
	for _, w := range p.Waves {
		for _, j := range w.Jobs {
			out = append(out, j)
		}
	}
	return out
}
