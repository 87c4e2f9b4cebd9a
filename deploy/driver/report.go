package driver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// LogTailLines is how many log lines the failure report shows per container.
const LogTailLines = 10

// FailedJob is a Job of the release that failed, with why.
type FailedJob struct {
	// Name is the Job's name in the cluster.
	Name string
	// ConfigName is the job's name in the stack config.
	ConfigName string
	// Phase and Wave place the Job in the release.
	Phase, Wave string
	// Reason and Message are those of the Job's Failed condition.
	Reason, Message string
	// Containers are the failed containers of the Job's pods.
	Containers []FailedContainer
}

// FailedContainer is a container of a Job's pod that terminated with an error.
type FailedContainer struct {
	// Pod and Container name it.
	Pod, Container string
	// Reason, ExitCode and Message are from its terminated state.
	Reason   string
	ExitCode int32
	Message  string
	// Log holds the last lines of its log; LogError says why there are none.
	Log      []string
	LogError string
}

// Namespace returns the release's namespace from the stack config.
func (d *Driver) Namespace(ctx context.Context) (string, error) {
	stack := d.stack
	v, err := stack.GetConfig(ctx, config.Key(config.KeyNamespace))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", config.Key(config.KeyNamespace), err)
	}
	return v.Value, nil
}

// FailedJobs returns the release's Jobs that failed since the given time,
// read from the cluster after the engine has returned (the program itself
// never talks to the cluster).
func (d *Driver) FailedJobs(ctx context.Context, since time.Time) ([]FailedJob, error) {
	ns, err := d.Namespace(ctx)
	if err != nil {
		return nil, err
	}
	c, err := d.kubeClient()
	if err != nil {
		return nil, err
	}
	jobs, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: vocab.LabelJob})
	if err != nil {
		return nil, fmt.Errorf("listing the Jobs of %s: %w", ns, err)
	}
	var out []FailedJob
	for _, j := range jobs.Items {
		cond := failedCondition(j)
		if cond == nil || cond.LastTransitionTime.Time.Before(since.Add(-time.Second)) {
			continue
		}
		f := FailedJob{
			Name: j.Name, ConfigName: j.Labels[vocab.LabelJob], Phase: j.Labels[vocab.LabelPhase], Wave: j.Labels[vocab.LabelWave],
			Reason: cond.Reason, Message: cond.Message,
		}
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + j.Name})
		if err != nil {
			return nil, fmt.Errorf("listing the pods of Job %s: %w", j.Name, err)
		}
		sort.Slice(pods.Items, func(a, b int) bool { return pods.Items[a].CreationTimestamp.Before(&pods.Items[b].CreationTimestamp) })
		for _, p := range pods.Items {
			for _, s := range p.Status.ContainerStatuses {
				t := s.State.Terminated
				if t == nil || t.ExitCode == 0 {
					continue
				}
				fc := FailedContainer{Pod: p.Name, Container: s.Name, Reason: t.Reason, ExitCode: t.ExitCode, Message: t.Message}
				fc.Log, err = logTail(ctx, c.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{
					Container: s.Name, TailLines: new(int64(LogTailLines)),
				}).Stream)
				if err != nil {
					fc.LogError = err.Error()
				}
				f.Containers = append(f.Containers, fc)
			}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

func failedCondition(j batchv1.Job) *batchv1.JobCondition {
	for i, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func logTail(ctx context.Context, open func(context.Context) (io.ReadCloser, error)) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r, err := open(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, nil
}

// WriteFailureReport prints the failed Jobs for the person deploying.
func WriteFailureReport(w io.Writer, ns string, jobs []FailedJob) {
	if len(jobs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFailed Jobs in namespace %s:\n", ns)
	for _, j := range jobs {
		fmt.Fprintf(w, "\n  %s — %s job %q, wave %s\n", j.Name, j.Phase, j.ConfigName, j.Wave)
		fmt.Fprintf(w, "    %s: %s\n", j.Reason, j.Message)
		for _, c := range j.Containers {
			fmt.Fprintf(w, "    pod %s, container %s: %s, exit code %d", c.Pod, c.Container, c.Reason, c.ExitCode)
			if c.Message != "" {
				fmt.Fprintf(w, ": %s", c.Message)
			}
			fmt.Fprintln(w)
			switch {
			case c.LogError != "":
				fmt.Fprintf(w, "      (no log: %s)\n", c.LogError)
			case len(c.Log) > 0:
				fmt.Fprintf(w, "      last %d log line(s):\n", len(c.Log))
				for _, l := range c.Log {
					fmt.Fprintf(w, "      | %s\n", l)
				}
			}
		}
		fmt.Fprintf(w, "    the same with kubectl: kubectl -n %s describe pods -l %s=%s && kubectl -n %s logs -l %s=%s --prefix --tail=%d\n",
			ns, batchv1.JobNameLabel, j.Name, ns, batchv1.JobNameLabel, j.Name, LogTailLines)
	}
}
