package release

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/helmstate"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// liveRuns returns the cluster name of the newest run of each hook Job of
// the release in namespace ns, by job name: the Jobs there with the app's
// part-of label, a job label and the release's owner mark.
func liveRuns(ctx context.Context, cfg *rest.Config, ns, owner, app string) (map[string]string, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("a client of the release's cluster: %w", err)
	}
	selector := fmt.Sprintf("%s=%s,%s", vocab.LabelPartOf, app, vocab.LabelJob)
	list, err := client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("cannot list the runs of the chart's hooks in namespace %s (%s) to keep the ones that ran (nothing was changed): %w", ns, selector, err)
	}
	out := map[string]string{}
	created := map[string]metav1.Time{}
	for _, job := range list.Items {
		name := job.Labels[vocab.LabelJob]
		if job.Annotations[ownership.Annotation] != owner {
			continue
		}
		if t, seen := created[name]; seen && !t.Before(&job.CreationTimestamp) {
			continue
		}
		out[name], created[name] = job.Name, job.CreationTimestamp
	}
	return out, nil
}

// ranSentence says which hook Jobs ran for an earlier revision and do not
// run now, as the record says: "ledger-seed ran for revision 1 (the
// record's fact; its Job is not run again)"; empty when there are none.
func (plan Plan) ranSentence() string {
	if len(plan.Ran) == 0 {
		return ""
	}
	parts := make([]string, len(plan.Ran))
	for i, r := range plan.Ran {
		parts[i] = fmt.Sprintf("%s ran for revision %d", r.Job, r.Revision)
		if r.Gone {
			parts[i] += " (its Job is gone)"
		}
	}
	return strings.Join(parts, ", ") + " (facts of the release's record: not run again)"
}

// specOfHelm is the spec a record taken over from Helm holds for a hook
// Helm ran: it matches no spec of ours.
const specOfHelm = "helm"

// takeOverHelm reads the latest deployed revision of the Helm release of
// the app's name in ns, for a release that adopts (adopt: true) and has no
// record of its own: the release continues it as an upgrade, revision N+1
// as Helm numbers it (after a failed revision too), with the upgrade hooks
// and .Release.IsUpgrade, so no install hook runs again; the hooks Helm
// ran successfully in that revision are recorded as run for it. A release
// whose latest revision is pending or being uninstalled is refused. Helm's
// own records (its Secrets) are left as they are. nil when Helm has no
// deployed release of that name there.
func takeOverHelm(ctx *pulumi.Context, name string, plan *Plan, config *rest.Config, ns string) (*Record, error) {
	app := plan.App.Name
	helm, err := helmstate.ForConfig(ctx.Context(), config, ns, app)
	if err != nil {
		return nil, fmt.Errorf("release %q adopts, and cannot read Helm's record of release %s/%s to continue it (nothing was changed): %w", name, ns, app, err)
	}
	if helm == nil {
		return nil, nil
	}
	if helm.Pending != nil && (strings.HasPrefix(helm.Pending.Status, "pending-") || helm.Pending.Status == "uninstalling") {
		return nil, fmt.Errorf("release %q would take over Helm release %s/%s, whose revision %d is %s (nothing was changed): "+
			"Helm refuses to upgrade it too; finish or roll back that Helm operation (helm rollback %s %d -n %s), then release again",
			name, ns, app, helm.Pending.Revision, helm.Pending.Status, app, helm.Revision, ns)
	}
	rec := &Record{Revision: helm.Next() - 1, Hooks: map[string]int{}, Specs: map[string]string{}}
	for _, h := range helm.Hooks {
		if h.LastRun == "Succeeded" {
			key := h.Kind + "/" + h.Name
			rec.Hooks[key] = helm.Revision
			// Helm's spec of it is not ours to compare: with rerun onChange
			// it runs on the upgrade, as Helm's upgrade would run it.
			rec.Specs[key] = specOfHelm
		}
	}
	msg := fmt.Sprintf("release %s takes over Helm release %s/%s at revision %d (chart %s %s) and continues it as an upgrade to revision %d: "+
		"its upgrade hooks run, no install hook runs again. Helm's history (the Secrets sh.helm.release.v1.%s.v*) is left as it is; "+
		"once the release is ours, retire it with: kubectl delete secret -n %s -l owner=helm,name=%s",
		name, ns, app, helm.Revision, helm.Chart, helm.ChartVersion, helm.Next(), app, ns, app)
	return rec, warn(ctx, msg)
}
