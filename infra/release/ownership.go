package release

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
	"github.com/pulumi-jobs/pulumi-jobs/infra/podwatch"
)

// resolve asks the release's cluster, before anything is registered, what
// plan needs to know: for a chart, whether this release is an install or
// an upgrade (its Record) and what lookup answers, so that it is rendered
// (planChart); then every object with a fixed name that the release would
// create is looked up, and the ones that exist without the release's mark
// are refused (as an *ownership.Error), unless the release adopts them,
// which it announces.
//
// The names need the namespace, and the cluster needs kubeconfig and
// context: each is awaited when it is an output. One that is not known yet
// (a preview of a program that creates it from another resource) cannot be
// asked; the release says so, and its up asks.
func resolve(ctx *pulumi.Context, name string, plan *Plan, opts []pulumi.ResourceOption) error {
	args := plan.Args
	ns, known, err := await(ctx, args.Namespace)
	if err != nil {
		return fmt.Errorf("reading the namespace of release %q: %w", name, err)
	}
	// why says why there is no cluster to ask, when there is none.
	var why error
	cluster := args.Cluster
	switch {
	case !known:
		why = errors.New("the namespace is not known before the engine creates what it comes from")
	case cluster == nil:
		if cluster, why, err = connect(ctx, name, args, opts); err != nil {
			return err
		}
	}
	if args.App.Chart != nil {
		if err := resolveChart(ctx, name, plan, cluster, ns, why); err != nil {
			return err
		}
	}
	if cluster != nil && len(plan.CRDs) > 0 {
		if err := dropInstalledCRDs(ctx, name, plan, cluster); err != nil {
			return err
		}
	}
	if cluster == nil {
		if errors.Is(why, ownership.ErrNoCluster) {
			return warn(ctx, fmt.Sprintf("release %s: %v, so none of its objects could be looked up; "+
				"the Kubernetes provider cannot create any without one either", name, ownership.ErrNoCluster))
		}
		return warn(ctx, fmt.Sprintf("release %s: %v, so which of its objects exist is checked on up, not in this preview", name, why))
	}
	// A Job whose pod cannot start fails at once, with the pod's reason.
	podwatch.Start(ctx, cluster.RESTConfig(), ns, plan.App.Name)
	// A Deployment whose pods cannot start fails its rollout at once too.
	plan.rollouts = cluster.RESTConfig()
	claims, err := ownership.Check(ctx.Context(), cluster, plan.Owner, plan.refs(ns), ownership.Adoption{Enabled: plan.Adopt, From: args.AdoptFrom})
	if err != nil {
		return err
	}
	plan.claimed = map[ownership.Ref]bool{}
	for _, c := range claims {
		plan.claimed[c.Ref] = true
	}
	plan.forceClaimedOnly()
	for _, c := range claims {
		what := "it"
		if c.Ref.Kind == "Namespace" {
			what = "it with everything in it"
		}
		if err := warn(ctx, fmt.Sprintf("release %s adopts %s, which it did not create (adopt is set): "+
			"it is marked as the release's own from now on, and destroy deletes %s", plan.Owner, c, what)); err != nil {
			return err
		}
	}
	return nil
}

// resolveChart renders the release's chart into plan as an install or an
// upgrade, as the chart's Record in the cluster says, with lookup reading
// the cluster. Without a cluster (why says why) it renders an install, and
// refuses a chart that calls lookup: its objects would differ from the
// ones up renders.
func resolveChart(ctx *pulumi.Context, name string, plan *Plan, cluster ownership.Cluster, ns string, why error) error {
	var rec *Record
	var config *rest.Config
	if cluster != nil {
		ref := recordRef(ns, plan.App.Name)
		live, err := cluster.Lookup(ctx.Context(), ref)
		if err != nil {
			return fmt.Errorf("release %q cannot read its chart's record %s to tell an install from an upgrade (nothing was changed): %w", name, ref, err)
		}
		if rec, err = readRecord(live); err != nil {
			return fmt.Errorf("release %q: its chart's record %s is damaged (nothing was changed): %w.\n"+
				"Fix: restore it, or delete it to release the chart as an install again (its install hooks run again)", name, ref, err)
		}
		config = cluster.RESTConfig()
		plan.cluster = config
		if rec == nil && plan.Adopt && config != nil {
			if rec, err = takeOverHelm(ctx, name, plan, config, ns); err != nil {
				return err
			}
		}
	}
	noCluster := ""
	if why != nil {
		noCluster = why.Error()
	}
	if err := plan.RenderChart(rec, config, noCluster); err != nil {
		return err
	}
	var msg string
	switch next := plan.record; {
	case cluster == nil:
		msg = fmt.Sprintf("release %s: %v, so its chart is rendered as an install here; up asks the cluster", name, why)
	case rec == nil:
		msg = fmt.Sprintf("release %s: chart install (no record %s in the cluster): install hooks run", name, RecordName(plan.App.Name))
	case next.Revision == rec.Revision:
		msg = fmt.Sprintf("release %s: chart unchanged since revision %d: no hook runs", name, rec.Revision)
		if ran := plan.ranSentence(); ran != "" {
			msg += "; " + ran
		}
	default:
		msg = fmt.Sprintf("release %s: chart upgrade from revision %d to %d: upgrade hooks run", name, rec.Revision, next.Revision)
		if ran := plan.ranSentence(); ran != "" {
			msg += "; " + ran
		}
	}
	if cluster == nil {
		return warn(ctx, msg)
	}
	if err := ctx.Log.Info(msg, nil); err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	return nil
}

