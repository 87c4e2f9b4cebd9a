package config

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
)

// Problem is one invalid stack config value: the full key that holds it (for
// example "pulumi-jobs:preDeploy[1].timeout") and what would be valid there.
type Problem = check.Problem

// Error reports every problem of a stack config at once. Load returns it
// before any resource is registered, so an invalid config deploys nothing.
type Error struct {
	// Stack is the stack whose config is invalid.
	Stack string
	// Problems are the problems in the order the keys were read.
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %q: %d invalid config value(s); nothing was deployed. Fix them with `pulumi config set` or in %s:",
		e.Stack, len(e.Problems), StackFile(e.Stack))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// FromRelease reports what a release refused of a config's plan once it
// met its cluster (a chart that does not render, say), under the config
// keys that set it, as Load reports what it refuses itself.
func FromRelease(stack string, err *check.ArgsError) *Error {
	out := &Error{Stack: stack}
	for _, q := range err.Problems {
		out.Problems = append(out.Problems, Problem{Key: Key(configPath(q.Key)), Message: q.Message})
	}
	return out
}

// problems collects Problems while a config is read.
type problems struct {
	// file is the stack's settings file, Pulumi.<stack>.yaml, named by
	// problems about values that cannot be parsed.
	file string
	list []Problem
}

func (p *problems) add(key, format string, args ...any) {
	p.list = append(p.list, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// notA reports that raw, the value of key, is not want ("an object with the
// keys …", "a list of job objects"). A value that is not JSON at all (an
// object or list set as a plain string, or broken YAML) names the stack file
// that holds it and the parse error.
func (p *problems) notA(key string, raw json.RawMessage, want string) {
	k, err := kind(raw)
	if err != nil {
		p.add(key, "must be %s, but its value in %s cannot be parsed (%v); write it there as YAML under %s, or set single fields with pulumi config set --path",
			want, p.file, err, key)
		return
	}
	p.add(key, "must be %s; %s sets it to %s", want, p.file, k)
}
