package release

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/rollout"
)

// A release awaits the rollouts of its app's Deployments (and its files'
// StatefulSets) itself, when it can reach its cluster (resolve sets
// Plan.rollouts): each is applied without the provider's await
// (pulumi.com/skipAwait), and what
// comes after the app (post-deploy hooks and jobs, the record) depends on
// an output that resolves once every rollout is complete (rollout.Await).
// The provider's awaiter (v4.25.0) cannot end early: a pod that cannot
// start, or a rollout past its progress deadline, kept the up waiting for
// the Deployment's whole timeout. rollout.Await fails within seconds with
// the pod's reason; the previous ReplicaSet keeps serving (the app's own
// Deployment never goes below its desired capacity, maxUnavailable 0), and
// the next up awaits the rollout again, whether or not the Deployment
// changed. Without a cluster to ask, the provider awaits as before.

// rolloutTarget is a Deployment or StatefulSet of the app whose rollout
// the release awaits.
type rolloutTarget struct {
	// kind is rollout.Deployment or rollout.StatefulSet; namespace is the
	// object's namespace ("" for the release's).
	kind, namespace, name string
	resource              pulumi.Resource
}

// skipProviderAwait returns the annotations of a Deployment the release
// awaits itself: ann with pulumi.com/skipAwait. It copies ann.
func skipProviderAwait(ann map[string]string) map[string]string {
	out := maps.Clone(ann)
	if out == nil {
		out = map[string]string{}
	}
	out[AnnotationSkipAwait] = "true"
	return out
}

// skipProviderAwaitOf returns o with pulumi.com/skipAwait among its
// annotations when it is a Deployment or StatefulSet of the files that
// neither skips the provider's await nor names its own condition
// (pulumi.com/waitFor), and whether it did. The object's maps on that path
// are copied, not changed.
func skipProviderAwaitOf(o manifest.Object) (manifest.Object, bool) {
	kind := manifest.Kind(o)
	if (kind != rollout.Deployment && kind != rollout.StatefulSet) || manifest.APIVersion(o) != "apps/v1" {
		return o, false
	}
	meta, _ := o.Obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	_, skip := ann[AnnotationSkipAwait]
	_, waitFor := ann[AnnotationWaitFor]
	if skip || waitFor {
		return o, false
	}
	obj, meta, ann := maps.Clone(o.Obj), maps.Clone(meta), maps.Clone(ann)
	if meta == nil {
		meta = map[string]any{}
	}
	if ann == nil {
		ann = map[string]any{}
	}
	ann[AnnotationSkipAwait] = "true"
	meta["annotations"] = ann
	obj["metadata"] = meta
	o.Obj = obj
	return o, true
}

// awaitRollouts returns an output that resolves to the targets' resources
// and also once every target's rollout is complete, on the cluster of cfg
// (namespace is the release's), or fails with the first rollout that
// cannot finish, which it also reports on that Deployment. In a preview
// and under Pulumi's mocks nothing is awaited.
func awaitRollouts(ctx *pulumi.Context, cfg *rest.Config, namespace pulumi.StringInput, targets []rolloutTarget, also []pulumi.Resource) pulumi.ResourceArrayOutput {
	inputs := []any{namespace}
	resources := []pulumi.Resource{}
	for _, t := range targets {
		inputs = append(inputs, t.resource.URN())
		resources = append(resources, t.resource)
	}
	resources = append(resources, also...)
	return pulumi.All(inputs...).ApplyTWithContext(ctx.Context(), func(c context.Context, vs []any) ([]pulumi.Resource, error) {
		if ctx.DryRun() || ctx.RunningWithMocks() || len(targets) == 0 {
			return resources, nil
		}
		ns, _ := vs[0].(string)
		client, err := kubernetes.NewForConfig(timeoutConfig(cfg))
		if err != nil {
			return nil, fmt.Errorf("awaiting the app's rollout: %w", err)
		}
		for _, t := range targets {
			if t.namespace != "" {
				ns = t.namespace
			}
			if err := rollout.Await(c, client, rollout.Options{Kind: t.kind, Namespace: ns, Name: t.name}); err != nil {
				_ = ctx.Log.Error(err.Error()+"; nothing after the app runs, the pods of the previous version stay as the "+
					"object's strategy keeps them (all of them for the app block's Deployment), and the next up awaits this rollout again", &pulumi.LogArgs{Resource: t.resource})
				return nil, err
			}
		}
		return resources, nil
	}).(pulumi.ResourceArrayOutput)
}

// timeoutConfig is cfg with a timeout on each request.
func timeoutConfig(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 10 * time.Second
	return cfg
}
