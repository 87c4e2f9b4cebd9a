// Package ownership keeps a release off objects it did not create.
//
// With server-side apply, the Kubernetes provider's create is an upsert: an
// object that already exists under the same name is adopted silently, and
// destroy then deletes it. So every object a release creates carries the
// annotation Annotation, whose value names the release (Owner: project,
// stack and release name), as Helm marks its objects with
// meta.helm.sh/release-name; and before anything is registered, Check looks
// every object the release would create up in the cluster and refuses each
// one that exists without that mark, unless the release opted in to adopt
// them (Helm's --take-ownership).
//
// The check runs while the release is planned, in preview and up alike and
// on every path (the driver, a plain `pulumi up` of a Go or YAML program,
// the component provider from any language). It reads the cluster at plan
// time, so an object created by someone else between the check and the
// provider's create is still adopted: the window is the length of one
// preview or up, and the mark tells such an object from ours on the next run.
package ownership

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"k8s.io/client-go/rest"
	"strings"
)

// Annotation marks an object with the release that created it.
const Annotation = "pulumi-jobs/owner"

// The marks other tools put on objects, read to say who owns a refused object.
const (
	helmReleaseName      = "meta.helm.sh/release-name"
	helmReleaseNamespace = "meta.helm.sh/release-namespace"
	labelManagedBy       = "app.kubernetes.io/managed-by"
)

// Owner returns the owner mark of the release name in the stack of the
// project: "<project>/<stack>/<name>".
func Owner(project, stack, name string) string {
	return project + "/" + stack + "/" + name
}

// Ref names an object a release would create.
type Ref struct {
	// APIVersion and Kind are the object's type ("apps/v1", "Deployment").
	APIVersion, Kind string
	// Namespace is empty for a cluster-scoped object.
	Namespace string
	// Name is the object's metadata.name.
	Name string
}

// String is how messages name the object: "Deployment shop/shop".
func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Live is what the cluster holds under a Ref: its metadata's marks.
type Live struct {
	// Annotations and Labels are the live object's.
	Annotations, Labels map[string]string
}

// Cluster is the cluster a release goes to, as the release reads it
// before it creates anything.
type Cluster interface {
	// Lookup returns the live object ref names, or nil when there is none.
	Lookup(ctx context.Context, ref Ref) (*Live, error)
	// RESTConfig is the client configuration a chart's `lookup` reads the
	// cluster with; nil when the cluster cannot answer it (a test's fake).
	RESTConfig() *rest.Config
}

// Claim is an object that exists and that the release did not create.
type Claim struct {
	// Ref is the object.
	Ref Ref
	// Holder says who holds it, as far as its marks tell.
	Holder string
}

// String names the object and its holder.
func (c Claim) String() string { return c.Ref.String() + " (" + c.Holder + ")" }

// Error is a refusal: objects the release would take over.
type Error struct {
	// Release is the refusing release's owner mark.
	Release string
	// Claims are the objects, in the order the release would create them.
	Claims []Claim
	// Adopting says that the release adopts, and the claims are held by
	// other releases of pulumi-jobs that it does not name (Adoption.From).
	Adopting bool
}

// Error names every object and its holder, says that nothing was changed and
// how to go on.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "release %s would take over %d object(s) that exist in the cluster and that it did not create:\n", e.Release, len(e.Claims))
	for _, c := range e.Claims {
		fmt.Fprintf(&b, "  - %s\n", c)
	}
	b.WriteString("Nothing was changed: no object was created, relabelled or deleted, and no Job ran.\n")
	if e.Adopting {
		b.WriteString("Fix: adopt takes over objects of Helm, kubectl or an unmarked stack, not those another release of pulumi-jobs holds " +
			"(it may be live, and its next up would take them back); release under other names, or, to move them from that release on purpose, " +
			"set adoptFrom to its owner mark as listed (stack config: pulumi config set adoptFrom <project>/<stack>/<release>)")
		return b.String()
	}
	b.WriteString("Fix: release into another namespace or under other names; or, to move these objects into this release on purpose " +
		"(from Helm, kubectl or another stack), set adopt to true for this release " +
		"(stack config: pulumi config set adopt true): they are then marked as its own, and its destroy deletes them")
	return b.String()
}

// ErrNoCluster means that no cluster is configured at all: no kubeconfig and
// not in a pod. The Kubernetes provider cannot create anything then either.
var ErrNoCluster = errors.New("no Kubernetes cluster is configured")

// Adoption says what a release takes over.
type Adoption struct {
	// Enabled takes over objects that exist without the release's mark
	// (adopt: true, Helm's --take-ownership).
	Enabled bool
	// From is the owner mark of another release of pulumi-jobs whose
	// objects Enabled takes over too; the objects of any other release of
	// pulumi-jobs are refused even when Enabled (adoptFrom).
	From string
}

// Check looks up each of refs in cluster and returns the claims: the objects
// that exist without owner's mark. Unless adoption is enabled, any claim is
// an *Error listing all of them; with it, they are returned for the caller
// to announce, except claims held by another release of pulumi-jobs that
// adoption.From does not name: those are an *Error (Adopting) on their own.
// A cluster that cannot be read is an error too: nothing may be created
// unchecked.
func Check(ctx context.Context, cluster Cluster, owner string, refs []Ref, adoption Adoption) ([]Claim, error) {
	var claims, others []Claim
	seen := map[Ref]bool{}
	for _, ref := range refs {
		if ref.Name == "" || seen[ref] {
			continue // auto-named: a fresh name never collides
		}
		seen[ref] = true
		live, err := cluster.Lookup(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("checking %s in the cluster before release %s creates it (nothing was changed): %w", ref, owner, err)
		}
		if live == nil || live.Annotations[Annotation] == owner {
			continue
		}
		c := Claim{Ref: ref, Holder: holder(live)}
		claims = append(claims, c)
		if o := live.Annotations[Annotation]; o != "" && o != adoption.From {
			others = append(others, c)
		}
	}
	switch {
	case len(claims) > 0 && !adoption.Enabled:
		return claims, &Error{Release: owner, Claims: claims}
	case len(others) > 0:
		return claims, &Error{Release: owner, Claims: others, Adopting: true}
	}
	return claims, nil
}

// holder says who holds a live object, from its marks.
func holder(l *Live) string {
	if o := l.Annotations[Annotation]; o != "" {
		return "owned by release " + o
	}
	if r := l.Annotations[helmReleaseName]; r != "" {
		return "owned by Helm release " + strings.TrimPrefix(cmp.Or(l.Annotations[helmReleaseNamespace], "?")+"/"+r, "/")
	}
	if m := l.Labels[labelManagedBy]; m != "" {
		return "managed by " + m + ", owner unknown"
	}
	return "owner unknown"
}
