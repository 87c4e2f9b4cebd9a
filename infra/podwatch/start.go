package podwatch

import (
	"context"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// MaxWatch bounds a watch, should the program's context outlive its up.
const MaxWatch = 3 * time.Hour

// Start watches, in the background and for as long as the program (or the
// component provider's construct) runs, the pods of the application partOf
// (label app.kubernetes.io/part-of) in namespace on the cluster of cfg:
// a Job whose pod cannot start is failed at once and the failure is logged
// as an error on the stack, naming the Job, the pod, the reason and the
// kubelet's message. It does nothing in a preview, under Pulumi's mocks (no
// Job is awaited there), without a cluster (cfg nil) or without a
// namespace.
func Start(ctx *pulumi.Context, cfg *rest.Config, namespace, partOf string) {
	if ctx.DryRun() || ctx.RunningWithMocks() || cfg == nil || namespace == "" || partOf == "" {
		return
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 10 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		_ = ctx.Log.Warn("cannot watch the release's pods for ones that cannot start: "+err.Error(), nil)
		return
	}
	wctx, cancel := context.WithTimeout(ctx.Context(), MaxWatch)
	go func() {
		defer cancel()
		Watch(wctx, client, Options{
			Namespace: namespace,
			Selector:  "app.kubernetes.io/part-of=" + partOf,
			Report: func(f Failure) {
				if f.Job == "" {
					// A StatefulSet's or a bare pod: its owner's await
					// decides; this only tells why it waits.
					_ = ctx.Log.Warn(f.String(), nil)
					return
				}
				_ = ctx.Log.Error(f.String()+"; the Job is failed now instead of at its timeout", nil)
			},
		})
	}()
}
