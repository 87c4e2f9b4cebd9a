package release

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/chart"
	"github.com/pulumi-jobs/pulumi-jobs/infra/hook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
)

// A chart's random values (randAlphaNum, genCA, uuidv4, now, …) come out
// different on every render, and a preview and the up after it are two runs
// of the program (`pulumi up` previews first): each renders. So that a
// preview never shows a value its up will not apply, a preview that renders
// an install or an upgrade renders the chart twice, and each field of an
// app object or of a hook object that is not a Job whose value differs
// between the two renders is registered as unknown — shown as known after
// the up, as an output is — instead of one render's value; the up renders
// once and applies its values. A hook Job or a delete hook whose spec
// differs is named in a warning: its spec is its run (the Job's name is a
// digest of it), so the preview's cannot stand for the up's.

// Path is the keys (strings) and indices (ints) from an object's root to
// one of its fields.
type Path []any

// String is p as kubectl's JSONPath-like field path, e.g.
// data.tls\.crt or spec.containers[0].env.
func (p Path) String() string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", e)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(strings.ReplaceAll(fmt.Sprint(e), ".", `\.`))
		}
	}
	return b.String()
}

// objectKey names an object in Varying: "Kind/name".
func objectKey(obj map[string]any) string {
	o := manifest.Object{Obj: obj}
	return manifest.Kind(o) + "/" + manifest.Name(o)
}

// diffPaths appends to out the paths below path whose values differ
// between a and b: the leaves that differ, a list whose length differs,
// and a key that only one has.
func diffPaths(a, b any, path Path, out *[]Path) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			*out = append(*out, slices.Clone(path))
			return
		}
		keys := slices.Sorted(maps.Keys(av))
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			diffPaths(av[k], bv[k], append(slices.Clip(path), k), out)
		}
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			*out = append(*out, slices.Clone(path))
			return
		}
		for i := range av {
			diffPaths(av[i], bv[i], append(slices.Clip(path), i), out)
		}
	default:
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, slices.Clone(path))
		}
	}
}

// varyingFields compares two renders of one chart, as the same release:
// per object of the app and hook object that is not a Job ("Kind/name"),
// the fields whose values differ; and one warning per hook Job or delete
// hook whose spec differs. Objects that are not in both renders, in the
// same place, are left out (their names are random: the up creates
// another).
func varyingFields(a, b chart.Rendered) (map[string][]Path, []string) {
	out := map[string][]Path{}
	var warnings []string
	compare := func(x, y map[string]any) []Path {
		if objectKey(x) != objectKey(y) {
			return nil
		}
		var paths []Path
		diffPaths(x, y, nil, &paths)
		return paths
	}
	if len(a.App) == len(b.App) {
		for i := range a.App {
			if paths := compare(a.App[i].Obj, b.App[i].Obj); len(paths) > 0 {
				out[objectKey(a.App[i].Obj)] = paths
			}
		}
	}
	hooks := func(x, y []hook.Hook, what string) {
		if len(x) != len(y) {
			return
		}
		for i := range x {
			paths := compare(x[i].Object, y[i].Object)
			switch {
			case len(paths) == 0:
			case x[i].RunsAsJob() || what != "":
				warnings = append(warnings, fmt.Sprintf("hook %s/%s (%s)%s renders random values (%s): this preview shows one render of it, "+
					"and the up renders it again", x[i].Kind, x[i].Name, x[i].Source, what, pathList(paths)))
			default:
				out[objectKey(x[i].Object)] = paths
			}
		}
	}
	hooks(a.PreDeploy, b.PreDeploy, "")
	hooks(a.PostDeploy, b.PostDeploy, "")
	hooks(a.PreDelete, b.PreDelete, ", a pre-delete hook,")
	hooks(a.PostDelete, b.PostDelete, ", a post-delete hook,")
	return out, warnings
}

// pathList is paths as a short list for a message.
func pathList(paths []Path) string {
	var s []string
	for i, p := range paths {
		if i == 3 {
			s = append(s, fmt.Sprintf("and %d more", len(paths)-3))
			break
		}
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// withUnknowns returns obj with each of paths set to an unknown value,
// copying the maps and lists on the way (obj itself is not changed). A
// path into a list shorter than it names is skipped.
func withUnknowns(obj map[string]any, paths []Path) map[string]any {
	root := any(obj)
	for _, p := range paths {
		if len(p) == 0 {
			continue
		}
		root = setUnknown(root, p)
	}
	out, _ := root.(map[string]any)
	return out
}

// setUnknown returns a copy of v with the field at p unknown.
func setUnknown(v any, p Path) any {
	if len(p) == 0 {
		return pulumi.UnsafeUnknownOutput(nil)
	}
	switch key := p[0].(type) {
	case string:
		m, _ := v.(map[string]any)
		m = maps.Clone(m)
		if m == nil {
			m = map[string]any{}
		}
		m[key] = setUnknown(m[key], p[1:])
		return m
	case int:
		l, ok := v.([]any)
		if !ok || key >= len(l) {
			return v
		}
		l = slices.Clone(l)
		l[key] = setUnknown(l[key], p[1:])
		return l
	}
	return v
}
