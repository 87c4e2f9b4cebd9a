// Package outputs turns a deployed release into stack outputs: the
// namespace, the app's Deployment and Service, the Jobs' cluster names by
// phase and wave, and the phase plan as a Mermaid flowchart.
package outputs

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// The stack output names.
const (
	Namespace      = "namespace"
	Deployment     = "deployment"
	Service        = "service"
	PreDeployJobs  = "preDeployJobs"
	PostDeployJobs = "postDeployJobs"
	Release        = "release"
	Phases         = "phases"
	GitOpsStack    = "gitopsStack"
)

// Export registers the stack outputs of the release r, planned as plan.
func Export(ctx *pulumi.Context, plan release.Plan, r *release.Release) {
	ctx.Export(Namespace, r.Namespace)
	ctx.Export(Deployment, r.DeploymentName)
	ctx.Export(Service, r.ServiceName)
	ctx.Export(PreDeployJobs, byWave(r.PreDeploy))
	ctx.Export(PostDeployJobs, byWave(r.PostDeploy))
	id, _ := jobs.Literal(plan.Args.ReleaseID)
	ctx.Export(Release, pulumi.String(id))
	ctx.Export(Phases, pulumi.String(Mermaid(plan)))
	if r.GitOps != nil {
		ctx.Export(GitOpsStack, r.GitOps.StackName)
	}
}

// byWave lists the cluster names of a phase's runs as {wave: N, jobs: [names]}
// in wave order.
func byWave(c *jobs.Jobs) pulumi.MapArray {
	out := pulumi.MapArray{}
	for _, w := range c.Waves {
		names := pulumi.StringArray{}
		for _, j := range w.Jobs {
			names = append(names, j.Metadata.Name().Elem())
		}
		out = append(out, pulumi.Map{"wave": pulumi.Int(w.Number), "jobs": names})
	}
	return out
}

// Mermaid renders the release's plan as a Mermaid flowchart: one box per wave
// of each phase, the app in between, arrows in the order the engine runs
// them. The same spec always renders the same text.
func Mermaid(plan release.Plan) string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	var previous string
	edge := func(node string) {
		if previous != "" {
			fmt.Fprintf(&b, "  %s --> %s\n", previous, node)
		}
		previous = node
	}
	writeWaves := func(waves []jobs.Wave, label, prefix string) {
		for _, w := range waves {
			id := fmt.Sprintf("%s%d", prefix, w.Number)
			fmt.Fprintf(&b, "  subgraph %s[\"%s · wave %d\"]\n", id, label, w.Number)
			for _, j := range w.Jobs {
				fmt.Fprintf(&b, "    %s_%s[\"%s<br/>%s\"]\n", id, mermaidID(j.Name), j.Name, j.Rerun)
			}
			b.WriteString("  end\n")
			edge(id)
		}
	}
	writeWaves(plan.PreDeploy, release.PreDeployPhase, "pre")
	fmt.Fprintf(&b, "  app[\"Deployment %s<br/>%d replica(s)\"]\n", plan.App.Name, plan.App.Replicas)
	edge("app")
	writeWaves(plan.PostDeploy, release.PostDeployPhase, "post")
	return b.String()
}

// mermaidID makes a DNS-1123 name usable as a Mermaid node id.
func mermaidID(name string) string { return strings.ReplaceAll(name, "-", "_") }
