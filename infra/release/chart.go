package release

import (
	"cmp"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/chart"
	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/hook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// Chart is the app as a Helm chart: its objects are the app phase, and its
// install and upgrade hooks run as the release's pre- and post-deploy
// phases, as Helm runs them: the first release of the chart is an install,
// every later one an upgrade. The chart's release name is app.name.
type Chart struct {
	// Path is a local chart directory or .tgz, relative to the project directory.
	Path string `pulumi:"path,optional"`
	// Repo, Name (the chart's name) and Version pick a chart from a chart
	// repository instead; fetching it needs the network.
	Repo    string `pulumi:"repo,optional"`
	Name    string `pulumi:"chart,optional"`
	Version string `pulumi:"version,optional"`
	// Values are set on top of ValuesFiles, like helm's --set on top of -f.
	Values map[string]any `pulumi:"values,optional"`
	// ValuesFiles are YAML files merged in order, relative to the project directory.
	ValuesFiles []string `pulumi:"valuesFiles,optional"`
	// Tests runs the chart's test hooks as post-deploy smoke tests.
	Tests bool `pulumi:"tests,optional"`
	// Rerun is when the chart's hook Jobs run again: onUpgrade (default),
	// once per up that changes the chart's release (any rendered object,
	// hook, value, the image or the release id), as helm upgrade runs them,
	// never on an up that changes nothing; or onChange, only when a hook's
	// own spec changes (or the release id, when one is set).
	Rerun string `pulumi:"rerun,optional"`
}

// The chart's rerun policies (Chart.Rerun).
const (
	// ChartOnUpgrade runs every hook of an upgrade on each up that changes
	// the chart's release.
	ChartOnUpgrade = jobs.OnUpgrade
	// ChartOnChange runs a hook again only when its own spec changes.
	ChartOnChange = jobs.OnChange
)

// Hooks is what a chart's hooks add to one phase of a release.
type Hooks struct {
	// Objects are the phase's hooks that are not Jobs (ConfigMaps, Secrets,
	// service accounts a hook Job uses): created before the phase's Jobs.
	Objects []manifest.Object
	// Once marks the Objects that are never updated: hooks of install only
	// (a Secret with a generated password keeps its first value), and
	// hooks this release keeps as the last one applied them.
	Once []bool
}

// hookRun is a hook as one release registers it.
type hookRun struct {
	hook.Hook
	// Rerun is the rerun policy of a hook Job.
	Rerun string
	// Trigger runs a hook Job again when it changes: the chart's revision
	// it runs at. Empty for Argo CD's hooks and onChange.
	Trigger string
	// Keep registers the hook as it was last run or applied: this release
	// does not run it.
	Keep bool
	// Resource is the hook Job's resource name, the same in either phase.
	Resource string
}

// checkChart checks app.chart's own settings; planChart renders it.
func checkChart(p *check.Problems, c *Chart) {
	if c.Rerun != "" && c.Rerun != ChartOnUpgrade && c.Rerun != ChartOnChange {
		p.Add("app.chart.rerun", "%q is not a rerun policy of a chart's hooks; use onUpgrade (the default: every hook of an upgrade runs once per up that changes the release) or onChange (a hook runs again only when its own spec changes)", c.Rerun)
	}
}

// planChart renders app.chart into plan as this release of it, install
// or upgrade as rec says (nil: none completed yet, so an install), with
// lookup reading cluster (nil: lookup answers nothing). Its objects are the
// app's (see finishFiles), the hooks it runs join the phases' waves, its
// other hooks are created before the Jobs of their phase, and hooks it does
// not run at all are warnings. It records in plan.record what this release
// leaves for the next one.
//
// Hooks map to our phases as Helm runs them (hook.Place): on an install,
// pre-install before the app and post-install after it; on an upgrade,
// pre-upgrade and post-upgrade; test hooks after the others, when asked.
// helm.sh/hook-weight orders them: the distinct weights of a phase,
// ascending, are its waves 0, 1, 2, … (equal weights in parallel); jobs of
// the args join the wave of their number.
//
// A hook Job is one resource in whichever phase it runs (a post-install,
// pre-upgrade migration moves from after the app to before it without a
// run). It runs on an install, and on an upgrade that changes the release
// (the digest of the rendered chart, the image and the release id differs
// from the record's): its trigger is the release's revision. On an up that
// changes nothing no hook runs, and a hook this release does not run is
// kept as it last ran, if it ever did. hook-delete-policy needs nothing of
// ours: every run replaces the previous one create-before-delete
// (before-hook-creation), and the last run is kept, not deleted when it
// succeeds, so its logs stay readable and no refresh can forget it.
//
// lookup says whether the chart calls lookup.
func planChart(p *check.Problems, plan *Plan, rec *Record, cluster *rest.Config) (objs []manifest.Object, lookup bool) {
	args := plan.Args
	c := args.App.Chart
	ns, _ := vocab.Literal(args.Namespace)
	r, err := chart.Render(chart.Args{
		Root: plan.stack.Dir, Path: c.Path, Repo: c.Repo, Chart: c.Name, Version: c.Version,
		Values: c.Values, ValuesFiles: c.ValuesFiles, ReleaseName: args.App.Name, Namespace: ns, Tests: c.Tests,
		IsUpgrade: rec != nil, Cluster: cluster,
	})
	if err != nil {
		p.Add("app.chart", "%v", err)
		return nil, false
	}
	plan.Warnings = append(plan.Warnings, r.Skipped...)

	next := Record{Revision: 1, Digest: digest(r, args), Hooks: map[string]int{}}
	changed := true
	if rec != nil {
		changed = next.Digest == "" || next.Digest != rec.Digest
		next.Revision = rec.Revision
		if changed {
			next.Revision++
		}
	}
	rerun := cmp.Or(c.Rerun, ChartOnUpgrade)
	var pre, post []hookRun
	// unrun are the hook Jobs this release neither runs nor keeps: their
	// names must be unique too, or the release that runs them fails.
	var unrun jobs.Wave
	for _, h := range slices.Concat(r.PreDeploy, r.PostDeploy, r.Idle) {
		run := hookRun{Hook: h, Rerun: rerun}
		key := h.Key()
		last, ran := 0, false
		if rec != nil {
			last, ran = rec.Hooks[key]
		}
		switch {
		case h.Runs != hook.None && changed:
			next.Hooks[key] = next.Revision
			run.Trigger = strconv.Itoa(next.Revision)
		case ran:
			next.Hooks[key] = last
			run.Trigger, run.Keep = strconv.Itoa(last), true
		default:
			// Never run, and not run now: an upgrade-only hook on an install.
			if h.RunsAsJob() {
				unrun.Jobs = append(unrun.Jobs, jobs.Planned{Name: h.JobName(), Key: "app.chart", Source: h.Source})
			}
			continue
		}
		if rerun == ChartOnChange {
			run.Trigger, run.Rerun = "", ownRerun(h, args)
		}
		run.Resource = jobs.ResourceName(plan.name+"-hook", h.JobName())
		if h.Home == hook.Pre {
			pre = append(pre, run)
		} else {
			post = append(post, run)
		}
	}
	plan.record = &next
	objs = make([]manifest.Object, len(r.App))
	for i, o := range r.App {
		objs[i] = manifest.Object{Source: o.Source, Obj: o.Obj}
	}
	plan.PreDeploy, plan.PreHooks = planHooks(p, "app.chart", args, plan, pre, plan.PreDeploy)
	plan.PostDeploy, plan.PostHooks = planHooks(p, "app.chart", args, plan, post, plan.PostDeploy)
	jobs.Unique(p, plan.PreDeploy, plan.PostDeploy, []jobs.Wave{unrun})
	return objs, r.Lookup
}

// RenderChart renders the plan's chart as the release that follows rec
// (nil: an install), with lookup reading cluster, into the plan; NewFromPlan
// calls it once it has read rec from the release's cluster. noCluster, when
// not empty, says why there is no cluster to read: a chart that calls
// lookup is then refused. It returns a *check.ArgsError listing what is
// wrong with the chart.
func (plan *Plan) RenderChart(rec *Record, cluster *rest.Config, noCluster string) error {
	p := &check.Problems{}
	objs, lookup := planChart(p, plan, rec, cluster)
	if lookup && noCluster != "" {
		p.Add("app.chart", "the chart calls lookup, which reads the release's cluster, and %s: nothing is rendered without it "+
			"(its objects would differ from the ones up renders); give the release its cluster (kubeconfig, context, or the stack's kubernetes:kubeconfig)", noCluster)
	}
	if len(p.List) == 0 {
		finishFiles(p, plan.Args, plan, objs, "app.chart")
	}
	if len(p.List) > 0 {
		return &check.ArgsError{Resource: Type + " " + plan.name, Problems: p.List}
	}
	return nil
}

// Record is what this release of a chart leaves in the cluster once it has
// succeeded; nil for an app that is not a chart, or one not rendered yet.
func (plan Plan) Record() *Record { return plan.record }

// ownRerun is the rerun policy of a hook that runs again when its own spec
// changes (Argo CD's hooks, a chart's with rerun onChange): once for a hook
// of install only, onRelease when the release has an id, else onChange.
func ownRerun(h hook.Hook, args *Args) string {
	switch {
	case hook.OnceOnly(h):
		return jobs.Once
	case hasReleaseID(args):
		return jobs.OnRelease
	}
	return jobs.OnChange
}

// hasReleaseID reports whether the release has an id, so that hooks run
// again for each new one (onRelease).
func hasReleaseID(args *Args) bool {
	_, literal := vocab.Literal(args.ReleaseID)
	return literal || args.ReleaseID != nil
}

// planHooks turns the hooks of one phase into planned Jobs merged into
// waves, and the phase's other hook objects.
func planHooks(p *check.Problems, key string, args *Args, plan *Plan, hooks []hookRun, waves []jobs.Wave) ([]jobs.Wave, Hooks) {
	// The distinct weights of the phase's Jobs, ascending, are its waves;
	// test hooks come after the others, as `helm test` runs after the
	// release (their own weights order them among themselves).
	var weights, testWeights []int
	for _, h := range hooks {
		w := &weights
		if hook.TestOnly(h.Hook) {
			w = &testWeights
		}
		if h.RunsAsJob() && !slices.Contains(*w, h.Weight) {
			*w = append(*w, h.Weight)
		}
	}
	slices.Sort(weights)
	slices.Sort(testWeights)
	wave := func(h hook.Hook) int {
		if hook.TestOnly(h) {
			return len(weights) + slices.Index(testWeights, h.Weight)
		}
		return slices.Index(weights, h.Weight)
	}
	image, _ := vocab.Literal(args.Image)
	var extra Hooks
	var planned []jobs.Planned
	for _, h := range hooks {
		o := manifest.Object{Source: h.Source, Obj: h.Object}
		hook.Mark(o.Obj)
		switch {
		case h.RunsAsJob():
			job := o
			name := h.JobName()
			if h.Kind == "Pod" {
				job = manifest.Object{Source: h.Source, Obj: podAsJob(h.Object)}
			}
			plan.hookImages += jobs.AsRun(p, key, job, image, plan.CreateNamespace)
			for _, msg := range validation.IsDNS1123Label(name) {
				p.Add(key, "hook %s/%s (%s): %q cannot name a Job: %s", h.Kind, h.Name, h.Source, name, msg)
			}
			planned = append(planned, jobs.Planned{
				Name: name, Key: key, Wave: wave(h.Hook), Rerun: h.Rerun, Trigger: h.Trigger, Keep: h.Keep, Resource: h.Resource,
				Timeout: jobs.DefaultTimeout, BackoffLimit: jobs.DefaultBackoffLimit,
				Resources: plan.App.Resources, Object: job.Obj, Source: h.Source,
			})
		default:
			if image != "" {
				plan.hookImages += manifest.SetImage([]manifest.Object{o}, image)
			}
			manifest.SetNamespace([]manifest.Object{o}, nsOf(args))
			for k, v := range plan.Marks() {
				manifest.Annotate([]manifest.Object{o}, k, v)
			}
			extra.Objects = append(extra.Objects, o)
			extra.Once = append(extra.Once, hook.OnceOnly(h.Hook) || h.Keep)
		}
	}
	// Merge by wave number with the jobs of the args (jobs.Unique checks
	// the names of all of them).
	byWave := map[int][]jobs.Planned{}
	for _, w := range waves {
		byWave[w.Number] = append(byWave[w.Number], w.Jobs...)
	}
	for _, j := range planned {
		byWave[j.Wave] = append(byWave[j.Wave], j)
	}
	var out []jobs.Wave
	for _, n := range check.SortedKeys(byWave) {
		out = append(out, jobs.Wave{Number: n, Jobs: byWave[n]})
	}
	return out, extra
}

// podAsJob wraps a test hook Pod into a Job that runs it once.
func podAsJob(pod map[string]any) map[string]any {
	meta, _ := pod["metadata"].(map[string]any)
	tmeta := map[string]any{}
	for _, k := range []string{"labels", "annotations"} {
		if v, ok := meta[k]; ok {
			tmeta[k] = v
		}
	}
	spec, _ := pod["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
	}
	if spec["restartPolicy"] != "OnFailure" {
		// A Job's pods may not restart Always; a test Pod's default is Always.
		spec["restartPolicy"] = "Never"
	}
	return map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"annotations": meta["annotations"]},
		"spec":       map[string]any{"template": map[string]any{"metadata": tmeta, "spec": spec}},
	}
}

// nsOf is the release's namespace when it is a plain string.
func nsOf(args *Args) string {
	ns, _ := vocab.Literal(args.Namespace)
	return ns
}
