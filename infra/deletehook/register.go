package deletehook

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// Resource is a registered DeleteHooks resource.
type Resource struct {
	pulumi.CustomResourceState
}

// Inputs are the Args of a DeleteHooks resource as a program registers them: the namespace
// may be another resource's output (the release's Namespace, so that the namespace is deleted
// after the hooks ran), the kubeconfig and context inputs, and the kubeconfig is kept secret.
type Inputs struct {
	Event, Release string
	Namespace      pulumi.StringInput
	Hooks          []Hook
	// Kubeconfig and Context are the release's cluster; nil means the environment's.
	Kubeconfig, Context pulumi.StringInput
	TimeoutSeconds      int
}

// Register registers the DeleteHooks resource name with in: the pulumi-jobs plugin at this
// package's version serves it (vocab.Version), whatever provider opts give for Kubernetes.
func Register(ctx *pulumi.Context, name string, in Inputs, opts ...pulumi.ResourceOption) (*Resource, error) {
	hooks := make(pulumi.Array, len(in.Hooks))
	for i, h := range in.Hooks {
		hooks[i] = pulumi.Map{
			"kind":            pulumi.String(h.Kind),
			"name":            pulumi.String(h.Name),
			"source":          pulumi.String(h.Source),
			"weight":          pulumi.Int(h.Weight),
			"manifest":        pulumi.String(h.Manifest),
			"deleteOnSuccess": pulumi.Bool(h.DeleteOnSuccess),
		}
	}
	props := pulumi.Map{
		"event":     pulumi.String(in.Event),
		"release":   pulumi.String(in.Release),
		"namespace": in.Namespace,
		"hooks":     hooks,
	}
	if in.Kubeconfig != nil {
		props["kubeconfig"] = pulumi.ToSecret(in.Kubeconfig)
	}
	if in.Context != nil {
		props["context"] = in.Context
	}
	if in.TimeoutSeconds > 0 {
		props["timeoutSeconds"] = pulumi.Int(in.TimeoutSeconds)
	}
	r := &Resource{}
	opts = append(opts, pulumi.Version(vocab.Version), pulumi.AdditionalSecretOutputs([]string{"kubeconfig"}))
	if err := ctx.RegisterResource(Type, name, props, r, opts...); err != nil {
		return nil, fmt.Errorf("registering the %s hooks %q: %w", in.Event, name, err)
	}
	return r, nil
}
