package deletehook

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// Provider is a provider resource of the pulumi-jobs plugin for DeleteHooks resources: an
// explicit one, as the default provider of a package takes the stack's config of its namespace as
// its own, and the stack program's config is in pulumi-jobs:.
type Provider struct {
	pulumi.ProviderResourceState
}

// NewProvider registers a Provider of the pulumi-jobs plugin at this package's version.
func NewProvider(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (*Provider, error) {
	p := &Provider{}
	opts = append(opts, pulumi.Version(vocab.Version))
	if err := ctx.RegisterResource("pulumi:providers:pulumi-jobs", name, pulumi.Map{}, p, opts...); err != nil {
		return nil, fmt.Errorf("registering the pulumi-jobs provider %q: %w", name, err)
	}
	return p, nil
}

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

// Register registers the DeleteHooks resource name with in, served by provider (NewProvider).
func Register(ctx *pulumi.Context, name string, provider *Provider, in Inputs, opts ...pulumi.ResourceOption) (*Resource, error) {
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
	opts = append(opts, pulumi.Provider(provider), pulumi.AdditionalSecretOutputs([]string{"kubeconfig"}))
	if err := ctx.RegisterResource(Type, name, props, r, opts...); err != nil {
		return nil, fmt.Errorf("registering the %s hooks %q: %w", in.Event, name, err)
	}
	return r, nil
}
