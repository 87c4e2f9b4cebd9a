package release

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/yaml"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/hook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// fromFiles reports whether the app comes from the team's own files (or a
// chart) instead of the built-in Deployment and Service.
func (a App) fromFiles() bool { return a.Manifests != "" || a.Chart != nil }

// planFiles reads the app's objects from app.manifests into plan (see
// finishFiles), Argo CD's hooks among them as phases; a chart is only
// checked here, and rendered by planChart.
func planFiles(p *check.Problems, stack vocab.Stack, args *Args, plan *Plan) {
	a := args.App
	for _, f := range []struct {
		key string
		set bool
	}{{"app.replicas", a.Replicas != nil}, {"app.port", a.Port != nil}, {"app.env", len(a.Env) > 0}, {"app.readinessPath", a.ReadinessPath != ""}} {
		if f.set {
			p.Add(f.key, "has no effect with the app from files (app.manifests or app.chart); set it in the files, or remove it")
		}
	}
	if a.Manifests != "" && a.Chart != nil {
		p.Add("app.manifests", "set either app.manifests or app.chart, not both")
		return
	}
	if _, nsKnown := vocab.Literal(args.Namespace); !nsKnown {
		p.Add("namespace", "must be a plain string when the app comes from files: it is written into every object before the engine runs")
	}
	if _, imageKnown := vocab.Literal(args.Image); !imageKnown {
		p.Add("image", "must be a plain string when the app comes from files: it is written into the files' containers before the engine runs")
	}
	var objs []manifest.Object
	source := "app.manifests"
	if a.Manifests != "" {
		var err error
		if objs, err = manifest.Load(stack.Dir, a.Manifests); err != nil {
			p.Add("app.manifests", "%v", err)
			return
		}
		// Argo CD's resource hooks among them run as phases.
		var pre, post []hook.Hook
		var warnings []string
		objs, pre, post, warnings = hook.ArgoCD(p, "app.manifests", objs)
		plan.Warnings = append(plan.Warnings, warnings...)
		plan.PreDeploy, plan.PreHooks = planHooks(p, "app.manifests", args, plan, asRuns(pre, args), plan.PreDeploy)
		plan.PostDeploy, plan.PostHooks = planHooks(p, "app.manifests", args, plan, asRuns(post, args), plan.PostDeploy)
	} else {
		// A chart is rendered once its release knows its cluster
		// (planChart, from resolve): install or upgrade, and lookup.
		checkChart(p, a.Chart)
		return
	}
	finishFiles(p, args, plan, objs, source)
}

// asRuns are Argo CD's hooks, each run as its rerun rules say.
func asRuns(hooks []hook.Hook, args *Args) []hookRun {
	out := make([]hookRun, len(hooks))
	for i, h := range hooks {
		out[i] = hookRun{Hook: h, Rerun: ownRerun(h, args)}
	}
	return out
}

// finishFiles makes the app's objects read from source (app.manifests or
// app.chart) ready to register in plan: the release's namespace on every
// namespaced object, its marks, the release's image on every container of
// the same repository, and — when the release owns its namespace, which
// enforces Pod Security "restricted" — the fields restricted needs that the
// files leave unset.
func finishFiles(p *check.Problems, args *Args, plan *Plan, objs []manifest.Object, source string) {
	a := args.App
	ns, nsKnown := vocab.Literal(args.Namespace)
	image, imageKnown := vocab.Literal(args.Image)
	for _, o := range objs {
		if manifest.Kind(o) == "Namespace" {
			p.Add(source, "%s: the release's namespace is %q (namespace, createNamespace); remove the Namespace from the files", o, ns)
		}
		if a.Manifests != "" {
			refuseHook(p, o)
		}
	}
	if nsKnown {
		manifest.SetNamespace(objs, ns)
	}
	for k, v := range plan.Marks() {
		manifest.Annotate(objs, k, v)
	}
	awaitWithoutSettling(objs)
	if imageKnown && image != "" && manifest.SetImage(objs, image)+plan.hookImages == 0 {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("image %s matches no container of %s by repository, so the files' own images stand", image, source))
	}
	if plan.CreateNamespace {
		for _, q := range manifest.FillPodSecurity(objs) {
			p.Add(source, "%s: %s", q.Key, q.Message)
		}
	}
	var kept []string
	for _, o := range objs {
		if ann, ok := manifest.Kept(o); ok {
			kept = append(kept, fmt.Sprintf("%s (%s)", o, ann))
		}
	}
	if len(kept) > 0 && plan.CreateNamespace {
		plan.KeepNamespace = true
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s ask to be kept, so the namespace %q that this release creates is kept on destroy too "+
			"(deleting it would delete them); delete it yourself once they are no longer needed", strings.Join(kept, ", "), ns))
	}
	plan.App.Objects = objs
}

