package release

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// GitOpsType is the type token of the operator hand-over component.
const GitOpsType = "pulumi-jobs:index:GitOps"

// AccessTokenKey is the key of the access-token Secret that holds the token.
const AccessTokenKey = "accessToken"

// GitOpsSettings hand the release over to the Pulumi Kubernetes Operator: the
// operator runs TargetStack of this project from git on every new commit.
type GitOpsSettings struct {
	// Repository is the git URL of this project.
	Repository string `pulumi:"repository"`
	// Branch is the branch the operator follows; "main" by default.
	Branch string `pulumi:"branch,optional"`
	// Directory is the project's directory in the repository ("" for the root).
	Directory string `pulumi:"directory,optional"`
	// TargetStack is the fully qualified stack the operator runs (org/project/stack).
	TargetStack string `pulumi:"targetStack"`
	// AccessTokenSecret names the Secret whose key "accessToken" holds the Pulumi access token.
	AccessTokenSecret string `pulumi:"accessTokenSecret"`
	// ResyncInterval is how often the operator polls the branch, a Go
	// duration of at least 1m; "5m" by default.
	ResyncInterval string `pulumi:"resyncInterval,optional"`
	// ServiceAccount is the service account of the operator's workspace pod;
	// <app>-pulumi-operator by default.
	ServiceAccount string `pulumi:"serviceAccount,optional"`
}

// GitOps defaults.
const (
	DefaultGitOpsBranch   = "main"
	DefaultResyncInterval = 5 * time.Minute
	// MinResyncInterval is the operator's floor (shorter values become 60 s).
	MinResyncInterval = time.Minute
)

// gitOps is a hand-over with every default applied.
type gitOps struct {
	GitOpsSettings
	resync time.Duration
}

// withDefaults applies the hand-over's defaults.
func (g GitOpsSettings) withDefaults(app string) gitOps {
	out := gitOps{GitOpsSettings: g, resync: DefaultResyncInterval}
	out.Branch = cmp.Or(g.Branch, DefaultGitOpsBranch)
	out.Directory = strings.Trim(g.Directory, "/")
	out.ServiceAccount = cmp.Or(g.ServiceAccount, app+"-pulumi-operator")
	if d, err := time.ParseDuration(g.ResyncInterval); err == nil && g.ResyncInterval != "" {
		out.resync = d
	}
	return out
}

// checkGitOps checks the hand-over of a release of stack in project to
// namespace ns ("" when not known yet).
func checkGitOps(p *check.Problems, g *GitOpsSettings, stack, project, ns string) {
	const repoHint = "the git URL of this project, e.g. https://github.com/acme/shop-deploy.git"
	switch v := g.Repository; {
	case v == "":
		p.Add("gitops.repository", "required; %s", repoHint)
	case !(strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "ssh://") || strings.HasPrefix(v, "git@")):
		p.Add("gitops.repository", "%q is not a git URL the operator can clone; use https://…, ssh://… or git@…, e.g. https://github.com/acme/shop-deploy.git", v)
	}
	if strings.Contains(g.Directory, "..") {
		p.Add("gitops.directory", "must be a path inside the repository, got %q", g.Directory)
	}
	const targetHint = "the fully qualified stack the operator runs, organization/project/stack, e.g. acme/pulumi-jobs/prod"
	if v := g.TargetStack; v == "" {
		p.Add("gitops.targetStack", "required; %s", targetHint)
	} else {
		parts := strings.Split(v, "/")
		switch {
		case len(parts) != 3 || slices.Contains(parts, ""):
			p.Add("gitops.targetStack", "%q is not %s", v, targetHint)
		// The organization of this stack is not reliably known to a program
		// (Pulumi reports "organization" when unset), so a target in this
		// project with this stack's name is taken to be this stack.
		case parts[1] == project && parts[2] == check.StackName(stack):
			p.Add("gitops.targetStack", "%q is this stack itself (project %s, stack %s); the operator must run another stack of the project, the one this stack hands over to",
				v, project, parts[2])
		}
	}
	if v := g.AccessTokenSecret; v == "" {
		p.Add("gitops.accessTokenSecret", "required; the name of a Secret in namespace %q whose key accessToken holds the Pulumi access token (kubectl create secret generic pulumi-api -n %s --from-literal=accessToken=…)", ns, ns)
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(v) {
			p.Add("gitops.accessTokenSecret", "%q is not a Secret name: %s", v, msg)
		}
	}
	if s := g.ResyncInterval; s != "" {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			p.Add("gitops.resyncInterval", `%q is not a Go duration; use e.g. "5m"`, s)
		case d < MinResyncInterval:
			p.Add("gitops.resyncInterval", "%q is shorter than the operator's minimum of 1m", s)
		}
	}
	if v := g.ServiceAccount; v != "" {
		for _, msg := range validation.IsDNS1123Subdomain(v) {
			p.Add("gitops.serviceAccount", "%q is not a service account name: %s", v, msg)
		}
	}
}

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

