package config

import (
	"bytes"
	"encoding/json"
	"slices"
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
// reports a problem and returns false when raw is not an object.
func newObject(key string, raw json.RawMessage, known []string, p *problems) (*object, bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		p.add(key, "must be an object with the keys %s", strings.Join(known, ", "))
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

// int returns a whole-number field; false when absent or not a whole number.
func (o *object) int(name string) (int, bool) {
	v, ok := o.raw(name)
	if !ok {
		return 0, false
	}
	var n int
	if err := json.Unmarshal(v, &n); err != nil {
		o.p.add(o.path(name), "must be a whole number, got %s", v)
		return 0, false
	}
	return n, true
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
