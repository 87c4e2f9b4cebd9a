package config

import (
	"fmt"
	"strings"
)

// Problem is one invalid stack config value: the full key that holds it (for
// example "pulumi-jobs:preDeploy[1].timeout") and what would be valid there.
type Problem struct {
	// Key is the config key, with a path into objects and lists.
	Key string
	// Message says what is wrong and what would be valid.
	Message string
}

// String renders the problem as "key: message".
func (p Problem) String() string { return p.Key + ": " + p.Message }

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
	fmt.Fprintf(&b, "stack %q: %d invalid config value(s); nothing was deployed. Fix them with `pulumi config set` or in Pulumi.%s.yaml:",
		e.Stack, len(e.Problems), e.Stack)
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects Problems while a config is read.
type problems struct {
	list []Problem
}

func (p *problems) add(key, format string, args ...any) {
	p.list = append(p.list, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}