// connect returns the cluster the release's objects go to, as the provider
// finds it: the args' kubeconfig and context, else the stack's
// kubernetes:kubeconfig and kubernetes:context, else the environment. A
// Kubernetes provider passed as an option names a cluster the release cannot
// read, so it is refused unless kubeconfig or context say the cluster too.
// When there is no cluster to ask, why says why: kubeconfig or context is
// not known yet (preview), or none is configured (ownership.ErrNoCluster
// itself); err is a cluster that cannot be asked.
func connect(ctx *pulumi.Context, name string, args *Args, opts []pulumi.ResourceOption) (c ownership.Cluster, why, err error) {
	if args.Kubeconfig == nil && args.Context == nil {
		explicit, err := explicitProvider(ctx, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the options of release %q: %w", name, err)
		}
		if explicit {
			return nil, nil, fmt.Errorf("release %q is given a Kubernetes provider (as an option, or through its parent), and cannot read which cluster it points at to check "+
				"that none of the objects it would create exists already (it never takes over what it did not create). Nothing was changed.\n"+
				"Fix: pass that cluster as the release's kubeconfig (and context) instead of the provider option", name)
		}
	}
	kubeconfig, _ := ctx.GetConfig("kubernetes:kubeconfig")
	kctx, _ := ctx.GetConfig("kubernetes:context")
	if args.Kubeconfig != nil || args.Context != nil {
		kubeconfig, kctx = "", ""
		for _, in := range []struct {
			v   pulumi.StringInput
			out *string
		}{{args.Kubeconfig, &kubeconfig}, {args.Context, &kctx}} {
			if in.v == nil {
				continue
			}
			v, ok, err := await(ctx, in.v)
			if err != nil {
				return nil, nil, fmt.Errorf("reading the kubeconfig of release %q: %w", name, err)
			}
			if !ok {
				return nil, errors.New("its kubeconfig is not known before the engine creates what it comes from"), nil
			}
			*in.out = v
		}
	}
	c, err = ownership.Connect(kubeconfig, kctx)
	if errors.Is(err, ownership.ErrNoCluster) {
		return nil, ownership.ErrNoCluster, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("release %q cannot reach its cluster to check that none of the objects it would create exists already (nothing was changed): %w", name, err)
	}
	return c, nil, nil
}

// explicitProvider says whether opts pass a Kubernetes provider, or the
// parent they name has one (the SDK hands a parent's providers to its
// children, so the release's objects would go to that provider's cluster).
func explicitProvider(ctx *pulumi.Context, opts []pulumi.ResourceOption) (bool, error) {
	ro, err := pulumi.NewResourceOptions(opts...)
	if err != nil {
		return false, err
	}
	providers := ro.Providers
	if ro.Provider != nil {
		providers = append(providers, ro.Provider)
	}
	if parent, ok := ro.Parent.(interface {
		GetProvider(token string) pulumi.ProviderResource
	}); ok {
		if p := parent.GetProvider("kubernetes:core/v1:Namespace"); p != nil {
			providers = append(providers, p)
		}
	}
	for _, p := range providers {
		r, err := internals.UnsafeAwaitOutput(ctx.Context(), p.URN())
		if err != nil {
			return false, err
		}
		if urn, ok := r.Value.(pulumi.URN); ok && strings.Contains(string(urn), "::pulumi:providers:kubernetes::") {
			return true, nil
		}
	}
	return false, nil
}

