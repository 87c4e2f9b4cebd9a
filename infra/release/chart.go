package release

import (
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pulumi-jobs/pulumi-jobs/infra/chart"
	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
)

// Chart is the app as a Helm chart: its objects are the app phase, and its
// install and upgrade hooks run as the release's pre- and post-deploy
// phases. The chart's release name is app.name.
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
}

// Hooks is what a chart's hooks add to one phase of a release.
type Hooks struct {
	// Objects are the phase's hooks that are not Jobs (ConfigMaps, Secrets,
	// service accounts a hook Job uses): created before the phase's Jobs.
	Objects []manifest.Object
	// Once marks the Objects created once and never updated (hooks of
	// install only, such as a Secret with a generated password).
	Once []bool
}

// planChart renders app.chart into plan: its objects are the app's (see
// planFiles), its hook Jobs join the phases' waves, its other hooks are
// created before the Jobs of their phase, and hooks we do not run are
// warnings.
//
// Hooks map to our phases like this: pre-install and pre-upgrade →
// pre-deploy, post-install and post-upgrade (and test, when asked) →
// post-deploy. helm.sh/hook-weight orders them: the distinct weights of a
// phase, ascending, are its waves 0, 1, 2, … (equal weights in parallel),
// test hooks in waves after the others; jobs of the args join the wave of
// their number. A hook of install only
// runs once (rerun: once); one that Helm runs on every upgrade runs again
// when its own spec changes, and when the release id changes if one is set
// (onRelease). hook-delete-policy needs nothing of ours: every run replaces
// the previous one create-before-delete (before-hook-creation), and the
// last run is kept, not deleted when it succeeds, so its logs stay readable
// and no refresh can forget it and run it again.
func planChart(p *check.Problems, env jobs.Env, args *Args, plan *Plan) []manifest.Object {
	c := args.App.Chart
	ns, _ := jobs.Literal(args.Namespace)
	r, err := chart.Render(chart.Args{
		Root: env.Root, Path: c.Path, Repo: c.Repo, Chart: c.Name, Version: c.Version,
		Values: c.Values, ValuesFiles: c.ValuesFiles, ReleaseName: args.App.Name, Namespace: ns, Tests: c.Tests,
	})
	if err != nil {
		p.Add("app.chart", "%v", err)
		return nil
	}
	plan.Warnings = append(plan.Warnings, r.Skipped...)
	objs := make([]manifest.Object, len(r.App))
	for i, o := range r.App {
		objs[i] = manifest.Object{Source: o.Source, Obj: o.Obj}
	}
	plan.PreDeploy, plan.PreHooks = planHooks(p, "app.chart", env, args, plan, r.PreDeploy, plan.PreDeploy)
	plan.PostDeploy, plan.PostHooks = planHooks(p, "app.chart", env, args, plan, r.PostDeploy, plan.PostDeploy)
	return objs
}

