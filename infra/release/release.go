// Package release declares a release as Pulumi component resources: a
// Release (pulumi-jobs:index:Release) that owns the namespace and the database
// Secret and three phases, run in this order by the engine's dependency graph:
//
//	PreDeploy  (pulumi-jobs:index:PreDeploy)  Jobs in waves, e.g. migrations
//	Deploy     (pulumi-jobs:index:Deploy)     the app's Deployment and Service
//	PostDeploy (pulumi-jobs:index:PostDeploy) Jobs in waves, e.g. smoke tests
//
// Every ordering edge is a DependsOn on the Kubernetes resource itself, never
// on a component: a component's DependsOn gives its children no engine edge.
package release

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/spec"
)

// Type tokens of the components.
const (
	ReleaseType    = "pulumi-jobs:index:Release"
	PreDeployType  = "pulumi-jobs:index:PreDeploy"
	DeployType     = "pulumi-jobs:index:Deploy"
	PostDeployType = "pulumi-jobs:index:PostDeploy"
)

// Label keys put on the release's objects.
const (
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPhase     = "pulumi-jobs/phase"
	LabelWave      = "pulumi-jobs/wave"
	LabelJob       = "pulumi-jobs/job"
	LabelRerun     = "pulumi-jobs/rerun"
)

// ReleaseArgs are the inputs of a Release.
type ReleaseArgs struct {
	// Spec is the validated release.
	Spec spec.Release
}

// Release is the pulumi-jobs:index:Release component: one application release.
type Release struct {
	pulumi.ResourceState

	// Namespace is the namespace of every object of the release.
	Namespace pulumi.StringOutput `pulumi:"namespace"`
	// PreDeploy is the pre-deploy phase.
	PreDeploy *Phase
	// Deploy is the app phase.
	Deploy *Deploy
	// PostDeploy is the post-deploy phase.
	PostDeploy *Phase
	// GitOps is the operator hand-over; nil unless configured.
	GitOps *GitOps
}

// databaseSecret is the Secret that carries DATABASE_URL.
type databaseSecret struct {
	secret *corev1.Secret
	name   pulumi.StringOutput
}

// NewRelease registers a release and all of its phases.
func NewRelease(ctx *pulumi.Context, name string, args *ReleaseArgs, opts ...pulumi.ResourceOption) (*Release, error) {
	r := &Release{}
	if err := ctx.RegisterComponentResource(ReleaseType, name, r, opts...); err != nil {
		return nil, fmt.Errorf("registering release %q: %w", name, err)
	}
	s := args.Spec
	parent := pulumi.Parent(r)

	if s.CreateNamespace {
		ns, err := corev1.NewNamespace(ctx, s.Namespace, &corev1.NamespaceArgs{
			Metadata: metav1.ObjectMetaArgs{
				// A namespace has a fixed name: everything else is addressed by it.
				Name:   pulumi.String(s.Namespace),
				Labels: namespaceLabels(s.App.Name),
			},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("registering namespace %q: %w", s.Namespace, err)
		}
		r.Namespace = ns.Metadata.Name().Elem()
	} else {
		r.Namespace = pulumi.String(s.Namespace).ToStringOutput()
	}

	var db *databaseSecret
	if s.HasDatabaseURL {
		secret, err := corev1.NewSecret(ctx, s.App.Name+"-database", &corev1.SecretArgs{
			Metadata: metav1.ObjectMetaArgs{
				Namespace: r.Namespace,
				Labels:    pulumi.StringMap{LabelPartOf: pulumi.String(s.App.Name), LabelManagedBy: pulumi.String("pulumi")},
			},
			Type:       pulumi.String("Opaque"),
			StringData: pulumi.StringMap{config.DatabaseURLEnv: s.DatabaseURL},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("registering the database secret: %w", err)
		}
		db = &databaseSecret{secret: secret, name: secret.Metadata.Name().Elem()}
	}

	common := phaseArgs{release: s, namespace: r.Namespace, db: db}
	var err error
	if r.PreDeploy, err = newPhase(ctx, PreDeployType, name+"-"+spec.PreDeploy.Label(), spec.PreDeploy, common, nil, parent); err != nil {
		return nil, err
	}
	if r.Deploy, err = newDeploy(ctx, name+"-deploy", common, r.PreDeploy.jobs(), parent); err != nil {
		return nil, err
	}
	if r.PostDeploy, err = newPhase(ctx, PostDeployType, name+"-"+spec.PostDeploy.Label(), spec.PostDeploy, common, r.Deploy.resources(), parent); err != nil {
		return nil, err
	}

	if s.GitOps != nil {
		if r.GitOps, err = newGitOps(ctx, name+"-gitops", s, r.Namespace, parent); err != nil {
			return nil, err
		}
	}

	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{
		"namespace":      r.Namespace,
		"deploymentName": r.Deploy.DeploymentName,
		"serviceName":    r.Deploy.ServiceName,
		"preDeployJobs":  r.PreDeploy.JobNames,
		"postDeployJobs": r.PostDeploy.JobNames,
	}); err != nil {
		return nil, fmt.Errorf("registering outputs of release %q: %w", name, err)
	}
	return r, nil
}

// namespaceLabels enforce Pod Security "restricted" on the namespace: pods
// that are not locked down are refused at admission, not discovered later.
func namespaceLabels(app string) pulumi.StringMap {
	return pulumi.StringMap{
		"pod-security.kubernetes.io/enforce":         pulumi.String("restricted"),
		"pod-security.kubernetes.io/enforce-version": pulumi.String("latest"),
		"pod-security.kubernetes.io/warn":            pulumi.String("restricted"),
		"pod-security.kubernetes.io/audit":           pulumi.String("restricted"),
		LabelPartOf:                                  pulumi.String(app),
		LabelManagedBy:                               pulumi.String("pulumi"),
	}
}
