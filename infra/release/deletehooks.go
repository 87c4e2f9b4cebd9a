package release

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/deletehook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/hook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// DeleteEvent is what a chart's hooks of one delete event (pre-delete or
// post-delete) add to a release: a DeleteHooks resource whose deletion, on
// destroy, runs them (package deletehook).
type DeleteEvent struct {
	// Event is deletehook.PreDelete or deletehook.PostDelete.
	Event string
	// Hooks are the event's hooks as they run, in Helm's order.
	Hooks []deletehook.Hook
}

// planDeleteHooks makes the chart's hooks of event (in Helm's order) the
// hooks a destroy runs, transformed as the release runs its other hooks:
// a test-style Pod wrapped in a Job, the release image on the containers
// of its repository, the fields Pod Security "restricted" needs when the
// release owns its namespace, the owner mark, and a Job's backoffLimit
// when the chart sets none. Problems go under app.chart.
func planDeleteHooks(p *check.Problems, plan *Plan, event string, hooks []hook.Hook) DeleteEvent {
	image, _ := vocab.Literal(plan.Args.Image)
	out := DeleteEvent{Event: event}
	for _, h := range hooks {
		// A copy: a hook of an install event too is run by a phase, which
		// transforms its own object.
		var obj map[string]any
		if b, err := json.Marshal(h.Object); err != nil || json.Unmarshal(b, &obj) != nil {
			p.Add("app.chart", "hook %s/%s (%s) cannot be encoded", h.Kind, h.Name, h.Source)
			continue
		}
		hook.Mark(obj)
		kind, name := h.Kind, h.Name
		o := manifest.Object{Source: h.Source, Obj: obj}
		if h.RunsAsJob() {
			if h.Kind == "Pod" {
				o.Obj = podAsJob(obj)
			}
			kind, name = "Job", h.JobName()
			jobs.AsRun(p, "app.chart", o, image, plan.CreateNamespace)
			if spec, ok := o.Obj["spec"].(map[string]any); ok {
				if _, set := spec["backoffLimit"]; !set {
					spec["backoffLimit"] = jobs.DefaultBackoffLimit
				}
			}
			// Its runs are named name-xxxxx (generateName).
			for _, msg := range validation.IsDNS1123Label(name + "-xxxxx") {
				p.Add("app.chart", "%s hook %s/%s (%s): %q cannot name a Job's runs: %s", event, h.Kind, h.Name, h.Source, name+"-xxxxx", msg)
			}
		} else if image != "" {
			manifest.SetImage([]manifest.Object{o}, image)
		}
		manifest.Annotate([]manifest.Object{o}, ownership.Annotation, plan.Owner)
		b, err := json.Marshal(o.Obj)
		if err != nil {
			p.Add("app.chart", "hook %s/%s (%s) cannot be encoded: %v", h.Kind, h.Name, h.Source, err)
			continue
		}
		out.Hooks = append(out.Hooks, deletehook.Hook{
			Kind: kind, Name: name, Source: h.Source, Weight: h.Weight, Manifest: string(b),
			DeleteOnSuccess: hasPolicy(h.DeletePolicies, PolicySucceeded),
		})
	}
	return out
}

// deleteEvents are the delete events the release registers a DeleteHooks
// resource for: those the chart has hooks for, and those the last
// release's record says it had (registered then with no hooks, so that a
// chart that drops its delete hooks does not run them on that up by
// deleting the resource).
func deleteEvents(plan Plan) []DeleteEvent {
	var out []DeleteEvent
	for _, e := range []DeleteEvent{plan.PreDelete, plan.PostDelete} {
		if len(e.Hooks) > 0 || slices.Contains(plan.hadDeleteHooks, e.Event) {
			out = append(out, e)
		}
	}
	return out
}

// registerDeleteHooks registers the DeleteHooks resource of event e of the
// release, on its cluster: its kubeconfig and context, else the stack's
// kubernetes:kubeconfig and kubernetes:context, else the environment's,
// as the release's Kubernetes provider has it.
func registerDeleteHooks(ctx *pulumi.Context, name string, plan Plan, provider *deletehook.Provider, e DeleteEvent, namespace pulumi.StringInput, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
	in := deletehook.Inputs{
		Event: e.Event, Release: plan.App.Name, Namespace: namespace, Hooks: e.Hooks,
		Kubeconfig: plan.Args.Kubeconfig, Context: plan.Args.Context,
		TimeoutSeconds: int(jobs.DefaultTimeout.Seconds()),
	}
	if in.Kubeconfig == nil && in.Context == nil {
		if k, ok := ctx.GetConfig("kubernetes:kubeconfig"); ok {
			in.Kubeconfig = pulumi.String(k)
		}
		if c, ok := ctx.GetConfig("kubernetes:context"); ok {
			in.Context = pulumi.String(c)
		}
	}
	r, err := deletehook.Register(ctx, name+"-"+e.Event, provider, in, opts...)
	if err != nil {
		return nil, fmt.Errorf("release %q: %w", name, err)
	}
	return r, nil
}
