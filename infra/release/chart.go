package release

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/chart"
	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/deletehook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/hook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
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
	// Triggers are, per object, the revision it is created for when its
	// delete policy deletes it once its phase succeeded (hook-succeeded):
	// the next revision that runs it creates it again (its resource is
	// replaced), though its content is the same. Empty for the others.
	Triggers []string
}

// hookRun is a hook as one release registers it.
type hookRun struct {
	hook.Hook
	// Rerun is the rerun policy of a hook Job.
	Rerun string
	// Trigger runs a hook Job again when it changes: the chart's revision
	// it runs at. Empty for Argo CD's hooks and onChange.
	Trigger string
	// Keep registers a hook object that is not a Job as it was last
	// applied: this release does not apply it again.
	Keep bool
	// Import is the live "namespace/name" of a kept hook Job (jobs.Planned.Import).
	Import string
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
// A hook's run is a fact of the release, kept in its record (rec), never
// inferred from a resource. A hook Job runs, with its revision as its
// trigger, on an install and on an upgrade that changes the release (the
// digest of its inputs differs from the record's) — with rerun onChange
// only when its own spec (or the release id) differs from the one recorded
// at its last run. A hook that ran and does not run now (plan.Ran) is kept
// as its last run while its Job is in the cluster (jobs.Planned.Keep, and
// Import, so that a state that lost it imports it instead of running it),
// and not registered at all once the Job is gone (its TTL, a person, a
// refresh): nothing can run it twice for one revision. A hook object that
// is not a Job stays registered as it was last applied (Once).
//
// lookup says whether the chart calls lookup.
func planChart(p *check.Problems, plan *Plan, rec *Record, cluster *rest.Config) (objs []manifest.Object, lookup bool) {
	args := plan.Args
	c := args.App.Chart
	ns, _ := vocab.Literal(args.Namespace)
	renderArgs := chart.Args{
		Root: plan.stack.Dir, Path: c.Path, Repo: c.Repo, Chart: c.Name, Version: c.Version,
		Values: c.Values, ValuesFiles: c.ValuesFiles, ReleaseName: args.App.Name, Namespace: ns, Tests: c.Tests,
		IsUpgrade: rec != nil, Cluster: cluster,
	}
	r, err := chart.Render(renderArgs)
	if err != nil {
		p.Add("app.chart", "%v", err)
		return nil, false
	}
	plan.Warnings = append(plan.Warnings, r.Skipped...)

	next := Record{Revision: 1, Digest: digest(r, args), Hooks: map[string]int{}, Specs: map[string]string{}}
	changed := true
	if rec != nil {
		// A record written before 0.4 holds the digest of the render.
		changed = next.Digest == "" || (next.Digest != rec.Digest && renderDigest(r, args) != rec.Digest)
		next.Revision = rec.Revision
		if changed {
			next.Revision++
		}
	}
	if plan.preview && changed {
		// The up renders again: what differs from one render to the next
		// is shown unknown (varying.go).
		if again, err := chart.Render(renderArgs); err == nil {
			var warnings []string
			plan.App.Varying, warnings = varyingFields(r, again)
			plan.Warnings = append(plan.Warnings, warnings...)
		}
	}
	rerun := cmp.Or(c.Rerun, ChartOnUpgrade)
	var pre, post []hookRun
	// unrun are the hook Jobs this release does not run: their names must
	// be unique too, or the release that runs them fails.
	var unrun jobs.Wave
	// live are the hook Jobs of the release in the cluster, read once a
	// kept one needs them.
	var live map[string]string
	for _, h := range slices.Concat(r.PreDeploy, r.PostDeploy, r.Idle) {
		run := hookRun{Hook: h, Rerun: rerun}
		key := h.Key()
		spec := hookSpec(h, args)
		last, ran, lastSpec := 0, false, ""
		if rec != nil {
			last, ran = rec.Hooks[key]
			lastSpec = rec.Specs[key]
		}
		if lastSpec == "" {
			// A record written before specs were recorded: the hook's spec
			// then is taken to be today's, so that onChange does not run
			// it again for nothing.
			lastSpec = spec
		}
		runs := h.Runs != hook.None && changed
		if runs && ran && rerun == ChartOnChange {
			runs = spec != lastSpec
		}
		switch {
		case runs:
			next.Hooks[key], next.Specs[key] = next.Revision, spec
			run.Trigger = strconv.Itoa(next.Revision)
		case ran:
			next.Hooks[key], next.Specs[key] = last, lastSpec
			run.Trigger, run.Keep = strconv.Itoa(last), true
			if !h.RunsAsJob() {
				if hasPolicy(h.DeletePolicies, PolicySucceeded) {
					continue // deleted once its hooks succeeded: not created again
				}
				break
			}
			// It ran for revision last: the record says so. Its Job is kept
			// as long as it is in the cluster (imported, should the state
			// lack it); once its TTL, a person or a delete policy has
			// removed it, it is not registered at all, so nothing creates,
			// and so runs, it again.
			plan.Ran = append(plan.Ran, RanHook{Key: key, Job: h.JobName(), Revision: last})
			if cluster == nil {
				break // no cluster to ask (a preview): kept as the state has it
			}
			if live == nil {
				if live, err = liveRuns(context.Background(), cluster, ns, plan.Owner, args.App.Name); err != nil {
					p.Add("app.chart", "%v", err)
					return nil, false
				}
			}
			if job, ok := live[h.JobName()]; ok {
				run.Import = ns + "/" + job
				break
			}
			plan.Ran[len(plan.Ran)-1].Gone = true
			unrun.Jobs = append(unrun.Jobs, jobs.Planned{Name: h.JobName(), Key: "app.chart", Source: h.Source})
			continue
		default:
			// Never run, and not run now: an upgrade-only hook on an
			// install, or an onChange hook whose spec is as it ran.
			if h.RunsAsJob() {
				unrun.Jobs = append(unrun.Jobs, jobs.Planned{Name: h.JobName(), Key: "app.chart", Source: h.Source})
			}
			continue
		}
		run.Resource = jobs.ResourceName(plan.name+"-hook", h.JobName())
		var deletion []Deletion
		if runs && hasPolicy(h.DeletePolicies, PolicySucceeded) {
			deletion = []Deletion{{Ref: refOf(manifest.Object{Obj: h.Object})}}
			if h.RunsAsJob() {
				deletion = []Deletion{{Job: h.JobName()}}
			} else if deletion[0].Ref.Namespace == "" {
				deletion[0].Ref.Namespace = ns
			}
		}
		if runs && h.RunsAsJob() && hasPolicy(h.DeletePolicies, PolicyFailed) {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("hook %s/%s (%s) asks to be deleted when it fails (hook-delete-policy: hook-failed): "+
				"a failed run is kept instead, for its logs, and replaced by the next up's run", h.Kind, h.Name, h.Source))
		}
		if h.Home == hook.Pre {
			pre = append(pre, run)
			plan.PreDeletions = append(plan.PreDeletions, deletion...)
		} else {
			post = append(post, run)
			plan.PostDeletions = append(plan.PostDeletions, deletion...)
		}
	}
	plan.PreDelete = planDeleteHooks(p, plan, deletehook.PreDelete, r.PreDelete)
	plan.PostDelete = planDeleteHooks(p, plan, deletehook.PostDelete, r.PostDelete)
	for _, e := range []DeleteEvent{plan.PreDelete, plan.PostDelete} {
		if len(e.Hooks) > 0 {
			next.DeleteEvents = append(next.DeleteEvents, e.Event)
		}
	}
	if rec != nil {
		plan.hadDeleteHooks = rec.DeleteEvents
	}
	plan.record = &next
	plan.App.Unchanged = !changed
	plan.CRDs = nil
	for _, o := range r.CRDs {
		crd := manifest.Object{Source: o.Source, Obj: o.Obj}
		// Says who installed it; no patchForce: it is never updated.
		manifest.Annotate([]manifest.Object{crd}, ownership.Annotation, plan.Owner)
		plan.CRDs = append(plan.CRDs, crd)
	}
	if r.Capabilities != chart.CapabilitiesCluster {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("chart %s is rendered with Helm's client-side capabilities (Kubernetes %s and the API versions Helm knows), not the cluster's: "+
			"objects it gates on an API the cluster serves (a CRD's) are left out here; up reads the cluster's", args.App.Name, chart.DefaultKubeVersion))
	}
	objs = make([]manifest.Object, len(r.App))
	for i, o := range r.App {
		objs[i] = manifest.Object{Source: o.Source, Obj: o.Obj}
	}
	plan.PreDeploy, plan.PreHooks = planHooks(p, "app.chart", args, plan, pre, plan.PreDeploy)
	plan.PostDeploy, plan.PostHooks = planHooks(p, "app.chart", args, plan, post, plan.PostDeploy)
	jobs.Unique(p, plan.PreDeploy, plan.PostDeploy, []jobs.Wave{unrun})
	return objs, r.Lookup
}

// RanHook is a chart's hook Job that ran for an earlier revision of the
// release and does not run in this one: the release's record says so, and
// no resource of the release stands for it.
type RanHook struct {
	// Key is the hook's "Kind/name" in the record.
	Key string
	// Job is the hook's job name.
	Job string
	// Revision is the revision it last ran for.
	Revision int
	// Gone says that its Job is no longer in the cluster: the release does
	// not register it (it is not created, and so not run, again).
	Gone bool
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
// changes (Argo CD's hooks; a chart's with rerun onChange decide from its
// record instead, planChart): once for a hook
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
				Name: name, Key: key, Wave: wave(h.Hook), Rerun: h.Rerun, Trigger: h.Trigger, Keep: h.Keep, Import: h.Import, Resource: h.Resource,
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
			trigger := ""
			if !h.Keep && hasPolicy(h.DeletePolicies, PolicySucceeded) {
				trigger = h.Trigger
			}
			extra.Triggers = append(extra.Triggers, trigger)
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
