// Package jobs is the Jobs component (pulumi-jobs:index:Jobs): one phase of
// one-shot Kubernetes Jobs — database migrations before an app, smoke tests
// after it — run in waves, re-run by policy, each run auto-named so that a
// new run is created and awaited before the previous one is deleted.
//
// A Jobs component has no app of its own. It goes before or after whatever a
// program declares with nothing but dependsOn:
//
//	migrations, _ := jobs.New(ctx, "migrations", &jobs.Args{…})
//	app, _ := appsv1.NewDeployment(ctx, "app", …, pulumi.DependsOn(migrations.Children()))
//	smoke, _ := jobs.New(ctx, "smoke", &jobs.Args{…}, pulumi.DependsOn([]pulumi.Resource{app}))
//
// The component's own dependsOn is put on every Job it registers, so the
// edge is in the engine's state on each Job (destroy order, --target and the
// stack graph see it), not only on the component.
package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// Type is the component's type token.
const Type = "pulumi-jobs:index:Jobs"

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

// Jobs is the pulumi-jobs:index:Jobs component.
type Jobs struct {
	pulumi.ResourceState

	// Namespace is the namespace the Jobs run in.
	Namespace pulumi.StringOutput `pulumi:"namespace"`
	// JobNames are the cluster names of the current runs, in wave order.
	JobNames pulumi.StringArrayOutput `pulumi:"jobNames"`
	// Runs maps each job's logical name to the cluster name of its current run.
	Runs pulumi.StringMapOutput `pulumi:"runs"`

	// Waves are the registered Jobs by wave, in wave order (Go callers only).
	Waves []WaveResources
}

// WaveResources are the Job resources of one wave.
type WaveResources struct {
	// Number is the wave number.
	Number int
	// Names are the Jobs' logical names, in order.
	Names []string
	// Jobs are the Job resources, in order.
	Jobs []*batchv1.Job
}

// Children returns the Jobs of the component, every wave. A Go program that
// puts its app after the Jobs depends on these, not on the component: the Go
// SDK turns a dependency on a local component into its children registered
// so far, which are only the Jobs whose registration has started
// (pulumi/pulumi#7737), so the app could start before the last migration.
// (Through the component provider, from any language, depending on the
// component itself is enough: the engine waits for its whole construction.)
func (c *Jobs) Children() []pulumi.Resource {
	var out []pulumi.Resource
	for _, w := range c.Waves {
		for _, j := range w.Jobs {
			out = append(out, j)
		}
	}
	return out
}

// New registers a Jobs component and its Jobs. Invalid args are reported
// all at once, as a *check.ArgsError, before anything is registered.
//
// The first wave depends on what the component depends on (its DependsOn
// option); every later wave also depends on every Job of the wave before it.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Jobs, error) {
	if args == nil {
		args = &Args{}
	}
	p := &check.Problems{}
	checkArgs(p, ctx.Stack(), args)
	waves := Plan(p, "jobs", name, vocab.StackOf(ctx), args)
	Unique(p, waves)
	if len(p.List) > 0 {
		return nil, &check.ArgsError{Resource: Type + " " + name, Problems: p.List}
	}
	if args.Owner == "" {
		owned := *args
		owned.Owner = ownership.Owner(ctx.Project(), ctx.Stack(), name)
		args = &owned
	}
	return NewFromPlan(ctx, name, args, waves, opts...)
}

