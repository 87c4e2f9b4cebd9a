package release

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/spec"
)

// GitOpsType is the type token of the operator hand-over component.
const GitOpsType = "pulumi-jobs:index:GitOps"

// AccessTokenKey is the key of the access-token Secret that holds the token.
const AccessTokenKey = "accessToken"

// Operator defaults, explained where they are set.
const (
	// RetryMaxBackoffSeconds caps the operator's exponential backoff after a
	// failed update at an hour (its own default is a day), so a release
	// whose migration was fixed outside git is retried within the hour.
	RetryMaxBackoffSeconds = 3600
)

// GitOps is the pulumi-jobs:index:GitOps component: it hands the release
// over to the Pulumi Kubernetes Operator, which then runs the project's
// target stack from git on every new commit, inside the cluster.
type GitOps struct {
	pulumi.ResourceState

	// Stack is the operator's pulumi.com/v1 Stack object.
	Stack *apiextensions.CustomResource
	// StackName is its name in the cluster.
	StackName pulumi.StringOutput `pulumi:"stackName"`
}

// newGitOps declares the operator's Stack, the service account its
// workspace pod runs as, and that account's permissions:
//   - system:auth-delegator, which every Stack's account needs (the
//     operator's workspace authenticates its callers with TokenReview);
//   - the built-in "admin" role in the release's namespace, to manage the
//     release's objects;
//   - when the stack owns its namespace, rights on that one namespace.
//
// The Pulumi access token is referenced from a Secret (envRefs), never copied
// into config or state.
func newGitOps(ctx *pulumi.Context, name string, s spec.Release, namespace pulumi.StringOutput, opts ...pulumi.ResourceOption) (*GitOps, error) {
	g := &GitOps{}
	if err := ctx.RegisterComponentResource(GitOpsType, name, g, opts...); err != nil {
		return nil, fmt.Errorf("registering the operator hand-over: %w", err)
	}
	o := s.GitOps
	parent := pulumi.Parent(g)
	labels := pulumi.StringMap{LabelPartOf: pulumi.String(s.App.Name), LabelManagedBy: pulumi.String("pulumi")}

	sa, err := corev1.NewServiceAccount(ctx, o.ServiceAccount, &corev1.ServiceAccountArgs{
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(o.ServiceAccount), Namespace: namespace, Labels: labels},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("registering service account %q: %w", o.ServiceAccount, err)
	}
	subjects := rbacv1.SubjectArray{rbacv1.SubjectArgs{
		Kind: pulumi.String("ServiceAccount"), Name: sa.Metadata.Name().Elem(), Namespace: namespace,
	}}
	deps := []pulumi.Resource{sa}

	delegator, err := rbacv1.NewClusterRoleBinding(ctx, o.ServiceAccount+"-auth-delegator", &rbacv1.ClusterRoleBindingArgs{
		Metadata: metav1.ObjectMetaArgs{Labels: labels},
		RoleRef: rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: pulumi.String("system:auth-delegator"),
		},
		Subjects: subjects,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("registering the auth-delegator binding: %w", err)
	}
	admin, err := rbacv1.NewRoleBinding(ctx, o.ServiceAccount+"-admin", &rbacv1.RoleBindingArgs{
		Metadata: metav1.ObjectMetaArgs{Namespace: namespace, Labels: labels},
		RoleRef: rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: pulumi.String("admin"),
		},
		Subjects: subjects,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("registering the namespace admin binding: %w", err)
	}
	deps = append(deps, delegator, admin)

	if s.CreateNamespace {
		role, err := rbacv1.NewClusterRole(ctx, o.ServiceAccount+"-namespace", &rbacv1.ClusterRoleArgs{
			Metadata: metav1.ObjectMetaArgs{Labels: labels},
			Rules: rbacv1.PolicyRuleArray{rbacv1.PolicyRuleArgs{
				ApiGroups:     pulumi.StringArray{pulumi.String("")},
				Resources:     pulumi.StringArray{pulumi.String("namespaces")},
				ResourceNames: pulumi.StringArray{namespace},
				Verbs:         pulumi.ToStringArray([]string{"get", "list", "watch", "update", "patch", "delete"}),
			}},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("registering the namespace role: %w", err)
		}
		binding, err := rbacv1.NewClusterRoleBinding(ctx, o.ServiceAccount+"-namespace", &rbacv1.ClusterRoleBindingArgs{
			Metadata: metav1.ObjectMetaArgs{Labels: labels},
			RoleRef: rbacv1.RoleRefArgs{
				ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: role.Metadata.Name().Elem(),
			},
			Subjects: subjects,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("registering the namespace role binding: %w", err)
		}
		deps = append(deps, role, binding)
	}

	stackSpec := kubernetes.UntypedArgs{
		"stack":              o.TargetStack,
		"projectRepo":        o.Repository,
		"branch":             o.Branch,
		"serviceAccountName": sa.Metadata.Name().Elem(),
		// Poll the branch; a new commit triggers an update.
		"resyncFrequencySeconds": int(o.ResyncInterval.Seconds()),
		"envRefs": map[string]any{
			"PULUMI_ACCESS_TOKEN": map[string]any{
				"type":   "Secret",
				"secret": map[string]any{"name": o.AccessTokenSecret, "key": AccessTokenKey},
			},
		},
		// Deleting the Stack object (or this stack) must never destroy the
		// release it manages: the operator stops, the app keeps running.
		"destroyOnFinalize": false,
		// Refresh before each update, so objects changed or deleted out of
		// band are seen; safe here because no Job has a TTL.
		"refresh":                        true,
		"retryMaxBackoffDurationSeconds": RetryMaxBackoffSeconds,
	}
	if o.Directory != "" {
		stackSpec["repoDir"] = o.Directory
	}
	g.Stack, err = apiextensions.NewCustomResource(ctx, s.App.Name+"-gitops", &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String("pulumi.com/v1"),
		Kind:        pulumi.String("Stack"),
		Metadata:    metav1.ObjectMetaArgs{Namespace: namespace, Labels: labels},
		OtherFields: kubernetes.UntypedArgs{"spec": stackSpec},
	}, parent, pulumi.DependsOn(deps))
	if err != nil {
		return nil, fmt.Errorf("registering the operator Stack: %w", err)
	}
	g.StackName = g.Stack.Metadata.Name().Elem()
	if err := ctx.RegisterResourceOutputs(g, pulumi.Map{"stackName": g.StackName}); err != nil {
		return nil, fmt.Errorf("registering outputs of the operator hand-over: %w", err)
	}
	return g, nil
}
