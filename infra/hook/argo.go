package hook

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
)

// Argo CD's annotations on a resource hook.
const (
	// ArgoCDAnnotation marks a resource hook and names its phases
	// ("PreSync", "PostSync,SyncFail").
	ArgoCDAnnotation = "argocd.argoproj.io/hook"
	// ArgoCDSyncWaveAnnotation orders hooks, and resources, in waves.
	ArgoCDSyncWaveAnnotation = "argocd.argoproj.io/sync-wave"
)

// ArgoCD is the reader of Argo CD's hooks: it splits the objects of the
// app's files into the app's objects and the Argo CD resource hooks among
// them, read as the Helm hooks that run when Argo CD runs them, so that a
// release runs them in its phases as it runs a chart's: PreSync →
// pre-deploy, PostSync → post-deploy, their sync-waves in ascending order →
// waves. Problems are reported under key. (A release runs such a hook,
// which Argo CD runs on every sync, again when its spec or the release id
// changes.) Hooks of other phases (Sync, Skip, SyncFail, PreDelete,
// PostDelete) are not run: each is a warning. Argo CD's hook-delete-policy
// needs nothing of ours, as Helm's does not (see the release package's
// planChart).
func ArgoCD(p *check.Problems, key string, objs []manifest.Object) (app []manifest.Object, pre, post []Hook, warnings []string) {
	for _, o := range objs {
		meta, _ := o.Obj["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		value, isHook := ann[ArgoCDAnnotation].(string)
		if !isHook {
			app = append(app, o)
			continue
		}
		h := Hook{Source: o.Source, Object: o.Obj, Kind: manifest.Kind(o), Name: manifest.Name(o)}
		if h.Name == "" {
			// Argo CD's hooks are often generateName'd, a new Job per sync.
			gen, _ := meta["generateName"].(string)
			h.Name = strings.TrimSuffix(gen, "-")
		}
		if w, ok := ann[ArgoCDSyncWaveAnnotation].(string); ok {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil {
				p.Add(key, "%s: %s %q is not a whole number: write one such as \"-1\"", o, ArgoCDSyncWaveAnnotation, w)
			}
			h.Weight = n
		}
		var skipped []string
		for _, phase := range strings.Split(value, ",") {
			switch phase = strings.TrimSpace(phase); phase {
			case "PreSync":
				// Argo CD runs it on every sync, so it runs again, as a
				// Helm hook of both install and upgrade would.
				h.Events = []string{PreInstall, PreUpgrade}
				pre = append(pre, h)
			case "PostSync":
				h.Events = []string{PostInstall, PostUpgrade}
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
	order := func(a, b Hook) int {
		return cmp.Or(cmp.Compare(a.Weight, b.Weight), cmp.Compare(kindRank(a), kindRank(b)), strings.Compare(a.Name, b.Name))
	}
	slices.SortStableFunc(pre, order)
	slices.SortStableFunc(post, order)
	return app, pre, post, warnings
}

// kindRank puts a hook that runs as a Job after the other hook objects.
func kindRank(h Hook) int {
	if h.RunsAsJob() {
		return 1
	}
	return 0
}
