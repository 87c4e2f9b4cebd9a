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
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/chart"
	"github.com/pulumi-jobs/pulumi-jobs/infra/hook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
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
	// Digest is the SHA-256 of the release's inputs (digest): the chart's
	// content and values, its image and its release id.
	Digest string
	// Hooks are the revisions at which each hook last ran (a Job) or was
	// applied (another object), by "Kind/name".
	Hooks map[string]int
	// Specs are the digests of each hook as it last ran or was applied
	// (hookSpec), by "Kind/name": with rerun onChange a hook runs again
	// only when its digest differs. Empty in a record written before 0.4.
	Specs map[string]string
	// DeleteEvents are the delete events (pre-delete, post-delete) the
	// chart has hooks for, whose DeleteHooks resources the release
	// registered: the next release registers them too, empty if the chart
	// dropped its hooks, so that an up never runs them.
	DeleteEvents []string
}

// The annotations of a Record.
const (
	RecordRevisionAnnotation = "pulumi-jobs/revision"
	RecordDigestAnnotation   = "pulumi-jobs/digest"
	RecordHooksAnnotation    = "pulumi-jobs/hooks"
	RecordSpecsAnnotation    = "pulumi-jobs/hook-specs"
	// RecordDeleteEventsAnnotation lists Record.DeleteEvents, comma-separated;
	// absent when there are none.
	RecordDeleteEventsAnnotation = "pulumi-jobs/delete-hooks"
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
	r := &Record{Revision: rev, Digest: live.Annotations[RecordDigestAnnotation], Hooks: map[string]int{}, Specs: map[string]string{}}
	if h := live.Annotations[RecordHooksAnnotation]; h != "" {
		if err := json.Unmarshal([]byte(h), &r.Hooks); err != nil {
			return nil, fmt.Errorf("annotation %s: %w", RecordHooksAnnotation, err)
		}
	}
	if s := live.Annotations[RecordSpecsAnnotation]; s != "" {
		if err := json.Unmarshal([]byte(s), &r.Specs); err != nil {
			return nil, fmt.Errorf("annotation %s: %w", RecordSpecsAnnotation, err)
		}
	}
	if e := live.Annotations[RecordDeleteEventsAnnotation]; e != "" {
		r.DeleteEvents = strings.Split(e, ",")
	}
	return r, nil
}

// annotations are the record as the ConfigMap's annotations.
func (r Record) annotations() map[string]string {
	hooks, _ := json.Marshal(r.Hooks) // a map of strings to ints always encodes, keys sorted
	specs, _ := json.Marshal(r.Specs) // and so does a map of strings
	ann := map[string]string{
		RecordRevisionAnnotation: strconv.Itoa(r.Revision),
		RecordDigestAnnotation:   r.Digest,
		RecordHooksAnnotation:    string(hooks),
		RecordSpecsAnnotation:    string(specs),
	}
	if len(r.DeleteEvents) > 0 {
		ann[RecordDeleteEventsAnnotation] = strings.Join(r.DeleteEvents, ",")
	}
	return ann
}

// digest is the SHA-256 of the inputs of a release of a chart: the chart's
// content and values (chart.Rendered.InputDigest), its image and its
// release id, as Flux's helm-controller decides an upgrade from chart and
// values. What the chart renders does not count: a chart that renders a
// random value (genCA, randAlphaNum, now) is not an upgrade on every up.
// It is empty when the release id is not known yet (a preview of an id
// from another resource): such a release counts as changed.
func digest(r chart.Rendered, args *Args) string {
	id, known := releaseID(args)
	if !known {
		return ""
	}
	image, _ := vocab.Literal(args.Image)
	b, err := json.Marshal(struct{ Inputs, Image, Release string }{r.InputDigest, image, id})
	if err != nil {
		return "" // strings always encode
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// releaseID is the release id of args ("" when it has none), and whether
// it is known yet (not an output of another resource, in a preview).
func releaseID(args *Args) (string, bool) {
	if args.ReleaseID == nil {
		return "", true
	}
	return vocab.Literal(args.ReleaseID)
}

// renderDigest is the digest a record written before 0.4 holds: the
// SHA-256 of every object (crds/ among them) and hook the chart rendered (a
// test Pod without its name, often random), its image and its release id.
// Read only to tell that such a record's release is unchanged.
func renderDigest(r chart.Rendered, args *Args) string {
	id, known := releaseID(args)
	if !known {
		return ""
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
	slices.SortFunc(hooks, func(a, b entry) int { return cmp.Compare(a.Source, b.Source) })
	b, err := json.Marshal(struct {
		App            []chart.Object
		Hooks          []entry
		Image, Release string
	}{slices.Concat(r.CRDs, r.App), hooks, image, id})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// hookSpec is a digest (the first 8 bytes of a SHA-256, in hex) of a hook
// as it runs (a test Pod without its name, often random; the release image
// where its repository matches) and of the release id: what a hook that
// runs on its own change (rerun onChange) compares with its last run.
func hookSpec(h hook.Hook, args *Args) string {
	id, _ := vocab.Literal(args.ReleaseID)
	var obj map[string]any
	if b, err := json.Marshal(h.Object); err != nil || json.Unmarshal(b, &obj) != nil {
		return "" // a rendered hook always encodes
	}
	if meta, ok := obj["metadata"].(map[string]any); ok && h.Kind == "Pod" {
		delete(meta, "name")
	}
	if image, _ := vocab.Literal(args.Image); image != "" {
		// As the hook runs: with the release image where its repository
		// matches (planHooks), so that a bump runs only the hooks it reaches.
		manifest.SetImage([]manifest.Object{{Obj: obj}}, image)
	}
	b, err := json.Marshal(struct {
		Object  map[string]any
		Release string
	}{obj, id})
	if err != nil {
		return "" // a decoded object always encodes
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// registerRecord registers the chart's record, once every phase of the
// release has succeeded (opts depend on them): the next release of the
// chart is an upgrade from this one. A release that fails or is
// interrupted before leaves the last record as it was, so the next one
// plans the same release again, and runs what did not complete.
//
// It takes the fields of the record in the cluster with patchForce: a
// destroy that stopped half-way (a failing hook, an object that would not
// go) may have dropped the record from the stack's state, as the
// namespace it is deleted with was to go, and left it in the cluster,
// where the next up, an upgrade, writes it again.
func registerRecord(ctx *pulumi.Context, name string, plan Plan, namespace pulumi.StringInput, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
	ann := plan.MarksOf(recordRef(nsOf(plan.Args), plan.App.Name))
	maps.Copy(ann, plan.record.annotations())
	ann[AnnotationPatchForce] = "true"
	res, err := corev1.NewConfigMap(ctx, name+"-chart-record", &corev1.ConfigMapArgs{
		Metadata: metav1.ObjectMetaArgs{
			Name:        pulumi.String(RecordName(plan.App.Name)),
			Namespace:   namespace,
			Labels:      pulumi.StringMap{vocab.LabelPartOf: pulumi.String(plan.App.Name), vocab.LabelManagedBy: pulumi.String("pulumi")},
			Annotations: pulumi.ToStringMap(ann),
		},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("registering the chart record of release %q: %w", name, err)
	}
	return res, nil
}