// awaitWithoutSettling replaces the provider's await of the files'
// Services and Ingresses, which sleeps 10 s after each Endpoints event for
// them to settle (v4.25.0, pkg/await/service.go and ingress.go), unless the
// files choose their own (pulumi.com/skipAwait or pulumi.com/waitFor):
//   - a Service that nothing outside the cluster provisions (ClusterIP,
//     headless, NodePort) is not awaited (skipAwait): what a post-deploy Job
//     needs is ready pods behind it, and the rollout of the files'
//     Deployments and StatefulSets, awaited before any post-deploy Job, is
//     that. Helm's --wait does not wait for its endpoints either;
//   - an Ingress is not awaited either (skipAwait), as Helm's --wait never
//     waits for one: its address comes from an ingress controller that many
//     clusters (and every local one) do not run, and the release would sit
//     until its timeout for an address nothing publishes;
//   - a LoadBalancer Service is awaited until it has an address (waitFor
//     .status.loadBalancer.ingress[0]), which comes from outside the
//     cluster, without the settle sleep: Helm's legacy --wait waits for it
//     too. A user who wants an Ingress awaited says pulumi.com/waitFor on it.
func awaitWithoutSettling(objs []manifest.Object) {
	for _, o := range objs {
		kind := manifest.Kind(o)
		if kind != "Service" && kind != "Ingress" {
			continue
		}
		meta, _ := o.Obj["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		_, skip := ann[AnnotationSkipAwait]
		_, waitFor := ann[AnnotationWaitFor]
		if skip || waitFor {
			continue
		}
		spec, _ := o.Obj["spec"].(map[string]any)
		if typ, _ := spec["type"].(string); kind == "Service" && typ == "LoadBalancer" {
			manifest.Annotate([]manifest.Object{o}, AnnotationWaitFor, AddressAssigned)
			continue
		}
		manifest.Annotate([]manifest.Object{o}, AnnotationSkipAwait, "true")
	}
}

// AnnotationWaitFor replaces the provider's await of an object with a
// condition of its own.
const AnnotationWaitFor = "pulumi.com/waitFor"

// AddressAssigned is the condition that a LoadBalancer Service has an
// address.
const AddressAssigned = "jsonpath={.status.loadBalancer.ingress[0]}"

// newFilesApp registers the app phase of the release name from its files:
// every object a resource of its own, typed by the Kubernetes SDK's own YAML
// parser (so the provider awaits each as its kind requires: Deployments
// Available, StatefulSets rolled out, Services with endpoints, …), each with
// opts' DependsOn (every pre-deploy Job) on itself, and on the files'
// CustomResourceDefinitions when it is not one. The provider's own
// ConfigGroup is not used: its children record no dependency in state.
//
// With rollouts (Plan.rollouts), the release awaits the rollouts of the
// files' apps/v1 Deployments and StatefulSets itself (rollout.go), unless
// one chooses its own await (pulumi.com/skipAwait or pulumi.com/waitFor).
func newFilesApp(ctx *pulumi.Context, name string, app AppPlan, rollouts *rest.Config, namespace pulumi.StringInput, opts ...pulumi.ResourceOption) (*AppPhase, error) {
	d, err := registerAppPhase(ctx, name, opts...)
	if err != nil {
		return nil, err
	}
	ro, err := pulumi.NewResourceOptions(opts...)
	if err != nil {
		return nil, fmt.Errorf("reading the options of the app of release %q: %w", name, err)
	}
	// The parser registers untyped, without the package version its typed
	// constructors add: without it the engine gives the objects an
	// unversioned default provider that the next up deletes.
	childOpts := utilities.PkgResourceDefaultOpts([]pulumi.ResourceOption{pulumi.Parent(d), pulumi.DependsOn(ro.DependsOn)})
	d.DeploymentName = pulumi.String("").ToStringOutput()
	d.ServiceName = pulumi.String("").ToStringOutput()
	var deployment, service bool
	// CustomResourceDefinitions first, and every other object depends on
	// them: a custom resource of the files cannot be created before its
	// definition (Helm installs crds/ first for the same reason).
	var crds []pulumi.Resource
	objects := slices.Clone(app.Objects)
	slices.SortStableFunc(objects, func(a, b manifest.Object) int {
		return cmp.Compare(crdRank(a), crdRank(b))
	})
	var targets []rolloutTarget
	for _, o := range objects {
		awaited := false
		if rollouts != nil {
			o, awaited = skipProviderAwaitOf(o)
		}
		if paths := app.Varying[objectKey(o.Obj)]; len(paths) > 0 {
			o.Obj = withUnknowns(o.Obj, paths)
		}
		objOpts := slices.Clip(childOpts)
		if _, kept := manifest.Kept(o); kept {
			// The files ask that it outlive the release (a PVC with the
			// data, say): never deleted, on destroy or when it leaves them.
			objOpts = append(objOpts, pulumi.RetainOnDelete(true))
		}
		if app.Unchanged {
			// As the last release applied it, metadata too (a chart that
			// renders .Release.IsUpgrade says so in an annotation).
			objOpts = append(objOpts, pulumi.IgnoreChanges(append(contentFields(), "metadata")))
		}
		if crdRank(o) > 0 && len(crds) > 0 {
			objOpts = append(objOpts, pulumi.DependsOn(crds))
		}
		res, err := yaml.ParseYamlObjects(ctx, []map[string]any{o.Obj}, nil, name, objOpts...)
		if err != nil {
			return nil, fmt.Errorf("registering %s: %w", o, err)
		}
		for _, r := range res {
			d.objects = append(d.objects, r)
			if awaited {
				targets = append(targets, rolloutTarget{kind: manifest.Kind(o), namespace: manifest.Namespace(o), name: manifest.Name(o), resource: r})
			}
			if crdRank(o) == 0 {
				crds = append(crds, r)
			}
		}
		switch kind := manifest.Kind(o); {
		case kind == "Deployment" && !deployment:
			d.DeploymentName, deployment = pulumi.String(manifest.Name(o)).ToStringOutput(), true
		case kind == "Service" && !service:
			d.ServiceName, service = pulumi.String(manifest.Name(o)).ToStringOutput(), true
		}
	}
	if len(targets) > 0 {
		d.rolledOut = awaitRollouts(ctx, rollouts, namespace, targets, nil)
		d.DeploymentName = d.afterRollout(d.DeploymentName)
		d.ServiceName = d.afterRollout(d.ServiceName)
	}
	return d, d.registerOutputs(ctx, name)
}

// crdRank orders a CustomResourceDefinition (0) before any other object (1).
func crdRank(o manifest.Object) int {
	if manifest.Kind(o) == "CustomResourceDefinition" {
		return 0
	}
	return 1
}

// contentFields are the fields that hold what an object is, besides its
// metadata: an unchanged chart's objects keep theirs (AppPlan.Unchanged).
func contentFields() []string {
	return []string{"data", "stringData", "binaryData", "spec", "rules", "subjects", "roleRef", "webhooks", "aggregationRule"}
}

// registerHooks registers the hooks of phase of the release name that are
// not Jobs, with opts. Each is named "<name>-hook-<namespace>/<its name>",
// the same in either phase, so that a hook that moves between phases (one
// of post-install and pre-upgrade) stays one resource. Hooks of install
// only are created once and never updated (IgnoreChanges on their content),
// as Helm creates them once: a Secret with a generated password keeps its
// first value; so are hooks a release keeps as the last one applied them.
//
// varying are the fields a preview registers unknown (AppPlan.Varying).
func registerHooks(ctx *pulumi.Context, name, phase string, h Hooks, varying map[string][]Path, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	var out []pulumi.Resource
	for i, obj := range h.Objects {
		if paths := varying[objectKey(obj.Obj)]; len(paths) > 0 {
			obj.Obj = withUnknowns(obj.Obj, paths)
		}
		o := utilities.PkgResourceDefaultOpts(opts) // see newFilesApp
		if h.Once[i] {
			o = append(o, pulumi.IgnoreChanges(contentFields()))
		}
		if i < len(h.Triggers) && h.Triggers[i] != "" {
			// Deleted after its phase by its policy: each revision that
			// runs it creates it anew (its name is fixed: the old one goes
			// first, if anything is left of it).
			o = append(o, pulumi.ReplacementTrigger(pulumi.String(h.Triggers[i])), pulumi.DeleteBeforeReplace(true))
		}
		// Before 0.3 a hook object was named from its phase; this finds it.
		o = append(o, pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(yamlName(name+"-"+phase, obj))}}))
		res, err := yaml.ParseYamlObjects(ctx, []map[string]any{obj.Obj}, nil, name+"-hook", o...)
		if err != nil {
			return nil, fmt.Errorf("registering hook %s: %w", obj, err)
		}
		for _, r := range res {
			out = append(out, r)
		}
	}
	return out, nil
}

