// Package release is the Release component (pulumi-jobs:index:Release): one
// application released in three phases that the engine's dependency graph
// runs in this order every time:
//
//	<name>-pre-deploy   Jobs      (pulumi-jobs:index:Jobs)      waves of Jobs, e.g. migrations
//	<name>-app          AppPhase  (pulumi-jobs:index:AppPhase)  the app's Deployment and Service
//	<name>-post-deploy  Jobs      (pulumi-jobs:index:Jobs)      waves of Jobs, e.g. smoke tests
//
// plus, when asked, the namespace (created and owned, Pod Security
// "restricted" enforced), the Secret holding the database URL, and the
// hand-over to the Pulumi Kubernetes Operator (pulumi-jobs:index:GitOps).
// The phases are the jobs package's component, so a Release and a program
// that puts Jobs around its own app share one implementation.
//
// Every child is named from the Release's name, so any number of releases
// coexist in one program. Every ordering edge is a DependsOn on the
// Kubernetes resources themselves, recorded in state on each of them.
package release

import (
	"fmt"
	"maps"
	"slices"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/deletehook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// Type is the Release component's type token.
const Type = "pulumi-jobs:index:Release"

// The labels of the phases' Jobs (vocab.LabelPhase).
const (
	PreDeployPhase  = "pre-deploy"
	PostDeployPhase = "post-deploy"
)

// Type tokens of the components of earlier versions, kept as aliases so a
// stack deployed by them is updated in place rather than recreated.
const (
	legacyPreDeployType = "pulumi-jobs:index:PreDeploy"
	legacyDeployType    = "pulumi-jobs:index:Deploy"
	// legacyAppType is the app phase's token in 0.2 and 0.3, which the
	// App args type (app: in the config and the schema) has too.
	legacyAppType        = "pulumi-jobs:index:App"
	legacyPostDeployType = "pulumi-jobs:index:PostDeploy"
)

// Args are the inputs of a Release.
type Args struct {
	// Namespace is the Kubernetes namespace of every object of the release.
	Namespace pulumi.StringInput `pulumi:"namespace"`
	// CreateNamespace says whether the release creates (and owns) the
	// namespace; true by default.
	CreateNamespace *bool `pulumi:"createNamespace,optional"`
	// Image is the release's container image: the app's, and the default of
	// every Job. A change rolls the app and re-runs the onChange and
	// onRelease Jobs.
	Image pulumi.StringInput `pulumi:"image"`
	// App is the long-running application.
	App App `pulumi:"app"`
	// PreDeploy are the Jobs that run before the app is rolled out.
	PreDeploy []jobs.Job `pulumi:"preDeploy,optional"`
	// PostDeploy are the Jobs that run once the app is rolled out.
	PostDeploy []jobs.Job `pulumi:"postDeploy,optional"`
	// ReleaseID is the release id (build number, git SHA); a change re-runs
	// the onRelease Jobs.
	ReleaseID pulumi.StringInput `pulumi:"release,optional"`
	// DatabaseURL is the database URL, kept secret; the app and every Job
	// get it as DATABASE_URL from a Secret.
	DatabaseURL pulumi.StringInput `pulumi:"databaseUrl,optional" provider:"secret"`
	// GitOps, when set, hands the release over to the Pulumi Kubernetes Operator.
	GitOps *GitOpsSettings `pulumi:"gitops,optional"`
	// Kubeconfig, when set, is the kubeconfig (contents or path) of the
	// cluster to release to, for callers that cannot pass a provider.
	Kubeconfig pulumi.StringInput `pulumi:"kubeconfig,optional" provider:"secret"`
	// Context, when set, is the kubeconfig context to use.
	Context pulumi.StringInput `pulumi:"context,optional"`
	// Adopt lets the release take over objects that exist in the cluster
	// and that it did not create (from Helm, kubectl or another stack);
	// false by default, when the release refuses them, naming each, before
	// anything is created. Adopted objects are marked as the release's own
	// and listed at preview; from then on they are the release's, and
	// destroy deletes them (an adopted namespace with everything in it).
	Adopt *bool `pulumi:"adopt,optional"`
	// Pod is the pod block of every pod the release builds — the app's and
	// every job's with a command — which theirs (app.pod, a job's pod) are
	// merged over (pod.Merge). Not for an app from files or a job's manifest.
	Pod *pod.Settings `pulumi:"pod,optional"`
	// AdoptFrom is the owner mark ("<project>/<stack>/<release>") of
	// another release of pulumi-jobs whose objects adopt may take over;
	// without it, adopt refuses the objects any other release of
	// pulumi-jobs holds (it may be live, and would take them back).
	AdoptFrom string `pulumi:"adoptFrom,optional"`

	// Cluster, when set, is where the release looks up the objects it
	// would create before it creates any (Go callers only). By default it
	// is the cluster that kubeconfig and context name, else the stack's
	// kubernetes:kubeconfig and kubernetes:context, else $KUBECONFIG,
	// ~/.kube/config or the pod's service account, as for the provider.
	Cluster ownership.Cluster
}

// App is the application's Deployment and Service.
type App struct {
	// Name is the Deployment's and Service's name (a DNS-1035 label).
	Name string `pulumi:"name"`
	// Replicas is the desired replica count. Left out, the Deployment's
	// spec does not set it: Kubernetes starts it with 1, and a count set
	// since (an HPA, kubectl scale) is never reset by an up.
	Replicas *int `pulumi:"replicas,optional"`
	// Port is the container port the app listens on; 8080 by default.
	Port *int `pulumi:"port,optional"`
	// Env is the app's environment.
	Env map[string]string `pulumi:"env,optional"`
	// Resources are the requests and limits of the app's container, also
	// the default of the Jobs'.
	Resources *pod.Resources `pulumi:"resources,optional"`
	// ReadinessPath is the HTTP path of the readiness probe; empty means a TCP probe.
	ReadinessPath string `pulumi:"readinessPath,optional"`
	// ReadinessProbe, when set, is the readiness probe instead of the one
	// readinessPath makes.
	ReadinessProbe *corev1.Probe `pulumi:"readinessProbe,optional" provider:"type=kubernetes@4.25.0:core/v1:Probe"`
	// LivenessProbe is the app container's liveness probe; none by default.
	LivenessProbe *corev1.Probe `pulumi:"livenessProbe,optional" provider:"type=kubernetes@4.25.0:core/v1:Probe"`
	// StartupProbe is the app container's startup probe; none by default.
	StartupProbe *corev1.Probe `pulumi:"startupProbe,optional" provider:"type=kubernetes@4.25.0:core/v1:Probe"`
	// Pod is the app's pod block, merged over the release's (pod.Merge).
	Pod *pod.Settings `pulumi:"pod,optional"`
	// Manifests is the app as the team's own files instead of the built-in
	// Deployment and Service: a YAML file, a directory of YAML files or a
	// kustomization directory, relative to the project directory.
	Manifests string `pulumi:"manifests,optional"`
	// Chart is the app as a Helm chart, whose hooks run as the phases.
	Chart *Chart `pulumi:"chart,optional"`
}

// Defaults of the app.
const (
	DefaultReplicas = 1
	DefaultPort     = 8080
)

// Release is the pulumi-jobs:index:Release component.
type Release struct {
	pulumi.ResourceState

	// Namespace is the namespace of every object of the release.
	Namespace pulumi.StringOutput `pulumi:"namespace"`
	// DeploymentName is the app's Deployment's name in the cluster.
	DeploymentName pulumi.StringOutput `pulumi:"deploymentName"`
	// ServiceName is the app's Service's name in the cluster.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// PreDeployJobs are the cluster names of the pre-deploy runs, in wave order.
	PreDeployJobs pulumi.StringArrayOutput `pulumi:"preDeployJobs"`
	// PostDeployJobs are the cluster names of the post-deploy runs, in wave order.
	PostDeployJobs pulumi.StringArrayOutput `pulumi:"postDeployJobs"`

	// PreDeploy is the pre-deploy phase (Go callers only).
	PreDeploy *jobs.Jobs
	// App is the app phase (Go callers only).
	App *AppPhase
	// PostDeploy is the post-deploy phase (Go callers only).
	PostDeploy *jobs.Jobs
	// GitOps is the operator hand-over; nil unless asked for (Go callers only).
	GitOps *GitOps
	// Plan is the plan as registered, a chart rendered as this release of
	// it (Go callers only).
	Plan Plan
}

// Plan is a validated Release: its args with every default applied.
type Plan struct {
	// Args are the args as given.
	Args *Args
	// CreateNamespace says whether the release owns its namespace.
	CreateNamespace bool
	// KeepNamespace says that the namespace the release creates outlives
	// it: app objects in it ask to be kept (manifest.Kept), and deleting
	// the namespace would delete them.
	KeepNamespace bool
	// App is the app with its defaults.
	App AppPlan
	// PreDeploy and PostDeploy are the phases' Jobs by wave.
	PreDeploy, PostDeploy []jobs.Wave
	// PreHooks and PostHooks are a chart's hooks that are not Jobs.
	PreHooks, PostHooks Hooks
	// CRDs are a chart's crds/ objects that the cluster lacks, or that this
	// release installed (its owner mark): installed before everything else
	// of the release, never updated, never deleted (RetainOnDelete), never
	// claimed by the ownership check. A CRD the cluster has from anyone
	// else is used as it is (resolve drops it).
	CRDs []manifest.Object
	// PreDeletions and PostDeletions are a chart's hooks that the release
	// deletes once every hook of their phase has succeeded
	// (hook-delete-policy: hook-succeeded).
	PreDeletions, PostDeletions []Deletion
	// Ran are a chart's hook Jobs that ran for an earlier revision and do
	// not run in this release, as its record says.
	Ran []RanHook
	// PreDelete and PostDelete are a chart's pre-delete and post-delete
	// hooks, which the release's destroy runs: before the app's objects
	// are deleted, and after (deletehook).
	PreDelete, PostDelete DeleteEvent
	// Owner is the mark (ownership.Annotation) on every object the
	// release creates: "<project>/<stack>/<release name>".
	Owner string
	// Adopt says whether the release takes over objects it did not create.
	Adopt bool
	// Warnings are what the release will do that its args may not expect,
	// one sentence each; New logs them at preview and up.
	Warnings []string

	// hookImages counts the hooks' containers given the release image.
	hookImages int
	// name is the release's name and stack where it is constructed.
	name  string
	stack vocab.Stack
	// record is what a chart's release leaves in the cluster once it has
	// succeeded (planChart); nil for an app that is not a chart.
	record *Record
	// hadDeleteHooks are the delete events the last release's record lists.
	hadDeleteHooks []string
	// cluster is the release's cluster as resolve found it; nil when it
	// has none to ask.
	cluster *rest.Config
	// preview says that this run of the program is a preview.
	preview bool
	// rollouts is the cluster where the release awaits its Deployments'
	// rollouts itself (rollout.go); nil leaves them to the provider.
	rollouts *rest.Config
	// claimed are the objects the release takes over in this run (adopt),
	// once resolve has asked the cluster; nil before (MarksOf).
	claimed map[ownership.Ref]bool
}

// AppPlan is the app with every default applied.
type AppPlan struct {
	// Name, Replicas, Port, Env and ReadinessPath are as in App.
	Name          string
	Replicas      int
	Port          int
	Env           map[string]string
	ReadinessPath string
	// ReplicasSet says that app.replicas is set: the Deployment's spec sets
	// Replicas. Otherwise it leaves the count to the cluster (an HPA), and
	// Replicas is the count Kubernetes starts it with.
	ReplicasSet bool
	// ReadinessProbe, LivenessProbe and StartupProbe are as in App.
	ReadinessProbe, LivenessProbe, StartupProbe *corev1.Probe
	// Pod is the app's pod block merged over the release's; nil for none.
	Pod *pod.Settings
	// Resources have their defaults applied.
	Resources pod.Resources
	// Objects are the app's objects when it comes from files, ready to
	// register: namespace, image and Pod Security fields filled in.
	Objects []manifest.Object
	// Varying are, per object ("Kind/name") of a chart's app or hooks that
	// are not Jobs, the fields whose values differ from one render to the
	// next (random values): a preview registers them unknown (varying.go).
	Varying map[string][]Path
	// Unchanged says that the app is a chart whose inputs (chart, values,
	// image, release id) are those of its last release: its objects keep
	// the content that release applied, so that a chart rendering random
	// values (genCA, randAlphaNum) changes nothing on an up that changes
	// nothing, as Flux's helm-controller does not upgrade then.
	Unchanged bool
}

// NewPlan validates the args of the release name, constructed in stack, and
// applies the defaults. Every problem is added to p, keys as the args spell them
// ("app.name", "preDeploy[1].timeout", "gitops.targetStack").
func NewPlan(p *check.Problems, name string, stack vocab.Stack, args *Args) Plan {
	if args == nil {
		args = &Args{}
	}
	plan := Plan{
		Args: args, CreateNamespace: args.CreateNamespace == nil || *args.CreateNamespace,
		Owner: ownership.Owner(stack.Project, stack.Name, name), Adopt: args.Adopt != nil && *args.Adopt,
		name: name, stack: stack,
	}
	ns, nsKnown := "", false
	if args.Namespace == nil {
		p.Add("namespace", "required; the Kubernetes namespace of the release, e.g. shop")
	} else if ns, nsKnown = vocab.Literal(args.Namespace); nsKnown {
		if ns == "" {
			p.Add("namespace", "required; the Kubernetes namespace of the release, e.g. shop")
		} else {
			check.Namespace(p, "namespace", ns)
		}
	}
	if args.Image == nil {
		p.Add("image", `required; the image to release as repo:tag or repo@sha256:…, e.g. "ghcr.io/acme/shop:1.4.2"`)
	} else if img, ok := vocab.Literal(args.Image); ok {
		if img == "" {
			p.Add("image", `required; the image to release as repo:tag or repo@sha256:…, e.g. "ghcr.io/acme/shop:1.4.2"`)
		} else {
			check.Image(p, "image", img, stack.Name)
		}
	}
	plan.App = checkApp(p, args.App)
	checkPods(p, args, &plan)

	image := args.Image
	if image == nil {
		// Reported once, as image; not again for every job.
		image = pulumi.String("")
	}
	// The Secret of the database URL is registered later: here it only
	// says that the jobs get DATABASE_URL from it.
	var databaseSecret pulumi.StringInput
	if args.DatabaseURL != nil {
		databaseSecret = pulumi.String(name + "-database")
	}
	jobArgs := func(list []jobs.Job, phase string) *jobs.Args {
		return &jobs.Args{
			Namespace: args.Namespace, Image: image, ReleaseID: args.ReleaseID, Jobs: list,
			Resources: &plan.App.Resources, Phase: phase, PartOf: plan.App.Name,
			FillPodSecurity: &plan.CreateNamespace, Pod: args.Pod, DatabaseSecret: databaseSecret,
		}
	}
	plan.PreDeploy = jobs.Plan(p, "preDeploy", name+"-"+PreDeployPhase, stack, jobArgs(args.PreDeploy, PreDeployPhase))
	plan.PostDeploy = jobs.Plan(p, "postDeploy", name+"-"+PostDeployPhase, stack, jobArgs(args.PostDeploy, PostDeployPhase))
	if args.App.fromFiles() {
		// After the phases' own jobs: Argo CD's hook Jobs join their waves
		// (a chart's join them when it is rendered: RenderChart).
		planFiles(p, stack, args, &plan)
	}
	if args.App.Chart == nil {
		jobs.Unique(p, plan.PreDeploy, plan.PostDeploy)
	}
	if args.GitOps != nil {
		checkGitOps(p, args.GitOps, stack.Name, stack.Project, ns)
	}
	return plan
}

// checkApp checks the app and applies its defaults.
func checkApp(p *check.Problems, a App) AppPlan {
	app := AppPlan{
		Name: a.Name, Replicas: DefaultReplicas, Port: DefaultPort, Env: a.Env,
		ReadinessPath: a.ReadinessPath, Resources: a.Resources.WithDefaults(nil),
	}
	if a.Name == "" {
		p.Add("app.name", "required; a DNS-1035 label naming the Deployment and Service, e.g. shop")
	} else {
		// A Service's name must be a DNS-1035 label: unlike DNS-1123, it
		// may not start with a digit.
		check.Name(p, "app.name", a.Name, validation.IsDNS1035Label)
	}
	if a.Replicas != nil {
		check.ReplicasRange().Int(p, "app.replicas", *a.Replicas)
		app.Replicas, app.ReplicasSet = *a.Replicas, true
	}
	if a.Port != nil {
		check.PortRange().Int(p, "app.port", *a.Port)
		app.Port = *a.Port
	}
	check.Env(p, "app.env", a.Env)
	a.Resources.Check(p, "app.resources", nil)
	if a.ReadinessPath != "" && a.ReadinessPath[0] != '/' {
		p.Add("app.readinessPath", `must be an HTTP path starting with "/", e.g. "/healthz"; leave it out for a TCP probe`)
	}
	return app
}

// New registers a release and all of its phases. Invalid args are reported
// all at once, as a *check.ArgsError, before anything is registered.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Release, error) {
	p := &check.Problems{}
	plan := NewPlan(p, name, vocab.StackOf(ctx), args)
	if len(p.List) > 0 {
		return nil, &check.ArgsError{Resource: Type + " " + name, Problems: p.List}
	}
	return NewFromPlan(ctx, name, plan, opts...)
}