// planHooks turns the hooks of one phase into planned Jobs merged into
// waves, and the phase's other hook objects.
func planHooks(p *check.Problems, key string, env jobs.Env, args *Args, plan *Plan, hooks []chart.Hook, waves []jobs.Wave) ([]jobs.Wave, Hooks) {
	// The distinct weights of the phase's Jobs, ascending, are its waves;
	// test hooks come after the others, as `helm test` runs after the
	// release (their own weights order them among themselves).
	var weights, testWeights []int
	for _, h := range hooks {
		w := &weights
		if chart.TestOnly(h) {
			w = &testWeights
		}
		if (h.Kind == "Job" || h.Kind == "Pod") && !slices.Contains(*w, h.Weight) {
			*w = append(*w, h.Weight)
		}
	}
	slices.Sort(weights)
	slices.Sort(testWeights)
	wave := func(h chart.Hook) int {
		if chart.TestOnly(h) {
			return len(weights) + slices.Index(testWeights, h.Weight)
		}
		return slices.Index(weights, h.Weight)
	}
	image, imageKnown := jobs.Literal(args.Image)
	var extra Hooks
	var planned []jobs.Planned
	for _, h := range hooks {
		o := manifest.Object{Source: h.Source, Obj: h.Object}
		markHook(o.Obj)
		if imageKnown {
			plan.hookImages += manifest.SetImage([]manifest.Object{o}, image)
		}
		switch h.Kind {
		case "Job", "Pod":
			job := o
			name := h.Name
			if h.Kind == "Pod" {
				// A test Pod's name is often random on every render; the
				// template's name is stable.
				name = strings.TrimSuffix(path.Base(h.Source), path.Ext(h.Source))
				job = manifest.Object{Source: h.Source, Obj: podAsJob(h.Object)}
			}
			if plan.CreateNamespace {
				for _, q := range manifest.FillPodSecurity([]manifest.Object{job}) {
					p.Add(key, "%s: %s", q.Key, q.Message)
				}
			}
			for _, msg := range validation.IsDNS1123Label(name) {
				p.Add(key, "hook %s/%s (%s): %q cannot name a Job: %s", h.Kind, h.Name, h.Source, name, msg)
			}
			rerun := jobs.OnChange
			switch {
			case chart.OnceOnly(h):
				rerun = jobs.Once
			case hasReleaseID(args):
				rerun = jobs.OnRelease
			}
			if meta, ok := job.Obj["metadata"].(map[string]any); ok {
				delete(meta, "name")
				delete(meta, "generateName")
			}
			planned = append(planned, jobs.Planned{
				Name: name, Wave: wave(h), Rerun: rerun,
				Timeout: jobs.DefaultTimeout, BackoffLimit: jobs.DefaultBackoffLimit,
				Resources: plan.App.Resources, Object: job.Obj, Source: h.Source,
			})
		default:
			manifest.SetNamespace([]manifest.Object{o}, nsOf(args))
			for k, v := range plan.Marks() {
				manifest.Annotate([]manifest.Object{o}, k, v)
			}
			extra.Objects = append(extra.Objects, o)
			extra.Once = append(extra.Once, chart.OnceOnly(h))
		}
	}
	// Merge by wave number with the jobs of the args.
	byWave := map[int][]jobs.Planned{}
	names := map[string]bool{}
	for _, w := range waves {
		for _, j := range w.Jobs {
			byWave[w.Number] = append(byWave[w.Number], j)
			names[j.Name] = true
		}
	}
	for _, j := range planned {
		if names[j.Name] {
			p.Add(key, "hook Job %q (%s) has the name of another job of its phase; rename one", j.Name, j.Source)
		}
		names[j.Name] = true
		byWave[j.Wave] = append(byWave[j.Wave], j)
	}
	var out []jobs.Wave
	for _, n := range check.SortedKeys(byWave) {
		out = append(out, jobs.Wave{Number: n, Jobs: byWave[n]})
	}
	return out, extra
}

// HookAnnotation records, on a hook object we run, the hook it was: the
// helm.sh/hook value of a chart's hook ("pre-install,pre-upgrade"), or
// "argocd: " and the argocd.argoproj.io/hook value of an Argo CD hook.
const HookAnnotation = "pulumi-jobs/hook"

// markHook replaces the hook annotations of a hook object, which we run
// ourselves, with HookAnnotation: left on the object they would tell
// readers (and the Kubernetes provider, which warns that it does not run
// Helm hooks) that another tool runs it.
func markHook(obj map[string]any) {
	meta, _ := obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	var was string
	if v, ok := ann["helm.sh/hook"].(string); ok {
		was = v
	} else if v, ok := ann[argoHook].(string); ok {
		was = "argocd: " + v
	} else {
		return
	}
	for k := range ann {
		if strings.HasPrefix(k, "helm.sh/hook") || strings.HasPrefix(k, argoHook) || k == argoSyncWave {
			delete(ann, k)
		}
	}
	ann[HookAnnotation] = was
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
	ns, _ := jobs.Literal(args.Namespace)
	return ns
}
