package config

import (
	"github.com/pulumi-jobs/pulumi-jobs/infra/check"

	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// object decodes one JSON object of the stack config field by field, so that
// every problem names its exact key, and unknown fields (typos) are reported
// instead of silently ignored.
type object struct {
	key    string
	fields map[string]json.RawMessage
	p      *problems
}

// newObject decodes raw as an object whose fields must be among known. It
// reports a problem and returns false when raw is not an object, naming the
// stack file that holds the value when it cannot even be parsed.
func newObject(key string, raw json.RawMessage, known []string, p *problems) (*object, bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		p.notA(key, raw, "an object with the keys "+strings.Join(known, ", "))
		return nil, false
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(known, name) {
			p.add(key+"."+name, "unknown key; the valid keys here are %s", strings.Join(known, ", "))
		}
	}
	return &object{key: key, fields: fields, p: p}, true
}

// kind names the JSON type of raw ("a list", "a string", …) for messages. It
// returns an error when raw is not JSON at all, as when a value meant as an
// object was set as a plain string.
func kind(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("parsing %s: %w", abbreviate(string(raw)), err)
	}
	switch v.(type) {
	case map[string]any:
		return "an object", nil
	case []any:
		return "a list", nil
	case string:
		return "a string", nil
	case float64:
		return "a number", nil
	case bool:
		return "a boolean", nil
	default:
		return "null", nil
	}
}

// abbreviate shortens a value quoted in a message.
func abbreviate(s string) string {
	const maxRunes = 60
	if r := []rune(s); len(r) > maxRunes {
		return string(r[:maxRunes]) + "…"
	}
	return s
}

func (o *object) path(name string) string { return o.key + "." + name }

// raw returns the field's JSON, or false when it is absent or null.
func (o *object) raw(name string) (json.RawMessage, bool) {
	v, ok := o.fields[name]
	if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil, false
	}
	return v, true
}

// string returns a string field; false when absent or not a string.
func (o *object) string(name string) (string, bool) {
	v, ok := o.raw(name)
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		o.p.add(o.path(name), "must be a string, got %s", v)
		return "", false
	}
	return s, true
}

// parseWhole parses a JSON whole number exactly. Fractions ("1.5"), exponents,
// strings ("3") and numbers beyond int64 are refused.
func parseWhole(raw json.RawMessage) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// int returns a whole-number field within r; false when absent, not a whole
// number or out of range, each reported as "must be <r.what>, got <value>".
// Range checks happen on int64, before any conversion, so 3000000000 is
// reported instead of wrapping to a negative int32.
func (o *object) int(name string, r check.Range) (int, bool) {
	v, ok := o.raw(name)
	if !ok {
		return 0, false
	}
	n, ok := parseWhole(v)
	if !ok || n < r.Min || n > r.Max {
		o.p.add(o.path(name), "must be %s, got %s", r.What, abbreviate(string(bytes.TrimSpace(v))))
		return 0, false
	}
	return int(n), true
}

// quantity returns a Kubernetes quantity field as a string. Like the
// Kubernetes API, it takes a number (cpu: 1) as well as a string ("500m");
// false when absent or neither.
func (o *object) quantity(name string) (string, bool) {
	v, ok := o.raw(name)
	if !ok {
		return "", false
	}
	var n json.Number
	if t := bytes.TrimSpace(v); len(t) > 0 && t[0] != '"' && json.Unmarshal(t, &n) == nil {
		return n.String(), true
	}
	return o.string(name)
}

// strings returns a list-of-strings field; false when absent or malformed.
func (o *object) strings(name string) ([]string, bool) {
	v, ok := o.raw(name)
	if !ok {
		return nil, false
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil {
		o.p.add(o.path(name), "must be a list of strings, got %s", v)
		return nil, false
	}
	return list, true
}

// stringMap returns a string-to-string map field; false when absent or malformed.
func (o *object) stringMap(name string) (map[string]string, bool) {
	v, ok := o.raw(name)
	if !ok {
		return nil, false
	}
	var m map[string]string
	if err := json.Unmarshal(v, &m); err != nil {
		o.p.add(o.path(name), `must be a map of strings to strings (quote numbers and booleans in YAML, e.g. "8080"), got %s`, v)
		return nil, false
	}
	return m, true
}

// object returns a nested object field; false when absent or malformed.
func (o *object) object(name string, known []string) (*object, bool) {
	v, ok := o.raw(name)
	if !ok {
		return nil, false
	}
	return newObject(o.path(name), v, known, o.p)
}
