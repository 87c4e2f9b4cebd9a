package standin

import (
	"context"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// forceNew lists, per kind, the property paths whose change replaces the
// object. It mirrors the forceNew table of pulumi-kubernetes
// provider/pkg/provider/diff.go (var job: batch Job), plus the name and
// namespace that force a replacement of every kind.
func forceNew(kind string) []string {
	paths := []string{"metadata.name", "metadata.namespace"}
	if kind == "Job" {
		paths = append(paths, "spec.completions", "spec.parallelism", "spec.selector", "spec.template")
	}
	return paths
}

// change is one leaf difference between old and new inputs.
type change struct {
	path string
	kind pulumirpc.PropertyDiff_Kind
}

// diffInputs compares old and new inputs leaf by leaf, as the real provider
// compares the last inputs it applied with the new ones (client-side, from
// state: provider/pkg/provider/provider.go Diff). An unknown new value counts
// as a change.
func diffInputs(olds, news resource.PropertyMap) []change {
	var out []change
	walk(resource.PropertyPath{}, resource.NewProperty(olds), resource.NewProperty(news), &out)
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func walk(path resource.PropertyPath, o, n resource.PropertyValue, out *[]change) {
	if o.IsSecret() {
		o = o.SecretValue().Element
	}
	if n.IsSecret() {
		n = n.SecretValue().Element
	}
	switch {
	case n.IsComputed() || (n.IsOutput() && !n.OutputValue().Known):
		*out = append(*out, change{path.String(), pulumirpc.PropertyDiff_UPDATE})
	case o.IsObject() && n.IsObject():
		om, nm := o.ObjectValue(), n.ObjectValue()
		keys := map[resource.PropertyKey]bool{}
		for k := range om {
			keys[k] = true
		}
		for k := range nm {
			keys[k] = true
		}
		for k := range keys {
			ov, inOld := om[k]
			nv, inNew := nm[k]
			p := append(slices.Clone(path), string(k))
			switch {
			case !inOld || ov.IsNull():
				if inNew && !nv.IsNull() {
					*out = append(*out, change{p.String(), pulumirpc.PropertyDiff_ADD})
				}
			case !inNew || nv.IsNull():
				*out = append(*out, change{p.String(), pulumirpc.PropertyDiff_DELETE})
			default:
				walk(p, ov, nv, out)
			}
		}
	case o.IsArray() && n.IsArray() && len(o.ArrayValue()) == len(n.ArrayValue()):
		for i := range o.ArrayValue() {
			walk(append(slices.Clone(path), i), o.ArrayValue()[i], n.ArrayValue()[i], out)
		}
	default:
		if !reflect.DeepEqual(plain(o), plain(n)) {
			*out = append(*out, change{path.String(), pulumirpc.PropertyDiff_UPDATE})
		}
	}
}

// underAny reports whether path is prefix or lies under one of prefixes.
func underAny(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

// Diff mirrors provider/pkg/provider/provider.go Diff: a detailed, leaf-level
// diff of the inputs; replacement on the forceNew paths; a replacement of a
// Job annotated pulumi.com/replaceUnready that is not Complete in the cluster;
// and delete-before-replace only for an object with a fixed name (not
// autonamed) whose name and namespace stay the same.
func (p *Provider) Diff(ctx context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	oldInputs := req.GetOldInputs()
	if oldInputs == nil {
		oldInputs = req.GetOlds()
	}
	olds, err := unmarshal(oldInputs, "old inputs")
	if err != nil {
		return nil, err
	}
	oldState, err := unmarshal(req.GetOlds(), "old state")
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "new inputs")
	if err != nil {
		return nil, err
	}
	kind := ""
	if v, ok := news["kind"]; ok && v.IsString() {
		kind = v.StringValue()
	}

	detailed := map[string]*pulumirpc.PropertyDiff{}
	var replaces []string
	for _, c := range diffInputs(olds, news) {
		k := c.kind
		if underAny(c.path, forceNew(kind)) {
			k = replaceKind(k)
			replaces = append(replaces, c.path)
		}
		detailed[c.path] = &pulumirpc.PropertyDiff{Kind: k, InputDiff: true}
	}

	// replaceUnready (provider/pkg/provider/provider.go Diff, Jobs only): a
	// Job that is not Complete is replaced; a Job that cannot be read is not.
	if kind == "Job" && annotation(news, annotationReplaceUnready) == "true" {
		ns, name := metadataString(oldState, "namespace"), metadataString(oldState, "name")
		if ready, err := p.jobComplete(ctx, ns, name); err == nil && !ready {
			key := `metadata.annotations["` + annotationReplaceUnready + `"]`
			detailed[key] = &pulumirpc.PropertyDiff{Kind: pulumirpc.PropertyDiff_UPDATE_REPLACE}
			replaces = append(replaces, key)
		}
	}

	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
		Replaces:        replaces,
	}
	for path := range detailed {
		resp.Diffs = append(resp.Diffs, path)
	}
	sort.Strings(resp.Diffs)
	if len(detailed) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	if len(replaces) > 0 && annotation(oldState, annotationAutonamed) != "true" &&
		metadataString(olds, "name") != "" &&
		metadataString(olds, "name") == metadataString(news, "name") &&
		metadataString(olds, "namespace") == metadataString(news, "namespace") {
		resp.DeleteBeforeReplace = true
	}
	return resp, nil
}

// replaceKind is the replacing variant of a diff kind.
func replaceKind(k pulumirpc.PropertyDiff_Kind) pulumirpc.PropertyDiff_Kind {
	switch k {
	case pulumirpc.PropertyDiff_ADD:
		return pulumirpc.PropertyDiff_ADD_REPLACE
	case pulumirpc.PropertyDiff_DELETE:
		return pulumirpc.PropertyDiff_DELETE_REPLACE
	default:
		return pulumirpc.PropertyDiff_UPDATE_REPLACE
	}
}
