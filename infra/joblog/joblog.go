// Package joblog reads what a Job's pods printed, so that a Job's outcome
// outlives the Job when a delete policy removes it, and a failure report
// can quote it.
package joblog

import (
	"bytes"
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TailLines is how many of a pod's last log lines Tail reads.
const TailLines = 10

// Tail is the last TailLines lines of the first pod of Job job in namespace
// ns, quoted, or, in parentheses, why there are none.
func Tail(ctx context.Context, client kubernetes.Interface, ns, job string) string {
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
	if err != nil || len(pods.Items) == 0 {
		return "(no pod to read them from)"
	}
	lines := int64(TailLines)
	stream, err := client.CoreV1().Pods(ns).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{TailLines: &lines}).Stream(ctx)
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	defer stream.Close()
	b, err := io.ReadAll(io.LimitReader(stream, 8<<10))
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return fmt.Sprintf("%q", string(bytes.TrimSpace(b)))
}