// formerly aliases a child of the hand-over to its name before it was named
// from its component (it was named from the service account, so two
// releases of one app name collided), so existing stacks keep it.
func formerly(name string) pulumi.ResourceOption {
	return pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(name)}})
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
func newGitOps(ctx *pulumi.Context, name string, plan Plan, namespace pulumi.StringOutput, opts ...pulumi.ResourceOption) (*GitOps, error) {
	g := &GitOps{}
	if err := ctx.RegisterComponentResource(GitOpsType, name, g, opts...); err != nil {
		return nil, fmt.Errorf("registering the operator hand-over: %w", err)
	}
	o := plan.Args.GitOps.withDefaults(plan.App.Name)
	parent := pulumi.Parent(g)
	labels := pulumi.StringMap{vocab.LabelPartOf: pulumi.String(plan.App.Name), vocab.LabelManagedBy: pulumi.String("pulumi")}
	owned := pulumi.ToStringMap(plan.Marks())

	sa, err := corev1.NewServiceAccount(ctx, name+"-sa", &corev1.ServiceAccountArgs{
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(o.ServiceAccount), Namespace: namespace, Labels: labels, Annotations: owned},
	}, parent, formerly(o.ServiceAccount))
	if err != nil {
		return nil, fmt.Errorf("registering service account %q: %w", o.ServiceAccount, err)
	}
	subjects := rbacv1.SubjectArray{rbacv1.SubjectArgs{
		Kind: pulumi.String("ServiceAccount"), Name: sa.Metadata.Name().Elem(), Namespace: namespace,
	}}
	deps := []pulumi.Resource{sa}

	delegator, err := rbacv1.NewClusterRoleBinding(ctx, name+"-auth-delegator", &rbacv1.ClusterRoleBindingArgs{
		Metadata: metav1.ObjectMetaArgs{Labels: labels, Annotations: owned},
		RoleRef: rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: pulumi.String("system:auth-delegator"),
		},
		Subjects: subjects,
	}, parent, formerly(o.ServiceAccount+"-auth-delegator"))
	if err != nil {
		return nil, fmt.Errorf("registering the auth-delegator binding: %w", err)
	}
	admin, err := rbacv1.NewRoleBinding(ctx, name+"-admin", &rbacv1.RoleBindingArgs{
		Metadata: metav1.ObjectMetaArgs{Namespace: namespace, Labels: labels, Annotations: owned},
		RoleRef: rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: pulumi.String("admin"),
		},
		Subjects: subjects,
	}, parent, formerly(o.ServiceAccount+"-admin"))
	if err != nil {
		return nil, fmt.Errorf("registering the namespace admin binding: %w", err)
	}
	deps = append(deps, delegator, admin)

	if plan.CreateNamespace {
		role, err := rbacv1.NewClusterRole(ctx, name+"-namespace", &rbacv1.ClusterRoleArgs{
			Metadata: metav1.ObjectMetaArgs{Labels: labels, Annotations: owned},
			Rules: rbacv1.PolicyRuleArray{rbacv1.PolicyRuleArgs{
				ApiGroups:     pulumi.StringArray{pulumi.String("")},
				Resources:     pulumi.StringArray{pulumi.String("namespaces")},
				ResourceNames: pulumi.StringArray{namespace},
				Verbs:         pulumi.ToStringArray([]string{"get", "list", "watch", "update", "patch", "delete"}),
			}},
		}, parent, formerly(o.ServiceAccount+"-namespace"))
		if err != nil {
			return nil, fmt.Errorf("registering the namespace role: %w", err)
		}
		binding, err := rbacv1.NewClusterRoleBinding(ctx, name+"-namespace", &rbacv1.ClusterRoleBindingArgs{
			Metadata: metav1.ObjectMetaArgs{Labels: labels, Annotations: owned},
			RoleRef: rbacv1.RoleRefArgs{
				ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: role.Metadata.Name().Elem(),
			},
			Subjects: subjects,
		}, parent, formerly(o.ServiceAccount+"-namespace"))
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
		"resyncFrequencySeconds": int(o.resync.Seconds()),
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
	g.Stack, err = apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String("pulumi.com/v1"),
		Kind:        pulumi.String("Stack"),
		Metadata:    metav1.ObjectMetaArgs{Namespace: namespace, Labels: labels, Annotations: owned},
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