// await returns the value of a string input, and whether it is known.
func await(ctx *pulumi.Context, in pulumi.StringInput) (string, bool, error) {
	if in == nil {
		return "", true, nil
	}
	r, err := internals.UnsafeAwaitOutput(ctx.Context(), in.ToStringOutput())
	if err != nil || !r.Known {
		return "", false, err
	}
	s, _ := r.Value.(string)
	return s, true, nil
}

// dropInstalledCRDs leaves out of plan the chart's CRDs that the cluster
// has and that this release did not install (Helm installs crds/ only when
// missing): whoever installed them, they are used as they are, never
// updated, and never claimed by the ownership check. One this release
// installed (its owner mark) stays registered as it was created.
// docs/bring-your-app.md ("Helm's contract") says how to upgrade one on
// purpose.
func dropInstalledCRDs(ctx *pulumi.Context, name string, plan *Plan, cluster ownership.Cluster) error {
	var missing []manifest.Object
	var present []string
	for _, o := range plan.CRDs {
		live, err := cluster.Lookup(ctx.Context(), refOf(o))
		if err != nil {
			return fmt.Errorf("release %q cannot tell whether the cluster has the chart's CRD %s (nothing was changed): %w", name, manifest.Name(o), err)
		}
		if live == nil || live.Annotations[ownership.Annotation] == plan.Owner {
			// Missing, or installed by this release: registered (again),
			// never updated.
			missing = append(missing, o)
			continue
		}
		present = append(present, manifest.Name(o))
	}
	plan.CRDs = missing
	if len(present) == 0 {
		return nil
	}
	if err := ctx.Log.Info(fmt.Sprintf("release %s: the cluster has the chart's CRDs %s: they are used as they are, not updated "+
		"(as Helm treats crds/; to upgrade one on purpose: kubectl apply --server-side -f <the chart's crds/ file>)", name, strings.Join(present, ", ")), nil); err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	return nil
}

// forceClaimedOnly takes patchForce off the objects of the files, chart
// and hooks that the release does not take over in this run: they carry
// its mark already (adopt is one-shot, MarksOf).
func (plan *Plan) forceClaimedOnly() {
	for _, objs := range [][]manifest.Object{plan.App.Objects, plan.PreHooks.Objects, plan.PostHooks.Objects} {
		for _, o := range objs {
			if plan.claimed[refOf(o)] {
				continue
			}
			if ann, ok := o.Obj["metadata"].(map[string]any)["annotations"].(map[string]any); ok {
				delete(ann, AnnotationPatchForce)
			}
		}
	}
}

// warn logs a warning of the release.
func warn(ctx *pulumi.Context, msg string) error {
	if err := ctx.Log.Warn(msg, nil); err != nil {
		return fmt.Errorf("logging a warning: %w", err)
	}
	return nil
}

// refs are the objects with a fixed name that the release would create in
// the namespace ns, in the order it creates them. Jobs and the database
// Secret are auto-named: a fresh name never meets an existing object.
func (plan Plan) refs(ns string) []ownership.Ref {
	var out []ownership.Ref
	if plan.CreateNamespace {
		out = append(out, ownership.Ref{APIVersion: "v1", Kind: "Namespace", Name: ns})
	}
	for _, h := range plan.PreHooks.Objects {
		out = append(out, refOf(h))
	}
	if !plan.Args.App.fromFiles() {
		out = append(out,
			ownership.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: plan.App.Name},
			ownership.Ref{APIVersion: "v1", Kind: "Service", Namespace: ns, Name: plan.App.Name})
	}
	for _, o := range plan.App.Objects {
		out = append(out, refOf(o))
	}
	for _, h := range plan.PostHooks.Objects {
		out = append(out, refOf(h))
	}
	if plan.record != nil {
		out = append(out, recordRef(ns, plan.App.Name))
	}
	if g := plan.Args.GitOps; g != nil {
		out = append(out, ownership.Ref{APIVersion: "v1", Kind: "ServiceAccount", Namespace: ns, Name: g.withDefaults(plan.App.Name).ServiceAccount})
	}
	return out
}

// refOf names an object of the files.
func refOf(o manifest.Object) ownership.Ref {
	return ownership.Ref{APIVersion: manifest.APIVersion(o), Kind: manifest.Kind(o), Namespace: manifest.Namespace(o), Name: manifest.Name(o)}
}
