// Package spec holds the validated release specification: what one stack of
// pulumi-jobs deploys, with every default applied. It is produced by package
// config from stack configuration and consumed by package release, which turns
// it into Kubernetes resources. Nothing in it talks to Pulumi's engine or to a
// cluster; a Release is plain data plus the database URL, which stays a secret
// Output.
package spec

import (
	"cmp"
	"slices"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Phase names one of the two Job phases of a release.
type Phase string

// The two Job phases. Their values are the stack config keys that list them.
const (
	// PreDeploy Jobs (database migrations) run before the app's Deployment is updated.
	PreDeploy Phase = "preDeploy"
	// PostDeploy Jobs (cache warm-up, smoke tests) run after the Deployment is Available.
	PostDeploy Phase = "postDeploy"
)

// Label is the human-readable form of the phase, as used in labels and diagrams.
func (p Phase) Label() string {
	if p == PreDeploy {
		return "pre-deploy"
	}
	return "post-deploy"
}

// Rerun says when a Job runs again after it has succeeded once.
type Rerun string

// The re-run policies of a Job.
const (
	// OnChange re-runs the Job whenever its pod template changes, above all its image.
	OnChange Rerun = "onChange"
	// OnRelease also re-runs the Job whenever the stack's release id changes.
	OnRelease Rerun = "onRelease"
	// Once runs the Job until it succeeds once and never again.
	Once Rerun = "once"
)

// Reruns lists every re-run policy, in the order the docs present them.
func Reruns() []Rerun { return []Rerun{OnChange, OnRelease, Once} }

// Release is one validated release of an application: the namespace it lives
// in, the app, and the Jobs that run before and after the app rolls out.
type Release struct {
	// Stack is the Pulumi stack being deployed.
	Stack string
	// Namespace is the Kubernetes namespace of every object of the release.
	Namespace string
	// CreateNamespace says whether the stack creates (and owns) the namespace.
	CreateNamespace bool
	// App is the long-running application.
	App App
	// Jobs are the pre- and post-deploy Jobs, in stack config order: preDeploy
	// first, then postDeploy.
	Jobs []Job
	// ID is the release id (build number, git SHA); empty when not set.
	ID string
	// DatabaseURL is the secret database URL; meaningful only when HasDatabaseURL.
	DatabaseURL pulumi.StringOutput
	// HasDatabaseURL says whether a database URL was configured.
	HasDatabaseURL bool
	// GitOps, when set, hands the release over to the Pulumi Kubernetes Operator.
	GitOps *GitOps
}

// GitOps is the hand-over of a stack to the Pulumi Kubernetes Operator: the
// operator runs TargetStack of this project from git on every new commit.
type GitOps struct {
	// Repository is the git URL of this project.
	Repository string
	// Branch is the branch the operator follows.
	Branch string
	// Directory is the project's directory in the repository ("" for the root).
	Directory string
	// TargetStack is the fully qualified stack the operator runs (org/project/stack).
	TargetStack string
	// AccessTokenSecret names the Secret whose key "accessToken" holds the Pulumi access token.
	AccessTokenSecret string
	// ResyncInterval is how often the operator polls the branch.
	ResyncInterval time.Duration
	// ServiceAccount is the service account of the operator's workspace pod.
	ServiceAccount string
}

// App is the application's Deployment and Service.
type App struct {
	// Name is the Deployment's and Service's name (a DNS-1123 label).
	Name string
	// Image is the container image of the release.
	Image string
	// Replicas is the Deployment's desired replica count.
	Replicas int
	// Port is the container port the app listens on; the Service exposes it.
	Port int
	// Env is the app's environment, sorted by name.
	Env []EnvVar
	// Resources are the requests and limits of the app's container, also used by Jobs.
	Resources Resources
	// ReadinessPath is the HTTP path of the readiness probe; empty means a TCP probe.
	ReadinessPath string
}

// EnvVar is one environment variable.
type EnvVar struct {
	// Name is the variable's name.
	Name string
	// Value is the variable's value.
	Value string
}

// Resources are a container's resource requests and limits.
type Resources struct {
	// Requests are what the scheduler reserves.
	Requests Quantities
	// Limits are the most the container may use.
	Limits Quantities
}

// Quantities are CPU and memory amounts in Kubernetes quantity notation.
type Quantities struct {
	// CPU, e.g. "100m".
	CPU string
	// Memory, e.g. "128Mi".
	Memory string
}

// Job is one one-shot Job of a phase.
type Job struct {
	// Name is the Job's logical name; the cluster object gets a random suffix.
	Name string
	// Phase is the phase the Job belongs to.
	Phase Phase
	// Command is the container's command.
	Command []string
	// Image is the container image (by default the app's).
	Image string
	// Wave orders Jobs within a phase: wave k starts after every Job of the
	// previous wave has completed; Jobs of one wave run in parallel.
	Wave int
	// Rerun says when the Job runs again.
	Rerun Rerun
	// BackoffLimit is the number of retries before the Job fails.
	BackoffLimit int
	// Timeout is the Job's active deadline.
	Timeout time.Duration
	// Env is the Job's own environment, sorted by name.
	Env []EnvVar
	// Annotations are copied onto the Job's pod template.
	Annotations map[string]string
}

// Wave is the Jobs of one wave of one phase.
type Wave struct {
	// Number is the wave's number from the stack config.
	Number int
	// Jobs are the wave's Jobs, in stack config order.
	Jobs []Job
}

// Waves returns the phase's Jobs grouped by wave, in ascending wave order.
// Wave numbers may have gaps; each wave follows the one before it.
func (r Release) Waves(p Phase) []Wave {
	var jobs []Job
	for _, j := range r.Jobs {
		if j.Phase == p {
			jobs = append(jobs, j)
		}
	}
	// Stable, so Jobs of one wave keep their config order.
	slices.SortStableFunc(jobs, func(a, b Job) int { return cmp.Compare(a.Wave, b.Wave) })
	var waves []Wave
	for _, j := range jobs {
		if n := len(waves); n == 0 || waves[n-1].Number != j.Wave {
			waves = append(waves, Wave{Number: j.Wave})
		}
		waves[len(waves)-1].Jobs = append(waves[len(waves)-1].Jobs, j)
	}
	return waves
}