// registerCRDs registers a chart's crds/ objects that the cluster lacks,
// with opts: each is created once, never updated and never deleted
// (RetainOnDelete, so that neither destroy nor a later release that finds
// it in the cluster and leaves it out removes it, with every custom
// resource of its kind in the cluster), as Helm treats crds/.
func registerCRDs(ctx *pulumi.Context, name string, crds []manifest.Object, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	o := append(utilities.PkgResourceDefaultOpts(opts), pulumi.RetainOnDelete(true), pulumi.IgnoreChanges([]string{"spec", "metadata"}))
	var out []pulumi.Resource
	for _, crd := range crds {
		res, err := yaml.ParseYamlObjects(ctx, []map[string]any{crd.Obj}, nil, name+"-crd", o...)
		if err != nil {
			return nil, fmt.Errorf("registering the chart's CRD %s: %w", crd, err)
		}
		for _, r := range res {
			out = append(out, r)
		}
	}
	return out, nil
}

// yamlName is the resource name the Kubernetes SDK's YAML parser gives o
// under prefix: "<prefix>-<namespace>/<name>", or "<prefix>-<name>".
func yamlName(prefix string, o manifest.Object) string {
	n := manifest.Name(o)
	if meta, _ := o.Obj["metadata"].(map[string]any); meta != nil {
		if ns, ok := meta["namespace"]; ok {
			n = fmt.Sprint(ns) + "/" + n
		}
	}
	return prefix + "-" + n
}

// refuseHook reports a Helm hook among the objects of app.manifests (left
// in `helm template` output, say): among the app's objects it would be
// applied once, beside the app, instead of run before or after it.
func refuseHook(p *check.Problems, o manifest.Object) {
	ann, _ := o.Obj["metadata"].(map[string]any)["annotations"].(map[string]any)
	if hook, ok := ann["helm.sh/hook"].(string); ok {
		p.Add("app.manifests", "%s is a Helm %s hook; release the chart with app.chart (its hooks run as phases), or list the file as preDeploy or postDeploy with manifest: <its file>", o, hook)
	}
}
