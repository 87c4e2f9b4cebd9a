package release

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/chart"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// Record is what the last completed release of a chart left in the
// cluster, as Helm keeps its release Secret there: a ConfigMap named
// RecordName(app) in the release's namespace, written once every phase of
// the release has succeeded. Its existence makes the next release an
// upgrade; its digest tells an up that changes the release from one that
// does not. Everything is in the ConfigMap's annotations, so that the
// release reads it with the same metadata lookup as its ownership check.
type Record struct {
	// Revision counts the releases that changed something: 1 for the
	// install, one more for each upgrade that changed the release.
	Revision int
	// Digest is the SHA-256 of what the release rendered (every object and
	// hook of the chart), its image and its release id.
	Digest string
	// Hooks are the revisions at which each hook last ran (a Job) or was
	// applied (another object), by "Kind/name".
	Hooks map[string]int
}

// The annotations of a Record.
const (
	RecordRevisionAnnotation = "pulumi-jobs/revision"
	RecordDigestAnnotation   = "pulumi-jobs/digest"
	RecordHooksAnnotation    = "pulumi-jobs/hooks"
)

// RecordName is the name of the ConfigMap that records the releases of the
// chart of app.
func RecordName(app string) string { return "pulumi-jobs.chart." + app }

// recordRef names the record of the app in namespace ns.
func recordRef(ns, app string) ownership.Ref {
	return ownership.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: RecordName(app)}
}

// readRecord reads a record from the live object's annotations; nil when
// there is no object.
func readRecord(live *ownership.Live) (*Record, error) {
	if live == nil {
		return nil, nil
	}
	rev, err := strconv.Atoi(live.Annotations[RecordRevisionAnnotation])
	if err != nil || rev < 1 {
		return nil, fmt.Errorf("annotation %s is %q, not a revision", RecordRevisionAnnotation, live.Annotations[RecordRevisionAnnotation])
	}
	r := &Record{Revision: rev, Digest: live.Annotations[RecordDigestAnnotation], Hooks: map[string]int{}}
	if h := live.Annotations[RecordHooksAnnotation]; h != "" {
		if err := json.Unmarshal([]byte(h), &r.Hooks); err != nil {
			return nil, fmt.Errorf("annotation %s: %w", RecordHooksAnnotation, err)
		}
	}
	return r, nil
}

// annotations are the record as the ConfigMap's annotations.
func (r Record) annotations() map[string]string {
	hooks, _ := json.Marshal(r.Hooks) // a map of strings to ints always encodes, keys sorted
	return map[string]string{
		RecordRevisionAnnotation: strconv.Itoa(r.Revision),
		RecordDigestAnnotation:   r.Digest,
		RecordHooksAnnotation:    string(hooks),
	}
}

// digest is the SHA-256 of a release of a chart: every object and hook it
// rendered (a test Pod without its name, often random), its image and its
// release id. It is empty when the release id is not known yet (a preview
// of an id from another resource): such a release counts as changed.
func digest(r chart.Rendered, args *Args) string {
	var id string
	if args.ReleaseID != nil {
		var known bool
		if id, known = vocab.Literal(args.ReleaseID); !known {
			return ""
		}
	}
	image, _ := vocab.Literal(args.Image)
	type entry struct {
		Source string
		Object map[string]any
	}
	var hooks []entry
	for _, h := range slices.Concat(r.PreDeploy, r.PostDeploy, r.Idle) {
		obj := h.Object
		if meta, ok := obj["metadata"].(map[string]any); ok && h.Kind == "Pod" {
			obj, meta = maps.Clone(obj), maps.Clone(meta)
			delete(meta, "name")
			obj["metadata"] = meta
		}
		hooks = append(hooks, entry{h.Source + " " + h.Key(), obj})
	}
	// An install and an upgrade list the hooks in different phases: the
	// digest is of the set.
	slices.SortFunc(hooks, func(a, b entry) int { return cmp.Compare(a.Source, b.Source) })
	b, err := json.Marshal(struct {
		App            []chart.Object
		Hooks          []entry
		Image, Release string
	}{r.App, hooks, image, id})
	if err != nil {
		return "" // a rendered chart always encodes; if not, the release counts as changed
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// registerRecord registers the chart's record, once every phase of the
// release has succeeded (opts depend on them): the next release of the
// chart is an upgrade from this one. A release that fails or is
// interrupted before leaves the last record as it was, so the next one
// plans the same release again, and runs what did not complete.
func registerRecord(ctx *pulumi.Context, name string, plan Plan, namespace pulumi.StringInput, opts ...pulumi.ResourceOption) error {
	ann := plan.Marks()
	maps.Copy(ann, plan.record.annotations())
	_, err := corev1.NewConfigMap(ctx, name+"-chart-record", &corev1.ConfigMapArgs{
		Metadata: metav1.ObjectMetaArgs{
			Name:        pulumi.String(RecordName(plan.App.Name)),
			Namespace:   namespace,
			Labels:      pulumi.StringMap{vocab.LabelPartOf: pulumi.String(plan.App.Name), vocab.LabelManagedBy: pulumi.String("pulumi")},
			Annotations: pulumi.ToStringMap(ann),
		},
	}, opts...)
	if err != nil {
		return fmt.Errorf("registering the chart record of release %q: %w", name, err)
	}
	return nil
}
