// Package vocab is the vocabulary the packages of a release share: the
// stack a component is constructed in, the labels every object of a release
// carries, and the value of an input that is known before the engine runs.
// It imports none of the project's packages, so each of them may use it
// without reaching into another's component.
package vocab

import (
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Label keys put on the objects of a release and their pods.
const (
	// LabelPartOf names the application an object is part of.
	LabelPartOf = "app.kubernetes.io/part-of"
	// LabelManagedBy is "pulumi" on every object a release registers.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelPhase is a Job's phase: pre-deploy or post-deploy.
	LabelPhase = "pulumi-jobs/phase"
	// LabelWave is a Job's wave number.
	LabelWave = "pulumi-jobs/wave"
	// LabelJob is a Job's logical name, on the Job and its pods.
	LabelJob = "pulumi-jobs/job"
	// LabelRerun is a Job's rerun policy.
	LabelRerun = "pulumi-jobs/rerun"
	// LabelRevision is the revision of a chart's release that a hook's Job
	// ran for.
	LabelRevision = "pulumi-jobs/revision"
)

// Stack is where a component is constructed: the stack, whose name decides
// whether images must be pinned; its project; and the project directory,
// which the paths of the team's files are relative to.
type Stack struct {
	// Name is the stack's name.
	Name string
	// Project is the project's name.
	Project string
	// Dir is the project directory.
	Dir string
}

// StackOf returns the Stack of a program: its stack, its project and its
// project directory (the program's working directory when the engine does
// not say).
func StackOf(ctx *pulumi.Context) Stack {
	dir := ctx.RootDirectory()
	if dir == "" {
		dir, _ = os.Getwd()
	}
	return Stack{Name: ctx.Stack(), Project: ctx.Project(), Dir: dir}
}

// Literal returns the value of an input that holds a plain string
// (pulumi.String, pulumi.StringPtr), which a program knows before the engine
// runs; ok is false for outputs and nil.
func Literal(in pulumi.StringInput) (string, bool) {
	switch v := in.(type) {
	case pulumi.String:
		return string(v), true
	case *pulumi.String:
		if v != nil {
			return string(*v), true
		}
	}
	return "", false
}