// NewFromPlan registers a Jobs component for waves that Plan produced from
// args (and a caller may have added to, as a Release adds a chart's hook
// Jobs). It does not check args again: New does both.
func NewFromPlan(ctx *pulumi.Context, name string, args *Args, waves []Wave, opts ...pulumi.ResourceOption) (*Jobs, error) {
	c := &Jobs{}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, fmt.Errorf("registering jobs %q: %w", name, err)
	}
	ro, err := pulumi.NewResourceOptions(opts...)
	if err != nil {
		return nil, fmt.Errorf("reading the options of jobs %q: %w", name, err)
	}
	c.Namespace = args.Namespace.ToStringOutput()

	after := append([]pulumi.Resource{}, ro.DependsOn...)
	var previous []pulumi.Resource
	names := pulumi.StringArray{}
	runs := pulumi.StringMap{}
	for _, w := range waves {
		deps := append(append([]pulumi.Resource{}, after...), previous...)
		wave := WaveResources{Number: w.Number}
		for _, j := range w.Jobs {
			jobOpts := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.DependsOn(deps)}
			if len(ro.Aliases) > 0 {
				// A renamed component: pulumi-jobs before 0.2 named each Job by
				// its bare job name under a phase component, which the
				// component's aliases name; this finds those Jobs in state.
				jobOpts = append(jobOpts, pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(j.Name)}}))
			}
			for _, in := range ro.DependsOnInputs {
				jobOpts = append(jobOpts, pulumi.DependsOnInputs(in))
			}
			job, err := newJob(ctx, name, j, args, jobOpts...)
			if err != nil {
				return nil, err
			}
			wave.Names = append(wave.Names, j.Name)
			wave.Jobs = append(wave.Jobs, job)
			runName := job.Metadata.Name().Elem()
			names = append(names, runName)
			runs[j.Name] = runName
		}
		c.Waves = append(c.Waves, wave)
		previous = previous[:0:0]
		for _, job := range wave.Jobs {
			previous = append(previous, job)
		}
	}
	c.JobNames = names.ToStringArrayOutput()
	c.Runs = runs.ToStringMapOutput()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"namespace": c.Namespace,
		"jobNames":  c.JobNames,
		"runs":      c.Runs,
	}); err != nil {
		return nil, fmt.Errorf("registering outputs of jobs %q: %w", name, err)
	}
	return c, nil
}

// ImageReplaceOnChanges are the property paths that force a Job's replacement
// under the onChange and onRelease policies.
func ImageReplaceOnChanges() []string {
	return []string{
		"spec.template.spec.containers[*].image",
		"spec.template.spec.initContainers[*].image",
	}
}

// rerunOptions returns the resource options that implement a Job's re-run
// policy.
//
// Jobs are never given a fixed metadata.name: the provider auto-names them
// (<name>-<8 hex>), so a replacement is create-before-delete. The new run is
// created and awaited, dependants (the app, later waves) move on only when
// it has completed, and only then is the previous run deleted; the last run
// stays in the cluster with its pods, so its logs can be read until the next
// run. A fixed name would force delete-before-replace: the previous run and
// its logs would be gone before the new run even started, and a new run that
// fails would leave no Job that ever succeeded.
//
// No ttlSecondsAfterFinished is set either: the TTL controller would delete
// the finished Job behind Pulumi's back, and the next `pulumi refresh` would
// drop it from state, so the following `up` would create and run it again.
func rerunOptions(j Planned, release pulumi.StringInput) []pulumi.ResourceOption {
	var trigger []pulumi.ResourceOption
	if j.Trigger != "" {
		trigger = []pulumi.ResourceOption{pulumi.ReplacementTrigger(pulumi.String(j.Trigger))}
	}
	switch {
	case j.Keep:
		// The last run, kept as it ran: its labels may name another phase
		// and its template another image, and none of that runs it again.
		return append(trigger, pulumi.IgnoreChanges([]string{"spec", "metadata"}))
	case j.Rerun == Once:
		// Nothing under spec, image included, triggers a new run. A Job that
		// never succeeded is still run again through replaceUnready.
		return append(trigger, pulumi.IgnoreChanges([]string{"spec"}))
	case j.Rerun == OnRelease && trigger == nil:
		return []pulumi.ResourceOption{
			pulumi.ReplaceOnChanges(ImageReplaceOnChanges()),
			pulumi.ReplacementTrigger(release),
		}
	default: // OnChange
		// The provider already replaces a Job on any change under
		// spec.template (its forceNew table); this states the policy in the
		// program, where it is visible and tested, and keeps it if that table
		// ever changes.
		return append(trigger, pulumi.ReplaceOnChanges(ImageReplaceOnChanges()))
	}
}

