package release

import (
	"context"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/pulumi-jobs/pulumi-jobs/infra/joblog"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
)

// The helm.sh/hook-delete-policy values.
const (
	// PolicyBeforeHookCreation deletes a hook's last run before its next
	// one is created: Helm's default, and what every run of ours does
	// (create-before-delete replacement).
	PolicyBeforeHookCreation = "before-hook-creation"
	// PolicySucceeded deletes a hook once every hook of its phase has
	// succeeded.
	PolicySucceeded = "hook-succeeded"
	// PolicyFailed deletes a hook that failed.
	PolicyFailed = "hook-failed"
)

// Deletion is a chart's hook that the release deletes once every hook of
// its phase has succeeded (hook-delete-policy: hook-succeeded), as Helm
// deletes it: a hook Job, by its job name, or another object (a
// ServiceAccount, Role or RoleBinding of a migration, a copy of a Secret).
type Deletion struct {
	// Job is a hook Job's job name; empty for another object.
	Job string
	// Ref is the object when it is not a Job.
	Ref ownership.Ref
}

// String names the deletion in messages.
func (d Deletion) String() string {
	if d.Job != "" {
		return "Job " + d.Job
	}
	return d.Ref.String()
}

// deleteSucceeded deletes the deletions of one phase once every Job of the
// phase (jobsOf) and every hook object of it (objects) is created and
// awaited, on an up only: Helm's hook-succeeded. A deleted Job's outcome and
// last log lines are logged first, so they outlive it. A Job that failed
// never gets here: the up fails at it, and the Job is kept for its logs.
// The next release does not register what was deleted (a kept hook Job
// whose Job is gone; hook objects with the policy are registered only by a
// release that runs their phase).
func deleteSucceeded(ctx *pulumi.Context, name string, plan Plan, deletions []Deletion, phase *jobs.Jobs, objects []pulumi.Resource) {
	if len(deletions) == 0 || plan.cluster == nil || ctx.DryRun() {
		return
	}
	clusterNames := map[string]pulumi.StringOutput{}
	var all []any
	for _, w := range phase.Waves {
		for i, job := range w.Jobs {
			clusterNames[w.Names[i]] = job.Metadata.Name().Elem()
			all = append(all, job.Metadata.Name().Elem())
		}
	}
	for _, o := range objects {
		if c, ok := o.(pulumi.CustomResource); ok {
			all = append(all, c.ID())
		}
	}
	ns := nsOf(plan.Args)
	jobNames := map[string]int{}
	for _, d := range deletions {
		if d.Job != "" {
			if out, ok := clusterNames[d.Job]; ok {
				jobNames[d.Job] = len(all)
				all = append(all, out)
			}
		}
	}
	config := plan.cluster
	pulumi.All(all...).ApplyT(func(values []any) (string, error) {
		var done []string
		for _, d := range deletions {
			var msg string
			var err error
			if d.Job != "" {
				i, ok := jobNames[d.Job]
				if !ok {
					continue
				}
				msg, err = deleteJob(ctx.Context(), config, ns, d.Job, values[i].(string))
			} else {
				msg, err = deleteObject(ctx.Context(), config, d.Ref)
			}
			if err != nil {
				_ = ctx.Log.Error(fmt.Sprintf("release %s: %s asks to be deleted once its hooks have succeeded (hook-delete-policy: hook-succeeded), and could not be: %v", name, d, err), nil)
				return "", err
			}
			done = append(done, msg)
		}
		if len(done) > 0 {
			_ = ctx.Log.Info(fmt.Sprintf("release %s, hook-delete-policy hook-succeeded: %s", name, strings.Join(done, "; ")), nil)
		}
		return strings.Join(done, "; "), nil
	})
}

// deleteJob logs a succeeded hook Job's last lines, then deletes it with
// its pods, and says what it did.
func deleteJob(ctx context.Context, config *rest.Config, ns, job, clusterName string) (string, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return "", fmt.Errorf("a client of the release's cluster: %w", err)
	}
	tail := joblog.Tail(ctx, client, ns, clusterName)
	background := metav1.DeletePropagationBackground
	err = client.BatchV1().Jobs(ns).Delete(ctx, clusterName, metav1.DeleteOptions{PropagationPolicy: &background})
	if err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("deleting Job %s/%s: %w", ns, clusterName, err)
	}
	return fmt.Sprintf("hook %s succeeded and its Job %s/%s was deleted; its last log lines: %s", job, ns, clusterName, tail), nil
}

// deleteObject deletes a hook object that is not a Job, and says so.
func deleteObject(ctx context.Context, config *rest.Config, ref ownership.Ref) (string, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return "", fmt.Errorf("a client of the release's cluster: %w", err)
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return "", fmt.Errorf("a client of the release's cluster: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return "", fmt.Errorf("%s: apiVersion %q: %w", ref, ref.APIVersion, err)
	}
	mapping, err := mapper.RESTMapping(gv.WithKind(ref.Kind).GroupKind(), gv.Version)
	if err != nil {
		return "", fmt.Errorf("%s: the cluster does not serve its kind: %w", ref, err)
	}
	res := dyn.Resource(mapping.Resource)
	var ri dynamic.ResourceInterface = res
	if ref.Namespace != "" {
		ri = res.Namespace(ref.Namespace)
	}
	if err := ri.Delete(ctx, ref.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("deleting %s: %w", ref, err)
	}
	return "deleted " + ref.String(), nil
}

// hasPolicy says whether a hook's delete policies hold policy.
func hasPolicy(policies []string, policy string) bool {
	for _, p := range policies {
		if strings.TrimSpace(p) == policy {
			return true
		}
	}
	return false
}
