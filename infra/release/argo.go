package release

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi-jobs/pulumi-jobs/infra/chart"
	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// Argo CD's annotations on a resource hook.
const (
	argoHook     = "argocd.argoproj.io/hook"
	argoSyncWave = "argocd.argoproj.io/sync-wave"
)

// argoHooks splits the objects of app.manifests into the app's objects and
// the Argo CD resource hooks among them, which become phases as a chart's
// hooks do (planHooks): PreSync → pre-deploy, PostSync → post-deploy, their
// sync-waves in ascending order → waves. A hook Argo CD runs on every sync
// runs again when its spec or the release id changes. Hooks of other
// phases (Sync, Skip, SyncFail, PreDelete, PostDelete) are not run: each is
// a warning. Argo CD's hook-delete-policy needs nothing of ours, as Helm's
// does not (see planChart).
func argoHooks(p *check.Problems, objs []manifest.Object) (app []manifest.Object, pre, post []chart.Hook, warnings []string) {
	for _, o := range objs {
		meta, _ := o.Obj["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		value, isHook := ann[argoHook].(string)
		if !isHook {
			app = append(app, o)
			continue
		}
		h := chart.Hook{Source: o.Source, Object: o.Obj, Kind: manifest.Kind(o), Name: manifest.Name(o)}
		if h.Name == "" {
			// Argo CD's hooks are often generateName'd, a new Job per sync.
			gen, _ := meta["generateName"].(string)
			h.Name = strings.TrimSuffix(gen, "-")
		}
		if w, ok := ann[argoSyncWave].(string); ok {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil {
				p.Add("app.manifests", "%s: %s %q is not a whole number: write one such as \"-1\"", o, argoSyncWave, w)
			}
			h.Weight = n
		}
		var skipped []string
		for _, phase := range strings.Split(value, ",") {
			switch phase = strings.TrimSpace(phase); phase {
			case "PreSync":
				// Argo CD runs it on every sync, so it runs again, as a
				// Helm hook of both install and upgrade would.
				h.Events = []string{"pre-install", "pre-upgrade"}
				pre = append(pre, h)
			case "PostSync":
				h.Events = []string{"post-install", "post-upgrade"}
				post = append(post, h)
			default:
				skipped = append(skipped, phase)
			}
		}
		if len(skipped) > 0 {
			warnings = append(warnings, fmt.Sprintf("Argo CD %s hook %s is not run: pulumi-jobs runs PreSync and PostSync hooks only",
				strings.Join(skipped, ","), o))
		}
	}
	// As Argo CD orders them: by sync-wave, then kind (a ConfigMap before
	// the Job that reads it), then name.
	order := func(a, b chart.Hook) int {
		return cmp.Or(cmp.Compare(a.Weight, b.Weight), cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)), strings.Compare(a.Name, b.Name))
	}
	slices.SortStableFunc(pre, order)
	slices.SortStableFunc(post, order)
	return app, pre, post, warnings
}

// kindRank puts a Job or Pod hook after the other hook objects.
func kindRank(kind string) int {
	if kind == "Job" || kind == "Pod" {
		return 1
	}
	return 0
}

// hasReleaseID reports whether the release has an id, so that hooks run
// again for each new one (onRelease).
func hasReleaseID(args *Args) bool {
	_, literal := vocab.Literal(args.ReleaseID)
	return literal || args.ReleaseID != nil
}