// ResourceName is the resource name of the job name of component, from
// which the provider auto-names the Job: <component>-<name>, or, when that
// is longer than check.MaxAutoNamedJob (a chart's hook may have any name
// Helm accepts), its first characters and 8 hex digits of its SHA-256, so
// that the Job's name fits 63 characters, stays the same on every run and
// differs from every other job's. Jobs of the config are refused at that
// length instead (check.JobName), so theirs are never shortened.
func ResourceName(component, name string) string {
	full := component + "-" + name
	if len(full) <= check.MaxAutoNamedJob {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	return strings.TrimRight(full[:check.MaxAutoNamedJob-9], "-") + "-" + hex.EncodeToString(sum[:4])
}

// newJob registers one Job, named ResourceName(component, job).
func newJob(ctx *pulumi.Context, component string, j Planned, args *Args, opts ...pulumi.ResourceOption) (*batchv1.Job, error) {
	deadline := int(math.Ceil(j.Timeout.Seconds()))
	timeout := (time.Duration(deadline)*time.Second + TimeoutMargin).String()
	opts = append(opts, pulumi.Timeouts(&pulumi.CustomTimeouts{Create: timeout, Update: timeout}))
	opts = append(opts, rerunOptions(j, args.ReleaseID)...)
	if j.Keep && j.Import != "" {
		opts = append(opts, pulumi.Import(pulumi.ID(j.Import)))
	}
	resource := ResourceName(component, j.Name)
	if j.Resource != "" && j.Resource != resource {
		// Before 0.3 a hook's Job was named from its phase; this finds it.
		opts = append(opts, pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(resource)}}))
		resource = j.Resource
	}

	templateAnnotations := pulumi.StringMap{}
	for k, v := range j.Annotations {
		templateAnnotations[k] = pulumi.String(v)
	}
	labels := pulumi.StringMap{
		vocab.LabelManagedBy: pulumi.String("pulumi"),
		vocab.LabelWave:      pulumi.String(strconv.Itoa(j.Wave)),
		vocab.LabelJob:       pulumi.String(j.Name),
		vocab.LabelRerun:     pulumi.String(j.Rerun),
	}
	if j.Trigger != "" {
		labels[vocab.LabelRevision] = pulumi.String(j.Trigger)
	}
	// Only stable identity in the pod template: anything there that changes
	// makes the Job run again.
	podLabels := pulumi.StringMap{vocab.LabelJob: pulumi.String(j.Name)}
	if args.PartOf != "" {
		labels[vocab.LabelPartOf] = pulumi.String(args.PartOf)
		podLabels[vocab.LabelPartOf] = pulumi.String(args.PartOf)
	}
	if args.Phase != "" {
		labels[vocab.LabelPhase] = pulumi.String(args.Phase)
		podLabels[vocab.LabelPhase] = pulumi.String(args.Phase)
	}
	image := j.Image
	if image == nil {
		image = args.Image
	}
	var jobArgs pulumi.StringArrayInput
	if len(j.Args) > 0 {
		jobArgs = pulumi.ToStringArray(j.Args)
	}

	if j.Object != nil {
		return newJobFromObject(ctx, resource, j, args, labels, podLabels, deadline, templateAnnotations, opts...)
	}
	main := corev1.ContainerArgs{
		Name:            pulumi.String(j.Name),
		Image:           image,
		Command:         pulumi.ToStringArray(j.Command),
		Args:            jobArgs,
		Env:             pod.Env(j.Env, args.DatabaseSecret),
		Resources:       j.Resources.Args(),
		SecurityContext: pod.ContainerSecurity(),
		VolumeMounts:    pod.TmpMounts(),
	}
	spec := corev1.PodSpecArgs{
		RestartPolicy:                pulumi.String("Never"),
		AutomountServiceAccountToken: pulumi.Bool(false),
		EnableServiceLinks:           pulumi.Bool(false),
		SecurityContext:              pod.Security(),
		Volumes:                      pod.TmpVolumes(),
	}
	// The pod block: a change to it changes the template, and so runs the
	// Job again as its rerun policy says.
	j.Pod.Apply(&spec, &main, podLabels, templateAnnotations)
	spec.Containers = corev1.ContainerArray{main}
	job, err := batchv1.NewJob(ctx, resource, &batchv1.JobArgs{
		Metadata: metav1.ObjectMetaArgs{
			Namespace:   args.Namespace,
			Labels:      labels,
			Annotations: jobAnnotations(args.Owner),
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
				Metadata: metav1.ObjectMetaArgs{Labels: podLabels, Annotations: templateAnnotations},
				Spec:     spec,
			},
		},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("registering job %q of %q: %w", j.Name, component, err)
	}
	return job, nil
}

