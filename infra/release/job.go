package release

import (
	"fmt"
	"math"
	"strconv"
	"time"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/spec"
)

// ReplaceUnreadyAnnotation makes the Kubernetes provider replace a Job that is
// not Complete on the next update (provider/pkg/metadata/annotations.go).
// Without it, a Job that failed is re-awaited forever: the next `up` would
// fail again on the same dead Job even after the cause was fixed outside the
// Job (a database that was down, say), instead of running it again.
const ReplaceUnreadyAnnotation = "pulumi.com/replaceUnready"

// TimeoutMargin is added to a Job's active deadline to form the engine's
// create/update timeout. Kubernetes ends the Job at its deadline with reason
// DeadlineExceeded, which the provider reports at once; the margin only lets
// that report arrive before the engine gives up with a vaguer timeout.
const TimeoutMargin = time.Minute

// ImageReplaceOnChanges are the property paths that force a Job's replacement
// under the onChange and onRelease policies.
func ImageReplaceOnChanges() []string {
	return []string{
		"spec.template.spec.containers[*].image",
		"spec.template.spec.initContainers[*].image",
	}
}

// jobOptions returns the resource options that implement a Job's re-run policy.
//
// Jobs are never given a fixed metadata.name: the provider auto-names them
// (<name>-<8 hex>), so a replacement is create-before-delete. The new run is
// created and awaited, dependants (the Deployment, later waves) move on only
// when it has completed, and only then is the previous run deleted; the last
// run stays in the cluster with its pods, so its logs can be read until the
// next release. A fixed name would force delete-before-replace: the previous
// run and its logs would be gone before the new run even started, and a new
// run that fails would leave no Job that ever succeeded.
//
// No ttlSecondsAfterFinished is set either: the TTL controller would delete
// the finished Job behind Pulumi's back, and the next `pulumi refresh` would
// drop it from state, so the following `up` would create and run it again.
func jobOptions(j spec.Job, release string) []pulumi.ResourceOption {
	switch j.Rerun {
	case spec.Once:
		// Nothing under spec, image included, triggers a new run. A Job that
		// never succeeded is still run again through replaceUnready.
		return []pulumi.ResourceOption{pulumi.IgnoreChanges([]string{"spec"})}
	case spec.OnRelease:
		return []pulumi.ResourceOption{
			pulumi.ReplaceOnChanges(ImageReplaceOnChanges()),
			pulumi.ReplacementTrigger(pulumi.String(release)),
		}
	default: // spec.OnChange
		// The provider already replaces a Job on any change under
		// spec.template (its forceNew table); this states the policy in the
		// program, where it is visible and tested, and keeps it if that table
		// ever changes.
		return []pulumi.ResourceOption{pulumi.ReplaceOnChanges(ImageReplaceOnChanges())}
	}
}

// newJob registers one Job of a phase.
func newJob(ctx *pulumi.Context, j spec.Job, a phaseArgs, deps []pulumi.Resource, parent pulumi.Resource) (*batchv1.Job, error) {
	app := a.release.App
	deadline := int(math.Ceil(j.Timeout.Seconds()))
	timeout := (time.Duration(deadline)*time.Second + TimeoutMargin).String()

	templateAnnotations := pulumi.StringMap{}
	for k, v := range j.Annotations {
		templateAnnotations[k] = pulumi.String(v)
	}

	opts := []pulumi.ResourceOption{
		pulumi.Parent(parent),
		pulumi.DependsOn(deps),
		pulumi.Timeouts(&pulumi.CustomTimeouts{Create: timeout, Update: timeout}),
	}
	opts = append(opts, jobOptions(j, a.release.ID)...)

	job, err := batchv1.NewJob(ctx, j.Name, &batchv1.JobArgs{
		Metadata: metav1.ObjectMetaArgs{
			Namespace: a.namespace,
			Labels: pulumi.StringMap{
				LabelPartOf:    pulumi.String(app.Name),
				LabelManagedBy: pulumi.String("pulumi"),
				LabelPhase:     pulumi.String(j.Phase.Label()),
				LabelWave:      pulumi.String(strconv.Itoa(j.Wave)),
				LabelJob:       pulumi.String(j.Name),
				LabelRerun:     pulumi.String(string(j.Rerun)),
			},
			Annotations: pulumi.StringMap{ReplaceUnreadyAnnotation: pulumi.String("true")},
		},
		Spec: batchv1.JobSpecArgs{
			BackoffLimit:          pulumi.Int(j.BackoffLimit),
			ActiveDeadlineSeconds: pulumi.Int(deadline),
			// A pod is replaced only once it has failed, never while a
			// terminating one may still be writing to the database.
			PodReplacementPolicy: pulumi.String("Failed"),
			Parallelism:          pulumi.Int(1),
			Completions:          pulumi.Int(1),
			Template: corev1.PodTemplateSpecArgs{
				Metadata: metav1.ObjectMetaArgs{
					// Only stable identity here: anything in the template
					// that changes makes the Job run again.
					Labels: pulumi.StringMap{
						LabelPartOf: pulumi.String(app.Name),
						LabelPhase:  pulumi.String(j.Phase.Label()),
						LabelJob:    pulumi.String(j.Name),
					},
					Annotations: templateAnnotations,
				},
				Spec: corev1.PodSpecArgs{
					RestartPolicy:                pulumi.String("Never"),
					AutomountServiceAccountToken: pulumi.Bool(false),
					EnableServiceLinks:           pulumi.Bool(false),
					SecurityContext:              podSecurity(),
					Volumes:                      tmpVolumes(),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String(j.Name),
						Image:           pulumi.String(j.Image),
						Command:         pulumi.ToStringArray(j.Command),
						Env:             env(j.Env, a.db),
						Resources:       resources(app.Resources),
						SecurityContext: containerSecurity(),
						VolumeMounts:    tmpMounts(),
					}},
				},
			},
		},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("registering %s job %q: %w", j.Phase.Label(), j.Name, err)
	}
	return job, nil
}
