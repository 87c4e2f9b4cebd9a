// Package hook is the one model of a hook that a release runs in its
// phases, whatever it comes from: Helm's hooks, as the chart package renders
// them, and Argo CD's resource hooks among the app's files, read by
// ArgoCD. Where a release runs a hook (Place) and whether it runs once
// (OnceOnly) are decided here for both.
package hook

import (
	"path"
	"slices"
	"strings"
)

// Hook is one hook object: a chart's, as Helm renders it, or an Argo CD
// resource hook among the app's files, read as the Helm hook that runs when
// Argo CD would run it.
type Hook struct {
	// Source is the template it came from, e.g. "shop/templates/migrate-job.yaml".
	Source string
	// Object is the rendered object, its hook annotations kept.
	Object map[string]any
	// Kind and Name are the object's kind and metadata.name.
	Kind, Name string
	// Events are the helm.sh/hook values as Helm reads them (trimmed, lower case, and Helm 2's
	// "test-success" read as "test"), e.g. ["pre-install", "pre-upgrade"].
	Events []string
	// Weight is helm.sh/hook-weight: 0 when absent; negative weights run first.
	Weight int
	// Runs is the phase this render's release runs the hook in: [Pre] or [Post], or [None]
	// when its events are all of the other kind of release (install or upgrade).
	Runs Phase
	// Home is Runs, or for a hook that this release does not run, the phase the other kind of
	// release runs it in.
	Home Phase
	// DeletePolicies are the helm.sh/hook-delete-policy values, e.g. ["before-hook-creation",
	// "hook-succeeded"]; empty when absent (Helm then applies before-hook-creation).
	DeletePolicies []string
}

// Phase is where a release runs a hook: before the app, after it, or not at all.
type Phase string

// The phases of a hook.
const (
	// None: this release does not run the hook.
	None Phase = ""
	// Pre: before the app, in the pre-deploy phase.
	Pre Phase = "pre-deploy"
	// Post: after the app, in the post-deploy phase.
	Post Phase = "post-deploy"
)

// Place says where a release runs a hook with events, as Helm does: on an install (upgrade
// false) pre-install before the app and post-install after it, on an upgrade pre-upgrade
// before and post-upgrade after; test after the app on both when tests is set. A hook with a
// pre and a post event of the same release (pre-install,post-install), which Helm runs twice,
// runs once, before the app: one Job runs once per release.
func Place(events []string, upgrade, tests bool) Phase {
	pre, post := PreInstall, PostInstall
	if upgrade {
		pre, post = PreUpgrade, PostUpgrade
	}
	switch {
	case slices.Contains(events, pre):
		return Pre
	case slices.Contains(events, post), tests && slices.Contains(events, Test):
		return Post
	}
	return None
}

// The hook events a release runs (the values of helm.sh/hook, Helm's
// release.HookEvent).
const (
	PreInstall  = "pre-install"
	PreUpgrade  = "pre-upgrade"
	PostInstall = "post-install"
	PostUpgrade = "post-upgrade"
	Test        = "test"
	// PreDelete and PostDelete hooks run on a release's destroy: before its
	// app's objects are deleted, and after.
	PreDelete  = "pre-delete"
	PostDelete = "post-delete"
)

// OnceOnly reports whether h runs on install only: it has a pre-install or post-install event
// and neither a pre-upgrade nor a post-upgrade one, so a release runs it once and never again.
// Test events are not counted.
func OnceOnly(h Hook) bool {
	install := slices.Contains(h.Events, PreInstall) || slices.Contains(h.Events, PostInstall)
	upgrade := slices.Contains(h.Events, PreUpgrade) || slices.Contains(h.Events, PostUpgrade)
	return install && !upgrade
}

// TestOnly reports whether h is a test hook and nothing else: `helm test`
// runs it after the release, so a release runs it after its other
// post-deploy hooks.
func TestOnly(h Hook) bool {
	return len(h.Events) > 0 && !slices.ContainsFunc(h.Events, func(e string) bool { return e != Test })
}

// RunsAsJob says whether a release runs the hook as a Job: a Job, or a
// test Pod, which it runs as a Job.
func (h Hook) RunsAsJob() bool { return h.Kind == "Job" || h.Kind == "Pod" }

// JobName is the name of the hook's Job in resource names, labels and
// reports: the hook's own, or for a test Pod, whose name is often random on
// every render, its template's file name.
func (h Hook) JobName() string {
	if h.Kind == "Pod" {
		return strings.TrimSuffix(path.Base(h.Source), path.Ext(h.Source))
	}
	return h.Name
}

// Key names the hook in a chart's record: its kind and Job name.
func (h Hook) Key() string { return h.Kind + "/" + h.JobName() }

// Annotation records, on a hook object we run, the hook it was: the
// helm.sh/hook value of a chart's hook ("pre-install,pre-upgrade"), or
// "argocd: " and the argocd.argoproj.io/hook value of an Argo CD hook.
const Annotation = "pulumi-jobs/hook"

// Mark replaces the hook annotations of a hook object, which we run
// ourselves, with Annotation: left on the object they would tell
// readers (and the Kubernetes provider, which warns that it does not run
// Helm hooks) that another tool runs it.
func Mark(obj map[string]any) {
	meta, _ := obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	var was string
	if v, ok := ann["helm.sh/hook"].(string); ok {
		was = v
	} else if v, ok := ann[ArgoCDAnnotation].(string); ok {
		was = "argocd: " + v
	} else {
		return
	}
	for k := range ann {
		if strings.HasPrefix(k, "helm.sh/hook") || strings.HasPrefix(k, ArgoCDAnnotation) || k == ArgoCDSyncWaveAnnotation {
			delete(ann, k)
		}
	}
	ann[Annotation] = was
}
