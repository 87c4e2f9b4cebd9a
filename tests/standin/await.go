package standin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
)

// pollInterval is how often an await reads the object. The real provider
// watches; polling keeps the stand-in small and adds at most this much.
const pollInterval = 250 * time.Millisecond

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (p *Provider) status(ctx context.Context, urn resource.URN, msg string) {
	if p.host != nil {
		_ = p.host.LogStatus(ctx, diag.Info, urn, msg)
	}
}

// readyFunc says whether the live object is ready; a non-nil error fails the
// await at once.
type readyFunc func(ctx context.Context, live *unstructured.Unstructured) (ready bool, status string, err error)

// await waits until the object is ready by the rules of its kind
// (provider/pkg/await/awaiters.go); kinds without an awaiter are ready at
// once. It returns the last live object it saw.
func (p *Provider) await(ctx context.Context, urn resource.URN, ri dynamic.ResourceInterface, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	var check readyFunc
	switch obj.GetKind() {
	case "Job":
		check = jobReady
	case "Deployment":
		check = p.deploymentReady
	case "Service":
		check = p.serviceReady
	default:
		return obj, nil
	}
	live, last := obj, ""
	for {
		ready, status, err := check(ctx, live)
		if err != nil {
			return live, err
		}
		if ready {
			return live, nil
		}
		if status != last {
			p.status(ctx, urn, status)
			last = status
		}
		sleep(ctx, pollInterval)
		if ctxErr := ctx.Err(); ctxErr != nil {
			if errors.Is(ctxErr, context.DeadlineExceeded) {
				return live, fmt.Errorf("timed out waiting for the condition: %s", status)
			}
			return live, fmt.Errorf("the operation was cancelled: %s", status)
		}
		next, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err == nil {
			live = next
		}
	}
}

func convert[T any](obj *unstructured.Unstructured) (*T, error) {
	var out T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &out); err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", obj.GetKind(), objectID(obj), err)
	}
	return &out, nil
}

// jobReady mirrors provider/pkg/await/job.go and
// provider/pkg/await/checker/job/check.go: a Job is ready when it has
// started and has condition Complete=True; it fails at once only on
// Failed=True with reason BackoffLimitExceeded or DeadlineExceeded (any other
// failure waits for the timeout, as upstream does).
func jobReady(_ context.Context, live *unstructured.Unstructured) (bool, string, error) {
	job, err := convert[batchv1.Job](live)
	if err != nil {
		return false, "", err
	}
	status := fmt.Sprintf("Waiting for Job %q to succeed (Active: %d | Succeeded: %d | Failed: %d)",
		objectID(live), job.Status.Active, job.Status.Succeeded, job.Status.Failed)
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch {
		case c.Type == batchv1.JobComplete && job.Status.StartTime != nil:
			return true, status, nil
		case c.Type == batchv1.JobFailed && (c.Reason == batchv1.JobReasonBackoffLimitExceeded || c.Reason == batchv1.JobReasonDeadlineExceeded):
			return false, status, fmt.Errorf("Job %q failed: [%s] %s", objectID(live), c.Reason, c.Message)
		}
	}
	return false, status, nil
}

// jobComplete reads a Job and says whether it is Complete, for replaceUnready.
func (p *Provider) jobComplete(ctx context.Context, ns, name string) (bool, error) {
	c, err := p.client()
	if err != nil {
		return false, err
	}
	job, err := c.typed.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	for _, cond := range job.Status.Conditions {
		if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
			return true, nil
		}
	}
	return false, nil
}

// deploymentReady mirrors provider/pkg/await/deployment.go: the controller
// has observed the current generation; the revision annotation names a
// ReplicaSet owned by the Deployment whose ready replicas match its own
// spec.replicas; Available=True; and, past the first revision,
// Progressing=True with reason NewReplicaSetAvailable. A Progressing=False
// condition is only reported, as upstream does.
func (p *Provider) deploymentReady(ctx context.Context, live *unstructured.Unstructured) (bool, string, error) {
	d, err := convert[appsv1.Deployment](live)
	if err != nil {
		return false, "", err
	}
	name := objectID(live)
	if d.Status.ObservedGeneration < d.Generation {
		return false, fmt.Sprintf("Waiting for the Deployment %q controller to observe generation %d", name, d.Generation), nil
	}
	revision := d.Annotations["deployment.kubernetes.io/revision"]
	conds := map[appsv1.DeploymentConditionType]appsv1.DeploymentCondition{}
	for _, c := range d.Status.Conditions {
		conds[c.Type] = c
	}
	if c, ok := conds[appsv1.DeploymentProgressing]; ok && c.Status == corev1.ConditionFalse {
		return false, fmt.Sprintf("Deployment %q is not progressing: [%s] %s", name, c.Reason, c.Message), nil
	}
	if c := conds[appsv1.DeploymentAvailable]; c.Status != corev1.ConditionTrue {
		return false, fmt.Sprintf("Waiting for Deployment %q to become available", name), nil
	}
	if rev, _ := strconv.Atoi(revision); rev > 1 {
		if c := conds[appsv1.DeploymentProgressing]; c.Status != corev1.ConditionTrue || c.Reason != "NewReplicaSetAvailable" {
			return false, fmt.Sprintf("Waiting for the new ReplicaSet of Deployment %q to become available", name), nil
		}
	}
	c, err := p.client()
	if err != nil {
		return false, "", err
	}
	sets, err := c.typed.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, fmt.Sprintf("Waiting for the ReplicaSets of Deployment %q", name), nil
	}
	for _, rs := range sets.Items {
		if !metav1.IsControlledBy(&rs, d) || rs.Annotations["deployment.kubernetes.io/revision"] != revision {
			continue
		}
		want := int32(1)
		if rs.Spec.Replicas != nil {
			want = *rs.Spec.Replicas
		}
		if rs.Status.ReadyReplicas >= want {
			return true, "", nil
		}
		return false, fmt.Sprintf("Waiting for Deployment %q rollout to finish: %d of %d updated replicas are ready", name, rs.Status.ReadyReplicas, want), nil
	}
	return false, fmt.Sprintf("Waiting for the ReplicaSet of revision %s of Deployment %q", revision, name), nil
}

// serviceReady mirrors provider/pkg/await/service.go: a Service that selects
// pods is ready once at least one of them is a ready endpoint; one with no
// selector, or of type ExternalName, is ready at once.
func (p *Provider) serviceReady(ctx context.Context, live *unstructured.Unstructured) (bool, string, error) {
	svc, err := convert[corev1.Service](live)
	if err != nil {
		return false, "", err
	}
	if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return true, "", nil
	}
	c, err := p.client()
	if err != nil {
		return false, "", err
	}
	status := fmt.Sprintf("Waiting for Service %q to target a ready pod", objectID(live))
	slices, err := c.typed.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + svc.Name,
	})
	if err != nil {
		return false, status, nil
	}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				return true, "", nil
			}
		}
	}
	return false, status, nil
}