// newJobFromObject registers a Job whose spec comes from a file or a chart.
// The file's own fields stand, except: metadata.name is gone (the Job is
// auto-named), the namespace is the component's, our labels and the
// replaceUnready annotation are added, restartPolicy Never and
// podReplacementPolicy Failed are set when the file sets neither, and the
// job's timeout and backoffLimit replace the file's only when the job's
// args set them (else the file's, else the defaults).
func newJobFromObject(ctx *pulumi.Context, resource string, j Planned, args *Args, labels, podLabels pulumi.StringMap,
	deadline int, templateAnnotations pulumi.StringMap, opts ...pulumi.ResourceOption) (*batchv1.Job, error) {
	obj := deepCopy(j.Object)
	meta := child(obj, "metadata")
	meta["namespace"] = args.Namespace
	meta["labels"] = merge(meta["labels"], labels)
	meta["annotations"] = merge(meta["annotations"], jobAnnotations(args.Owner))
	spec := child(obj, "spec")
	if _, set := spec["activeDeadlineSeconds"]; !set || j.TimeoutSet {
		spec["activeDeadlineSeconds"] = deadline
	}
	if _, set := spec["backoffLimit"]; !set || j.BackoffLimitSet {
		spec["backoffLimit"] = j.BackoffLimit
	}
	if _, set := spec["podReplacementPolicy"]; !set {
		spec["podReplacementPolicy"] = "Failed"
	}
	template := child(spec, "template")
	tmeta := child(template, "metadata")
	tmeta["labels"] = merge(tmeta["labels"], podLabels)
	if len(templateAnnotations) > 0 {
		tmeta["annotations"] = merge(tmeta["annotations"], templateAnnotations)
	}
	pod := child(template, "spec")
	if _, set := pod["restartPolicy"]; !set {
		pod["restartPolicy"] = "Never"
	}
	var job batchv1.Job
	// The SDK's typed constructors add the package version; an untyped
	// registration must too, or the engine gives it an unversioned default
	// provider that the next up deletes.
	if err := ctx.RegisterResource("kubernetes:batch/v1:Job", resource, kubernetes.UntypedArgs(obj), &job, utilities.PkgResourceDefaultOpts(opts)...); err != nil {
		return nil, fmt.Errorf("registering job %q (%s) from %s: %w", j.Name, resource, j.Source, err)
	}
	return &job, nil
}

// jobAnnotations are the annotations of every Job's metadata: replaceUnready
// and, when there is one, the owner mark.
func jobAnnotations(owner string) pulumi.StringMap {
	ann := pulumi.StringMap{ReplaceUnreadyAnnotation: pulumi.String("true")}
	if owner != "" {
		ann[ownership.Annotation] = pulumi.String(owner)
	}
	return ann
}

// child returns m[key] as a map, creating it when absent.
func child(m map[string]any, key string) map[string]any {
	c, ok := m[key].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

// merge returns the string map v (from a file) with ours added; ours win.
func merge(v any, ours pulumi.StringMap) map[string]any {
	out := map[string]any{}
	if m, ok := v.(map[string]any); ok {
		maps.Copy(out, m)
	}
	for k, val := range ours {
		out[k] = val
	}
	return out
}

// deepCopy copies a decoded YAML value, so a file's object can be planned
// twice (preview and up, or two components) without sharing state.
func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return deepCopy(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = copyValue(e)
		}
		return out
	default:
		return v
	}
}
