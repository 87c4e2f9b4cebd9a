package deletehook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/pulumi-jobs/pulumi-jobs/infra/joblog"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// LabelEvent is the label on every object a Runner creates: the event it ran for.
const LabelEvent = "pulumi-jobs/delete-hook"

// Runner runs the hooks of one event on a cluster, as Helm's uninstall does: one at a time in
// their order (weight, then kind, then name, as the release lists them), each Job waited for
// until it completes, and those with hook-succeeded deleted once all have succeeded. Before
// creating a hook it deletes what an earlier run of the same hook left (Helm's default
// before-hook-creation policy), so that a destroy retried after a failure runs it afresh.
type Runner struct {
	// Client creates and watches the hook Jobs and reads their pods' logs.
	Client kubernetes.Interface
	// Dynamic and Mapper apply hook objects that are not Jobs.
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
	// Timeout is how long one hook Job may run (DefaultTimeout when zero).
	Timeout time.Duration
	// Poll is how often a running Job's status is read (a second when zero).
	Poll time.Duration
	// Log, when set, is told each hook's outcome, one sentence each.
	Log func(string)
}

// NewRunner returns a Runner for the cluster of config.
func NewRunner(config *rest.Config) (*Runner, error) {
	config = rest.CopyConfig(config)
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("creating a Kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("creating a dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("creating a discovery client: %w", err)
	}
	return &Runner{
		Client:  client,
		Dynamic: dyn,
		Mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
	}, nil
}

// Run runs the hooks of a: every hook must succeed. A namespace that is gone has nothing to run
// the hooks in: they are skipped, and Log says so. The error of a failed hook names it, its
// Job's failure and the last lines of its log, and says how to go on.
func (r *Runner) Run(ctx context.Context, a Args) error {
	if _, err := r.Client.CoreV1().Namespaces().Get(ctx, a.Namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		r.log(fmt.Sprintf("%s hooks of release %s not run: its namespace %s is gone", a.Event, a.Release, a.Namespace))
		return nil
	}
	var succeeded []func() error
	for _, h := range a.Hooks {
		var obj unstructured.Unstructured
		if err := json.Unmarshal([]byte(h.Manifest), &obj.Object); err != nil {
			return r.failed(a, h, fmt.Errorf("its manifest is not an object: %w", err))
		}
		label(&obj, a, h)
		obj.SetNamespace(a.Namespace)
		var remove func() error
		var err error
		if h.Kind == "Job" {
			remove, err = r.runJob(ctx, a, h, &obj)
		} else {
			remove, err = r.apply(ctx, &obj)
		}
		if err != nil {
			return r.failed(a, h, err)
		}
		if h.DeleteOnSuccess {
			succeeded = append(succeeded, remove)
		}
	}
	var errs []error
	for _, remove := range succeeded {
		errs = append(errs, remove())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the %s hooks of release %s succeeded, but deleting those marked hook-succeeded failed: %w", a.Event, a.Release, err)
	}
	return nil
}

// label puts the labels of a hook run on obj (and on a Job's pods).
func label(obj *unstructured.Unstructured, a Args, h Hook) {
	labels := map[string]string{
		vocab.LabelPartOf:    a.Release,
		vocab.LabelManagedBy: "pulumi",
		vocab.LabelJob:       h.Name,
		LabelEvent:           a.Event,
	}
	add := func(fields ...string) {
		have, _, _ := unstructured.NestedStringMap(obj.Object, fields...)
		if have == nil {
			have = map[string]string{}
		}
		for k, v := range labels {
			have[k] = v
		}
		_ = unstructured.SetNestedStringMap(obj.Object, have, fields...)
	}
	add("metadata", "labels")
	if h.Kind == "Job" {
		add("spec", "template", "metadata", "labels")
	}
}

// selector selects what earlier runs of hook h of a left.
func selector(a Args, h Hook) string {
	return fmt.Sprintf("%s=%s,%s=%s,%s=%s", vocab.LabelPartOf, a.Release, vocab.LabelJob, h.Name, LabelEvent, a.Event)
}

