package driver

import (
	"context"
	"fmt"
	"io"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeClient returns a client for the driver's cluster (the --kubeconfig,
// else $KUBECONFIG and ~/.kube/config). The driver talks to the cluster only
// to recover from interrupted runs; the program never does.
func (d *Driver) kubeClient() (kubernetes.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if d.opts.Kubeconfig != "" {
		rules.ExplicitPath = d.opts.Kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	// client-go's default client-side limit (5 requests a second after a
	// burst of 10) would make the failure report of a wave of failed Jobs
	// (a list and the logs of each pod) wait 200 ms a request: the API
	// server has its own limits.
	cfg.QPS, cfg.Burst = 50, 100
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a Kubernetes client: %w", err)
	}
	return c, nil
}

// waitForJob waits until the Job has completed or failed and says which;
// "" when the Job does not exist.
func waitForJob(ctx context.Context, c kubernetes.Interface, ns, name string, progress io.Writer) (string, error) {
	announced := false
	for {
		job, err := c.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("reading Job %s/%s: %w", ns, name, err)
		}
		for _, cond := range job.Status.Conditions {
			if cond.Status != corev1.ConditionTrue {
				continue
			}
			switch cond.Type {
			case batchv1.JobComplete:
				return "completed", nil
			case batchv1.JobFailed:
				return "failed (" + cond.Reason + ")", nil
			}
		}
		if !announced {
			fmt.Fprintf(progress, "recovery: waiting for Job %s/%s, started by an interrupted run, to finish\n", ns, name)
			announced = true
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for Job %s/%s: %w", ns, name, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
