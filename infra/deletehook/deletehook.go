// Package deletehook runs a chart's pre-delete and post-delete hooks when its release is
// destroyed, as `helm uninstall` does. Pulumi's destroy only deletes resources, so the hooks of
// one event are a custom resource of their own, [DeleteHooks] (pulumi-jobs:index:DeleteHooks),
// served by the component provider: creating or updating it stores the hooks as they would
// run, and deleting it runs them (see [Runner]). The release orders it by its dependencies: the
// pre-delete resource depends on the app, so a destroy deletes it, and so runs its hooks, before
// the app's objects; the app depends on the post-delete one, which is deleted after them.
//
// A failing hook fails the delete: the destroy stops there, and with pre-delete hooks the app is
// left as it is, as Helm's uninstall stops. Setting PULUMI_JOBS_SKIP_DELETE_HOOKS=true in the
// environment of the destroy skips the hooks (with a warning) when one cannot succeed.
package deletehook

import (
	"context"
	"fmt"
	"os"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
)

// Type is the resource's type token.
const Type = "pulumi-jobs:index:DeleteHooks"

// SkipEnv is the environment variable that, set to "true" where a destroy runs, skips the
// hooks (each DeleteHooks resource warns that it did).
const SkipEnv = "PULUMI_JOBS_SKIP_DELETE_HOOKS"

// DefaultTimeout is how long one hook Job may run when Args.TimeoutSeconds is 0, as a job of a
// release's phases may.
const DefaultTimeout = 10 * time.Minute

// The events whose hooks a DeleteHooks resource runs.
const (
	PreDelete  = "pre-delete"
	PostDelete = "post-delete"
)

// Hook is one hook object as it runs: a Job, which the runner creates and waits for, or another
// object (a ConfigMap, a ServiceAccount a hook Job uses), which it applies before the Jobs of its
// weight.
type Hook struct {
	// Kind and Name are the hook's kind and name as the chart wrote them; a Job's runs are
	// named Name plus a random suffix.
	Kind string `pulumi:"kind"`
	Name string `pulumi:"name"`
	// Source is the chart template the hook came from.
	Source string `pulumi:"source"`
	// Weight is its helm.sh/hook-weight: lower weights run first.
	Weight int `pulumi:"weight"`
	// Manifest is the object to create, as JSON.
	Manifest string `pulumi:"manifest"`
	// DeleteOnSuccess deletes the object once every hook of the event has succeeded
	// (helm.sh/hook-delete-policy: hook-succeeded).
	DeleteOnSuccess bool `pulumi:"deleteOnSuccess,optional"`
}

// Annotate describes Hook's fields in the schema.
func (h *Hook) Annotate(a infer.Annotator) {
	a.Describe(h, "One hook object of a chart's pre-delete or post-delete event, as it runs.")
	a.Describe(&h.Kind, "The hook object's kind.")
	a.Describe(&h.Name, "The hook object's name; a Job's runs are named after it with a random suffix.")
	a.Describe(&h.Source, "The chart template the hook came from.")
	a.Describe(&h.Weight, "helm.sh/hook-weight: lower weights run first.")
	a.Describe(&h.Manifest, "The object as it is created, as JSON.")
	a.Describe(&h.DeleteOnSuccess, "Delete it once every hook of the event has succeeded (hook-delete-policy: hook-succeeded).")
}

// Args are the hooks of one event of one release, and the cluster to run them on.
type Args struct {
	// Event is pre-delete or post-delete.
	Event string `pulumi:"event"`
	// Release is the chart's release name (the app's name).
	Release string `pulumi:"release"`
	// Namespace is the release's namespace, where the hooks run.
	Namespace string `pulumi:"namespace"`
	// Hooks are the event's hooks in the order they run.
	Hooks []Hook `pulumi:"hooks"`
	// Kubeconfig is the cluster's kubeconfig, its contents or a path; empty means the
	// environment's (KUBECONFIG, ~/.kube/config), as for the Kubernetes provider.
	Kubeconfig string `pulumi:"kubeconfig,optional" provider:"secret"`
	// Context is the kubeconfig context; empty means its current one.
	Context string `pulumi:"context,optional"`
	// TimeoutSeconds is how long each hook Job may run; 0 means DefaultTimeout.
	TimeoutSeconds int `pulumi:"timeoutSeconds,optional"`
}

// Annotate describes Args' fields in the schema.
func (a *Args) Annotate(an infer.Annotator) {
	an.Describe(&a.Event, "pre-delete or post-delete.")
	an.Describe(&a.Release, "The chart's release name (the app's name).")
	an.Describe(&a.Namespace, "The release's namespace, where the hooks run.")
	an.Describe(&a.Hooks, "The event's hooks, in the order they run.")
	an.Describe(&a.Kubeconfig, "The cluster's kubeconfig (contents or path); empty means the environment's.")
	an.Describe(&a.Context, "The kubeconfig context; empty means its current one.")
	an.Describe(&a.TimeoutSeconds, "How long each hook Job may run, in seconds; 0 means 600.")
}

// State is what a DeleteHooks resource keeps: its args, which its delete runs.
type State struct {
	Args
}

// DeleteHooks is the custom resource whose deletion runs a release's pre-delete or post-delete
// hooks. Create and Update only store them.
type DeleteHooks struct{}

// Annotate describes the resource in the schema.
func (*DeleteHooks) Annotate(a infer.Annotator) {
	a.Describe(&DeleteHooks{}, "The pre-delete or post-delete hooks of a chart's release, which run when it is "+
		"deleted (on destroy), as `helm uninstall` runs them. A Release registers it; it is not meant to be declared on its own.")
}

// Create stores the hooks; nothing runs.
func (*DeleteHooks) Create(_ context.Context, req infer.CreateRequest[Args]) (infer.CreateResponse[State], error) {
	a := req.Inputs
	return infer.CreateResponse[State]{ID: a.Namespace + "/" + a.Release + "/" + a.Event, Output: State{a}}, nil
}

// Update stores the new hooks; nothing runs.
func (*DeleteHooks) Update(_ context.Context, req infer.UpdateRequest[Args, State]) (infer.UpdateResponse[State], error) {
	return infer.UpdateResponse[State]{Output: State{req.Inputs}}, nil
}

// Delete runs the stored hooks on the cluster; an error keeps the resource, and so stops the
// destroy.
func (*DeleteHooks) Delete(ctx context.Context, req infer.DeleteRequest[State]) (infer.DeleteResponse, error) {
	a := req.State.Args
	log := p.GetLogger(ctx)
	if len(a.Hooks) == 0 {
		return infer.DeleteResponse{}, nil
	}
	if os.Getenv(SkipEnv) == "true" {
		log.Warningf("%s hooks of release %s not run: %s=true", a.Event, a.Release, SkipEnv)
		return infer.DeleteResponse{}, nil
	}
	cluster, err := ownership.Connect(a.Kubeconfig, a.Context)
	if err != nil {
		return infer.DeleteResponse{}, fmt.Errorf("running the %s hooks of release %s: %w: "+
			"destroy where the release's cluster is reachable, or set %s=true to destroy without them", a.Event, a.Release, err, SkipEnv)
	}
	r, err := NewRunner(cluster.RESTConfig())
	if err != nil {
		return infer.DeleteResponse{}, err
	}
	if a.TimeoutSeconds > 0 {
		r.Timeout = time.Duration(a.TimeoutSeconds) * time.Second
	}
	r.Log = log.Info
	if err := r.Run(ctx, a); err != nil {
		return infer.DeleteResponse{}, err
	}
	return infer.DeleteResponse{}, nil
}
