// Package outputs turns a deployed release into stack outputs: the
// namespace, the app's Deployment and Service, the Jobs' cluster names by
// phase and wave, and the phase plan as a Mermaid flowchart.
package outputs

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
	"github.com/pulumi-jobs/pulumi-jobs/infra/spec"
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

// Export registers the stack outputs of a release.
func Export(ctx *pulumi.Context, s spec.Release, r *release.Release) {
	ctx.Export(Namespace, r.Namespace)
	ctx.Export(Deployment, r.Deploy.DeploymentName)
	ctx.Export(Service, r.Deploy.ServiceName)
	ctx.Export(PreDeployJobs, r.PreDeploy.JobNames)
	ctx.Export(PostDeployJobs, r.PostDeploy.JobNames)
	ctx.Export(Release, pulumi.String(s.ID))
	ctx.Export(Phases, pulumi.String(Mermaid(s)))
	if r.GitOps != nil {
		ctx.Export(GitOpsStack, r.GitOps.StackName)
	}
}

// Mermaid renders the release's plan as a Mermaid flowchart: one box per wave
// of each phase, the app in between, arrows in the order the engine runs
// them. The same spec always renders the same text.
func Mermaid(s spec.Release) string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	var previous string
	edge := func(node string) {
		if previous != "" {
			fmt.Fprintf(&b, "  %s --> %s\n", previous, node)
		}
		previous = node
	}
	writeWaves := func(p spec.Phase, prefix string) {
		for _, w := range s.Waves(p) {
			id := fmt.Sprintf("%s%d", prefix, w.Number)
			fmt.Fprintf(&b, "  subgraph %s[\"%s · wave %d\"]\n", id, p.Label(), w.Number)
			for _, j := range w.Jobs {
				fmt.Fprintf(&b, "    %s_%s[\"%s<br/>%s\"]\n", id, mermaidID(j.Name), j.Name, j.Rerun)
			}
			b.WriteString("  end\n")
			edge(id)
		}
	}
	writeWaves(spec.PreDeploy, "pre")
	fmt.Fprintf(&b, "  app[\"Deployment %s<br/>%d replica(s)\"]\n", s.App.Name, s.App.Replicas)
	edge("app")
	writeWaves(spec.PostDeploy, "post")
	return b.String()
}

// mermaidID makes a DNS-1123 name usable as a Mermaid node id.
func mermaidID(name string) string { return strings.ReplaceAll(name, "-", "_") }