// NewFromPlan registers the release name that NewPlan planned (files read),
// so a caller that has checked its args already — the stack program,
// through its config — plans each run once. Before anything is registered
// it asks the release's cluster what the plan needs to know (resolve): a
// chart is rendered as an install or an upgrade, with lookup, and every
// object the release would create is looked up (checkOwnership).
func NewFromPlan(ctx *pulumi.Context, name string, plan Plan, opts ...pulumi.ResourceOption) (*Release, error) {
	plan.preview = ctx.DryRun()
	if err := resolve(ctx, name, &plan, opts); err != nil {
		return nil, err
	}
	for _, w := range plan.Warnings {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return nil, fmt.Errorf("logging a warning of release %q: %w", name, err)
		}
	}
	return register(ctx, name, plan, opts...)
}

func register(ctx *pulumi.Context, name string, plan Plan, opts ...pulumi.ResourceOption) (*Release, error) {
	args := plan.Args
	r := &Release{Plan: plan}
	if err := ctx.RegisterComponentResource(Type, name, r, opts...); err != nil {
		return nil, fmt.Errorf("registering release %q: %w", name, err)
	}
	// What the release depends on, every child depends on: a component's
	// DependsOn alone orders none of its children.
	ro, err := pulumi.NewResourceOptions(opts...)
	if err != nil {
		return nil, fmt.Errorf("reading the options of release %q: %w", name, err)
	}
	childOpts := []pulumi.ResourceOption{pulumi.Parent(r), pulumi.DependsOn(ro.DependsOn)}
	for _, in := range ro.DependsOnInputs {
		childOpts = append(childOpts, pulumi.DependsOnInputs(in))
	}
	if args.Kubeconfig != nil || args.Context != nil {
		k8s, err := kubernetes.NewProvider(ctx, name, &kubernetes.ProviderArgs{
			Kubeconfig: args.Kubeconfig,
			Context:    args.Context,
		}, pulumi.Parent(r))
		if err != nil {
			return nil, fmt.Errorf("registering the Kubernetes provider of release %q: %w", name, err)
		}
		childOpts = append(childOpts, pulumi.Provider(k8s))
	}

	if len(plan.CRDs) > 0 {
		crds, err := registerCRDs(ctx, name, plan.CRDs, childOpts...)
		if err != nil {
			return nil, err
		}
		// Everything of the release comes after them, hooks included, as
		// Helm installs crds/ before anything else.
		childOpts = append(slices.Clip(childOpts), pulumi.DependsOn(crds))
	}
	namespace := args.Namespace.ToStringOutput()
	// nsResource is the namespace when the release creates it.
	var nsResource pulumi.Resource
	if plan.CreateNamespace {
		nsOpts := slices.Clip(childOpts)
		if ns, ok := vocab.Literal(args.Namespace); ok && ns != name {
			// Earlier versions named the Namespace resource after the namespace.
			nsOpts = append(nsOpts, pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(ns)}}))
		}
		if plan.KeepNamespace {
			nsOpts = append(nsOpts, pulumi.RetainOnDelete(true))
		}
		ns, err := corev1.NewNamespace(ctx, name, &corev1.NamespaceArgs{
			Metadata: metav1.ObjectMetaArgs{
				// A namespace has a fixed name: everything else is addressed by it.
				Name:        args.Namespace,
				Labels:      namespaceLabels(plan.App.Name),
				Annotations: pulumi.ToStringMap(plan.MarksOf(ownership.Ref{APIVersion: "v1", Kind: "Namespace", Name: nsOf(args)})),
			},
		}, nsOpts...)
		if err != nil {
			return nil, fmt.Errorf("registering the namespace of release %q: %w", name, err)
		}
		namespace = ns.Metadata.Name().Elem()
		nsResource = ns
	}
	r.Namespace = namespace

	// A chart's delete hooks run on destroy (deletehook): the post-delete
	// ones once everything else of the release is deleted, as all of it
	// depends on their resource (which depends on the namespace, deleted
	// after it); the pre-delete ones before anything is, as their resource
	// depends on all of it (registered below).
	var preDelete *DeleteEvent
	var deleteHooksProvider *deletehook.Provider
	if events := deleteEvents(plan); len(events) > 0 {
		if deleteHooksProvider, err = deletehook.NewProvider(ctx, name+"-delete-hooks", pulumi.Parent(r)); err != nil {
			return nil, fmt.Errorf("release %q: %w", name, err)
		}
	}
	for _, e := range deleteEvents(plan) {
		if e.Event == deletehook.PreDelete {
			preDelete = &e
			continue
		}
		post, err := registerDeleteHooks(ctx, name, plan, deleteHooksProvider, e, namespace, childOpts...)
		if err != nil {
			return nil, err
		}
		childOpts = append(slices.Clip(childOpts), pulumi.DependsOn([]pulumi.Resource{post}))
	}

	var databaseSecret pulumi.StringInput
	if args.DatabaseURL != nil {
		secret, err := corev1.NewSecret(ctx, name+"-database", &corev1.SecretArgs{
			Metadata: metav1.ObjectMetaArgs{
				Namespace:   namespace,
				Labels:      pulumi.StringMap{vocab.LabelPartOf: pulumi.String(plan.App.Name), vocab.LabelManagedBy: pulumi.String("pulumi")},
				Annotations: pulumi.ToStringMap(plan.Marks()),
			},
			Type:       pulumi.String("Opaque"),
			StringData: pulumi.StringMap{check.DatabaseURLEnv: pulumi.ToSecret(args.DatabaseURL).(pulumi.StringOutput)},
		}, childOpts...)
		if err != nil {
			return nil, fmt.Errorf("registering the database secret of release %q: %w", name, err)
		}
		databaseSecret = secret.Metadata.Name().Elem()
	}

	// The phases are registered from the plan NewPlan made: the jobs of the
	// args as planned there (files read once), plus any a chart's hooks add.
	phase := func(jobsName, label, legacyType string, list []jobs.Job, waves []jobs.Wave, extra ...pulumi.ResourceOption) (*jobs.Jobs, error) {
		o := append(append([]pulumi.ResourceOption{}, childOpts...), extra...)
		o = append(o, pulumi.Aliases([]pulumi.Alias{{Type: pulumi.String(legacyType)}}))
		return jobs.NewFromPlan(ctx, jobsName, &jobs.Args{
			Namespace: namespace, Image: args.Image, ReleaseID: args.ReleaseID, Jobs: list,
			DatabaseSecret: databaseSecret, Resources: &plan.App.Resources, Phase: label, PartOf: plan.App.Name,
			FillPodSecurity: &plan.CreateNamespace, Owner: plan.Owner, Pod: args.Pod,
		}, waves, o...)
	}
	preHooks, err := registerHooks(ctx, name, PreDeployPhase, plan.PreHooks, plan.App.Varying, childOpts...)
	if err != nil {
		return nil, err
	}
	if r.PreDeploy, err = phase(name+"-"+PreDeployPhase, PreDeployPhase, legacyPreDeployType, args.PreDeploy, plan.PreDeploy,
		pulumi.DependsOn(preHooks)); err != nil {
		return nil, err
	}
	deleteSucceeded(ctx, name, plan, plan.PreDeletions, r.PreDeploy, preHooks)
	appOpts := append(childOpts, pulumi.DependsOn(r.PreDeploy.Children()))
	if args.App.fromFiles() {
		r.App, err = newFilesApp(ctx, name, plan.App, plan.rollouts, namespace, appOpts...)
	} else {
		r.App, err = newApp(ctx, name, plan.App, appInputs{namespace: namespace, image: args.Image, databaseSecret: databaseSecret, marks: plan.MarksOf(
			ownership.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: nsOf(args), Name: plan.App.Name},
			ownership.Ref{APIVersion: "v1", Kind: "Service", Namespace: nsOf(args), Name: plan.App.Name}),
			rollouts: plan.rollouts}, appOpts...)
	}
	if err != nil {
		return nil, err
	}
	// What comes after the app waits for its rollout (RolledOut).
	postHooks, err := registerHooks(ctx, name, PostDeployPhase, plan.PostHooks, plan.App.Varying, append(childOpts, pulumi.DependsOn(r.App.Children()), r.App.RolledOut())...)
	if err != nil {
		return nil, err
	}
	if r.PostDeploy, err = phase(name+"-"+PostDeployPhase, PostDeployPhase, legacyPostDeployType, args.PostDeploy, plan.PostDeploy,
		pulumi.DependsOn(r.App.Children()), r.App.RolledOut(), pulumi.DependsOn(postHooks)); err != nil {
		return nil, err
	}
	deleteSucceeded(ctx, name, plan, plan.PostDeletions, r.PostDeploy, postHooks)
	var record pulumi.Resource
	if plan.record != nil {
		recordOpts := append(slices.Clip(childOpts),
			pulumi.DependsOn(r.App.Children()), r.App.RolledOut(), pulumi.DependsOn(postHooks), pulumi.DependsOn(r.PostDeploy.Children()))
		if nsResource != nil {
			// Destroy deletes the record with the namespace, after
			// everything else of the release, not first: a destroy that
			// stops half-way leaves the next up an upgrade.
			recordOpts = append(recordOpts, pulumi.DeletedWith(nsResource))
		}
		if record, err = registerRecord(ctx, name, plan, namespace, recordOpts...); err != nil {
			return nil, err
		}
	}
	if preDelete != nil {
		// It depends on the record too: a destroy that its pre-delete
		// hooks stop leaves the record, in the cluster and in the state.
		deps := []pulumi.Resource{}
		if record != nil {
			deps = append(deps, record)
		}
		if _, err := registerDeleteHooks(ctx, name, plan, deleteHooksProvider, *preDelete, namespace, append(slices.Clip(childOpts),
			pulumi.DependsOn(preHooks), pulumi.DependsOn(r.PreDeploy.Children()), pulumi.DependsOn(r.App.Children()),
			pulumi.DependsOn(postHooks), pulumi.DependsOn(r.PostDeploy.Children()), pulumi.DependsOn(deps))...); err != nil {
			return nil, err
		}
	}
	if args.GitOps != nil {
		if r.GitOps, err = newGitOps(ctx, name+"-gitops", plan, namespace, childOpts...); err != nil {
			return nil, err
		}
	}

	r.DeploymentName = r.App.DeploymentName
	r.ServiceName = r.App.ServiceName
	r.PreDeployJobs = r.PreDeploy.JobNames
	r.PostDeployJobs = r.PostDeploy.JobNames
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{
		"namespace":      r.Namespace,
		"deploymentName": r.DeploymentName,
		"serviceName":    r.ServiceName,
		"preDeployJobs":  r.PreDeployJobs,
		"postDeployJobs": r.PostDeployJobs,
	}); err != nil {
		return nil, fmt.Errorf("registering outputs of release %q: %w", name, err)
	}
	return r, nil
}

