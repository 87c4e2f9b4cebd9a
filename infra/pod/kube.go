package pod

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
)

// JSON returns v, a value of pulumi-kubernetes' plain types (corev1.Volume,
// []corev1.Toleration, …), as Kubernetes' JSON decodes it: objects keyed by
// the fields' pulumi names, which are Kubernetes' own. Unset fields (nil
// pointers, lists and maps, empty strings) are left out. It returns nil for
// nothing set.
func JSON(v any) any {
	return toJSON(reflect.ValueOf(v))
}

func toJSON(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return toJSON(v.Elem())
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			name, ok := tagName(t.Field(i))
			if !ok {
				continue
			}
			if x := toJSON(v.Field(i)); x != nil {
				out[name] = x
			}
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = toJSON(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := map[string]any{}
		iter := v.MapRange()
		for iter.Next() {
			out[iter.Key().String()] = toJSON(iter.Value())
		}
		return out
	case reflect.String:
		if v.String() == "" {
			return nil
		}
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Float64, reflect.Float32:
		return v.Float()
	default:
		return nil
	}
}

// tagName is the name in a field's pulumi tag.
func tagName(f reflect.StructField) (string, bool) {
	tag, ok := f.Tag.Lookup("pulumi")
	if !ok || !f.IsExported() {
		return "", false
	}
	return strings.Split(tag, ",")[0], true
}

// Decode reads raw, a value as encoding/json decodes it into an any (the
// stack config's), into dst, a pointer to a plain type of this package or
// pulumi-kubernetes'. Every problem is added to p under its exact key below
// key ("pulumi-jobs:pod.volumes[0].secret.secretName"): a key the type does
// not have, naming the nearest or listing the valid ones, and a value of
// the wrong kind.
func Decode(p *check.Problems, key string, raw any, dst any) {
	decode(p, key, raw, reflect.ValueOf(dst).Elem())
}

func decode(p *check.Problems, key string, raw any, dst reflect.Value) {
	if raw == nil {
		return
	}
	switch dst.Kind() {
	case reflect.Pointer:
		v := reflect.New(dst.Type().Elem())
		decode(p, key, raw, v.Elem())
		dst.Set(v)
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			p.Add(key, "must be an object (a Kubernetes %s), got %s", dst.Type().Name(), describe(raw))
			return
		}
		fields := map[string]int{}
		var names []string
		for i := range dst.NumField() {
			if name, ok := tagName(dst.Type().Field(i)); ok {
				fields[name] = i
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, k := range check.SortedKeys(m) {
			i, ok := fields[k]
			if !ok {
				what := "a Kubernetes " + dst.Type().Name()
				if dst.Type() == reflect.TypeFor[Settings]() {
					what = "a pod block"
				}
				p.Add(key+"."+k, "unknown key of %s; %s", what, validKeys(k, names))
				continue
			}
			decode(p, key+"."+k, m[k], dst.Field(i))
		}
	case reflect.Slice:
		list, ok := raw.([]any)
		if !ok {
			p.Add(key, "must be a list, got %s", describe(raw))
			return
		}
		out := reflect.MakeSlice(dst.Type(), len(list), len(list))
		for i, item := range list {
			decode(p, fmt.Sprintf("%s[%d]", key, i), item, out.Index(i))
		}
		dst.Set(out)
	case reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok {
			p.Add(key, "must be a map, got %s", describe(raw))
			return
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(m))
		for _, k := range check.SortedKeys(m) {
			v := reflect.New(dst.Type().Elem()).Elem()
			decode(p, fmt.Sprintf("%s[%q]", key, k), m[k], v)
			out.SetMapIndex(reflect.ValueOf(k), v)
		}
		dst.Set(out)
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			p.Add(key, "must be a string (quote numbers and booleans in YAML), got %s", describe(raw))
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			p.Add(key, "must be true or false, got %s", describe(raw))
			return
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		f, ok := raw.(float64)
		if !ok || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
			p.Add(key, "must be a whole number, got %s", describe(raw))
			return
		}
		dst.SetInt(int64(f))
	case reflect.Float64:
		f, ok := raw.(float64)
		if !ok {
			p.Add(key, "must be a number, got %s", describe(raw))
			return
		}
		dst.SetFloat(f)
	case reflect.Interface:
		// An int-or-string (a probe's port) or any JSON value.
		if f, ok := raw.(float64); ok && f == math.Trunc(f) && math.Abs(f) <= math.MaxInt32 {
			dst.Set(reflect.ValueOf(int(f)))
			return
		}
		dst.Set(reflect.ValueOf(raw))
	default:
		p.Add(key, "cannot be read from the stack config (a %s)", dst.Type())
	}
}

// describe names a decoded JSON value in a message.
func describe(raw any) string {
	switch v := raw.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", v)
	case float64:
		return fmt.Sprintf("the number %v", v)
	case bool:
		return fmt.Sprintf("%v", v)
	default:
		return fmt.Sprintf("%v", v)
	}
}

// validKeys suggests the key nearest to k among names, when it is near
// enough to be a typo, else lists them.
func validKeys(k string, names []string) string {
	best, bestDist := "", -1
	for _, n := range names {
		if d := editDistance(strings.ToLower(k), strings.ToLower(n)); bestDist < 0 || d < bestDist {
			best, bestDist = n, d
		}
	}
	if bestDist >= 0 && bestDist <= 2 {
		return fmt.Sprintf("did you mean %s?", best)
	}
	for _, n := range names {
		// A shortened key: serviceAccount for serviceAccountName.
		if len(k) >= 4 && strings.HasPrefix(strings.ToLower(n), strings.ToLower(k)) {
			return fmt.Sprintf("did you mean %s?", n)
		}
	}
	return "the valid keys are " + strings.Join(names, ", ")
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