// runJob deletes the Jobs earlier runs of h left, creates one named after h and waits for it.
// It returns how to delete it.
func (r *Runner) runJob(ctx context.Context, a Args, h Hook, obj *unstructured.Unstructured) (func() error, error) {
	jobs := r.Client.BatchV1().Jobs(a.Namespace)
	background := metav1.DeletePropagationBackground
	earlier, err := jobs.List(ctx, metav1.ListOptions{LabelSelector: selector(a, h)})
	if err != nil {
		return nil, fmt.Errorf("listing its earlier runs: %w", err)
	}
	for _, j := range earlier.Items {
		if err := jobs.Delete(ctx, j.Name, metav1.DeleteOptions{PropagationPolicy: &background}); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("deleting its earlier run %s: %w", j.Name, err)
		}
	}
	var job batchv1.Job
	if err := runtimeConvert(obj, &job); err != nil {
		return nil, err
	}
	job.Name, job.GenerateName = "", h.Name+"-"
	job.ResourceVersion = ""
	created, err := jobs.Create(ctx, &job, metav1.CreateOptions{FieldManager: "pulumi-jobs"})
	if err != nil {
		return nil, fmt.Errorf("creating its Job: %w", err)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	poll := r.Poll
	if poll <= 0 {
		poll = time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		got, err := jobs.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading its Job %s: %w", created.Name, err)
		}
		if done, failure := finished(got); done {
			if failure != "" {
				return nil, fmt.Errorf("its Job %s failed: %s%s", created.Name, failure, r.tail(ctx, a.Namespace, created.Name))
			}
			r.log(fmt.Sprintf("%s hook Job/%s of release %s succeeded (Job %s)", a.Event, h.Name, a.Release, created.Name))
			return func() error {
				err := jobs.Delete(context.Background(), created.Name, metav1.DeleteOptions{PropagationPolicy: &background})
				if err != nil && !apierrors.IsNotFound(err) {
					return fmt.Errorf("deleting Job %s: %w", created.Name, err)
				}
				return nil
			}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("its Job %s did not finish within %s%s", created.Name, timeout, r.tail(ctx, a.Namespace, created.Name))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for its Job %s: %w", created.Name, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// finished says whether job has finished and, when it failed, why.
func finished(job *batchv1.Job) (done bool, failure string) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, ""
		case batchv1.JobFailed:
			return true, strings.TrimSpace(c.Reason + ": " + c.Message)
		}
	}
	return false, ""
}

// tail is the last lines of the log of a Job's pod, as words to append.
func (r *Runner) tail(ctx context.Context, ns, job string) string {
	return "; its log ends: " + joblog.Tail(ctx, r.Client, ns, job)
}

// apply creates obj, replacing what an earlier run left of the same name, and returns how to
// delete it.
func (r *Runner) apply(ctx context.Context, obj *unstructured.Unstructured) (func() error, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := r.Mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("the cluster does not serve %s: %w", gvk, err)
	}
	var res dynamic.ResourceInterface = r.Dynamic.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		res = r.Dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	} else {
		obj.SetNamespace("")
	}
	name := obj.GetName()
	if err := res.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("deleting what an earlier run left: %w", err)
	}
	if _, err := res.Create(ctx, obj, metav1.CreateOptions{FieldManager: "pulumi-jobs"}); err != nil {
		return nil, fmt.Errorf("creating it: %w", err)
	}
	return func() error {
		if err := res.Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s %s: %w", gvk.Kind, name, err)
		}
		return nil
	}, nil
}

// failed is the error of hook h of a.
func (r *Runner) failed(a Args, h Hook, err error) error {
	return fmt.Errorf("%s hook %s/%s (%s) of release %s failed: %w.\n"+
		"The destroy stopped here; what the release still holds is as it was. Fix the hook (or what it needs) and destroy again, "+
		"or set %s=true to destroy without running the hooks", a.Event, h.Kind, h.Name, h.Source, a.Release, err, SkipEnv)
}

func (r *Runner) log(msg string) {
	if r.Log != nil {
		r.Log(msg)
	}
}

// runtimeConvert converts obj to the typed out.
func runtimeConvert(obj *unstructured.Unstructured, out any) error {
	b, err := json.Marshal(obj.Object)
	if err != nil {
		return fmt.Errorf("encoding its manifest: %w", err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("its manifest is not a %s: %w", obj.GetKind(), err)
	}
	return nil
}