// AnnotationPatchForce makes the provider's server-side apply take the
// fields another field manager holds, instead of failing on the conflict.
const AnnotationPatchForce = "pulumi.com/patchForce"

// Marks are the annotations on every object of the release that has a
// fixed name: the owner mark, and while the release adopts, patchForce, so
// that taking over an object also takes over the fields another tool set
// (Helm's --take-ownership does the same). Adopting is one-shot: once the
// cluster has been asked (resolve), patchForce goes only on the objects
// the release takes over in this run (MarksOf), never again on one that
// carries its mark, where it would reset fields an HPA or another
// controller holds on every up.
func (plan Plan) Marks() map[string]string {
	return plan.MarksOf()
}

// MarksOf are the Marks of the objects refs name: patchForce when the
// release adopts and takes one of them over in this run (or the cluster
// was not asked, as in a preview without one).
func (plan Plan) MarksOf(refs ...ownership.Ref) map[string]string {
	m := map[string]string{ownership.Annotation: plan.Owner}
	if !plan.Adopt {
		return m
	}
	force := plan.claimed == nil
	for _, r := range refs {
		force = force || plan.claimed[r]
	}
	if force {
		m[AnnotationPatchForce] = "true"
	}
	return m
}

// withMark returns marks with one more annotation.
func withMark(marks map[string]string, key, value string) map[string]string {
	out := maps.Clone(marks)
	out[key] = value
	return out
}

// namespaceLabels enforce Pod Security "restricted" on the namespace: pods
// that are not locked down are refused at admission, not discovered later.
func namespaceLabels(app string) pulumi.StringMap {
	return pulumi.StringMap{
		"pod-security.kubernetes.io/enforce":         pulumi.String("restricted"),
		"pod-security.kubernetes.io/enforce-version": pulumi.String("latest"),
		"pod-security.kubernetes.io/warn":            pulumi.String("restricted"),
		"pod-security.kubernetes.io/audit":           pulumi.String("restricted"),
		vocab.LabelPartOf:                            pulumi.String(app),
		vocab.LabelManagedBy:                         pulumi.String("pulumi"),
	}
}
