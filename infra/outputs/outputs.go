// Package outputs turns a deployed release into stack outputs: the
// namespace, the app's Deployment and Service, the Jobs' cluster names by
// phase and wave, and the phase plan as a Mermaid flowchart.
package outputs

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
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
	id, _ := vocab.Literal(plan.Args.ReleaseID)
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
// of each phase, the app in between (its objects by kind when it comes
// from files), a chart's hook objects before their phase's Jobs, arrows in
// the order the engine runs them. The same spec always renders the same text.
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
				fmt.Fprintf(&b, "    %s_%s[\"%s<br/>%s\"]\n", id, mermaidID(j.Name), j.Name, runLabel(j))
			}
			b.WriteString("  end\n")
			edge(id)
		}
	}
	writeHooks := func(h release.Hooks, label, id string) {
		if len(h.Objects) == 0 {
			return
		}
		fmt.Fprintf(&b, "  %s[\"%s hooks<br/>%s\"]\n", id, label, byKind(h.Objects, h.Once))
		edge(id)
	}
	writeHooks(plan.PreHooks, release.PreDeployPhase, "prehooks")
	writeWaves(plan.PreDeploy, release.PreDeployPhase, "pre")
	if plan.App.Objects != nil {
		fmt.Fprintf(&b, "  app[\"app %s<br/>%s\"]\n", plan.App.Name, byKind(plan.App.Objects, nil))
	} else {
		fmt.Fprintf(&b, "  app[\"Deployment %s<br/>%d replica(s)\"]\n", plan.App.Name, plan.App.Replicas)
	}
	edge("app")
	writeHooks(plan.PostHooks, release.PostDeployPhase, "posthooks")
	writeWaves(plan.PostDeploy, release.PostDeployPhase, "post")
	return b.String()
}

// runLabel says when a Job runs: its rerun policy, and for a chart's hook
// whether this release runs it (at its revision) or keeps its last run.
func runLabel(j jobs.Planned) string {
	switch {
	case j.Keep && j.Trigger != "":
		return "kept: ran at revision " + j.Trigger
	case j.Keep:
		return "kept: not run"
	case j.Trigger != "":
		return j.Rerun + ": runs, revision " + j.Trigger
	}
	return j.Rerun
}

// byKind lists objects as one line per kind, kinds in alphabetical order and
// names in the objects' order: "ConfigMap shop-config<br/>Deployment shop".
// An object whose once is true is marked "(once)".
func byKind(objs []manifest.Object, once []bool) string {
	names := map[string][]string{}
	for i, o := range objs {
		n := manifest.Name(o)
		if i < len(once) && once[i] {
			n += " (once)"
		}
		names[manifest.Kind(o)] = append(names[manifest.Kind(o)], n)
	}
	lines := make([]string, 0, len(names))
	for _, k := range check.SortedKeys(names) {
		lines = append(lines, k+" "+strings.Join(names[k], " · "))
	}
	return strings.Join(lines, "<br/>")
}

// mermaidID makes a DNS-1123 name usable as a Mermaid node id.
func mermaidID(name string) string { return strings.ReplaceAll(name, "-", "_") }
