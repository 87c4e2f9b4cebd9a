package release

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
	"github.com/pulumi-jobs/pulumi-jobs/infra/rollout"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// AppType is the type token of the app phase. It is not App's, the type of
// the app's args: one token, one thing.
const AppType = "pulumi-jobs:index:AppPhase"

// AnnotationSkipAwait tells the Kubernetes provider not to await a resource.
const AnnotationSkipAwait = "pulumi.com/skipAwait"

// portName is the name of the app's container port, which the Service targets.
const portName = "http"

// AppPhase is the app phase of a release (pulumi-jobs:index:AppPhase): the app's
// Deployment and its ClusterIP Service. Both depend on every pre-deploy Job,
// so a release's pods never start before its migrations have completed and a
// failed migration leaves the running app untouched.
//
// The Service is not awaited (pulumi.com/skipAwait): the provider's Service
// awaiter (v4.25.0, pkg/await/service.go) sleeps 10 s after every Endpoints
// event before it calls the endpoints settled, and every post-deploy Job
// would wait for that. What a post-deploy Job needs is pods that are Ready
// behind the Service, and the Deployment's await already guarantees that
// (Available, the new ReplicaSet's pods Ready); the Service's selector is
// the Deployment's own pod labels, so its endpoints are those pods.
type AppPhase struct {
	pulumi.ResourceState

	// Deployment is the app's Deployment.
	Deployment *appsv1.Deployment
	// Service is the app's ClusterIP Service.
	Service *corev1.Service
	// DeploymentName is the Deployment's name in the cluster.
	DeploymentName pulumi.StringOutput `pulumi:"deploymentName"`
	// ServiceName is the Service's name in the cluster.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`

	// objects are the app's objects when it comes from files.
	objects []pulumi.Resource
	// rolledOut resolves once the rollouts of the app's Deployments are
	// complete (awaitRollouts); nil when the provider awaits them.
	rolledOut pulumi.ResourceArrayOutput
}

// registerAppPhase registers the app phase component of the release name,
// with aliases to the tokens and names earlier versions gave it (its
// children follow it: the engine derives their aliases from their parent's).
func registerAppPhase(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (*AppPhase, error) {
	d := &AppPhase{}
	opts = append(opts, pulumi.Aliases([]pulumi.Alias{
		{Type: pulumi.String(legacyAppType)},
		{Name: pulumi.String(name + "-deploy"), Type: pulumi.String(legacyDeployType)},
	}))
	if err := ctx.RegisterComponentResource(AppType, name+"-app", d, opts...); err != nil {
		return nil, fmt.Errorf("registering the app of release %q: %w", name, err)
	}
	return d, nil
}

// appInputs are the inputs of the app phase that come from the release.
type appInputs struct {
	namespace      pulumi.StringInput
	image          pulumi.StringInput
	databaseSecret pulumi.StringInput
	// marks are the release's annotations on every object (Plan.Marks).
	marks map[string]string
	// rollouts is Plan.rollouts: the cluster where the release awaits the
	// Deployment's rollout itself, or nil.
	rollouts *rest.Config
}

// newApp registers the app phase of the release name; opts carry its
// DependsOn on the pre-deploy Jobs, which the Deployment and Service get
// too (a component's DependsOn alone would not order its children).
func newApp(ctx *pulumi.Context, name string, app AppPlan, in appInputs, opts ...pulumi.ResourceOption) (*AppPhase, error) {
	d, err := registerAppPhase(ctx, name, opts...)
	if err != nil {
		return nil, err
	}
	ro, err := pulumi.NewResourceOptions(opts...)
	if err != nil {
		return nil, fmt.Errorf("reading the options of the app of release %q: %w", name, err)
	}
	childOpts := []pulumi.ResourceOption{pulumi.Parent(d), pulumi.DependsOn(ro.DependsOn)}

	selector := pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(app.Name)}
	labels := pulumi.StringMap{
		"app.kubernetes.io/name": pulumi.String(app.Name),
		vocab.LabelPartOf:        pulumi.String(app.Name),
		vocab.LabelManagedBy:     pulumi.String("pulumi"),
	}
	probe := corev1.ProbeArgs{
		TcpSocket:        corev1.TCPSocketActionArgs{Port: pulumi.String(portName)},
		PeriodSeconds:    pulumi.Int(5),
		FailureThreshold: pulumi.Int(3),
	}
	if app.ReadinessPath != "" {
		probe.TcpSocket = nil
		probe.HttpGet = corev1.HTTPGetActionArgs{Path: pulumi.String(app.ReadinessPath), Port: pulumi.String(portName)}
	}
	main := corev1.ContainerArgs{
		Name:            pulumi.String(appContainer),
		Image:           in.image,
		Ports:           corev1.ContainerPortArray{corev1.ContainerPortArgs{Name: pulumi.String(portName), ContainerPort: pulumi.Int(app.Port)}},
		Env:             pod.Env(app.Env, in.databaseSecret),
		Resources:       app.Resources.Args(),
		ReadinessProbe:  probe,
		SecurityContext: pod.ContainerSecurity(),
		VolumeMounts:    pod.TmpMounts(),
	}
	if app.ReadinessProbe != nil {
		main.ReadinessProbe = pod.Plain(app.ReadinessProbe).(corev1.ProbePtrOutput)
	}
	if app.LivenessProbe != nil {
		main.LivenessProbe = pod.Plain(app.LivenessProbe).(corev1.ProbePtrOutput)
	}
	if app.StartupProbe != nil {
		main.StartupProbe = pod.Plain(app.StartupProbe).(corev1.ProbePtrOutput)
	}
	spec := corev1.PodSpecArgs{
		AutomountServiceAccountToken: pulumi.Bool(false),
		EnableServiceLinks:           pulumi.Bool(false),
		SecurityContext:              pod.Security(),
		Volumes:                      pod.TmpVolumes(),
	}
	podLabels := pulumi.StringMap{}
	for k, v := range labels {
		podLabels[k] = v
	}
	podAnnotations := pulumi.StringMap{}
	app.Pod.Apply(&spec, &main, podLabels, podAnnotations)
	spec.Containers = corev1.ContainerArray{main}
	template := metav1.ObjectMetaArgs{Labels: podLabels}
	if len(podAnnotations) > 0 {
		template.Annotations = podAnnotations
	}
	// Left out, replicas is the cluster's to keep (an HPA's, kubectl
	// scale's): server-side apply never resets a field it does not set.
	var replicas pulumi.IntPtrInput
	if app.ReplicasSet {
		replicas = pulumi.Int(app.Replicas)
	}

	annotations := in.marks
	if in.rollouts != nil {
		annotations = skipProviderAwait(annotations)
	}
	d.Deployment, err = appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
		Metadata: metav1.ObjectMetaArgs{
			// Fixed names: the app is addressed by name (Service DNS, kubectl).
			Name:        pulumi.String(app.Name),
			Namespace:   in.namespace,
			Labels:      labels,
			Annotations: pulumi.ToStringMap(annotations),
		},
		Spec: appsv1.DeploymentSpecArgs{
			Replicas: replicas,
			Selector: metav1.LabelSelectorArgs{MatchLabels: selector},
			// Never below the desired capacity: old pods keep serving until
			// new ones are Ready, and a release whose pods never become Ready
			// leaves the previous release serving.
			Strategy: appsv1.DeploymentStrategyArgs{
				Type: pulumi.String("RollingUpdate"),
				RollingUpdate: appsv1.RollingUpdateDeploymentArgs{
					MaxUnavailable: pulumi.Int(0),
					MaxSurge:       pulumi.Int(1),
				},
			},
			Template: corev1.PodTemplateSpecArgs{Metadata: template, Spec: spec},
		},
	}, childOpts...)
	if err != nil {
		return nil, fmt.Errorf("registering deployment %q: %w", app.Name, err)
	}

	d.Service, err = corev1.NewService(ctx, name, &corev1.ServiceArgs{
		Metadata: metav1.ObjectMetaArgs{
			Name:        pulumi.String(app.Name),
			Namespace:   in.namespace,
			Labels:      labels,
			Annotations: pulumi.ToStringMap(withMark(in.marks, AnnotationSkipAwait, "true")),
		},
		Spec: corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: selector,
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name:       pulumi.String(portName),
				Port:       pulumi.Int(app.Port),
				TargetPort: pulumi.String(portName),
			}},
		},
	}, childOpts...)
	if err != nil {
		return nil, fmt.Errorf("registering service %q: %w", app.Name, err)
	}

	if in.rollouts != nil {
		d.rolledOut = awaitRollouts(ctx, in.rollouts, in.namespace,
			[]rolloutTarget{{kind: rollout.Deployment, name: app.Name, resource: d.Deployment}}, []pulumi.Resource{d.Service})
	}
	d.DeploymentName = d.afterRollout(d.Deployment.Metadata.Name().Elem())
	d.ServiceName = d.afterRollout(d.Service.Metadata.Name().Elem())
	return d, d.registerOutputs(ctx, name)
}

// registerOutputs registers the outputs of the app of release name.
func (d *AppPhase) registerOutputs(ctx *pulumi.Context, name string) error {
	if err := ctx.RegisterResourceOutputs(d, pulumi.Map{
		"deploymentName": d.DeploymentName,
		"serviceName":    d.ServiceName,
	}); err != nil {
		return fmt.Errorf("registering outputs of the app of release %q: %w", name, err)
	}
	return nil
}

// afterRollout is s, resolved once the app's rollouts are complete (as is
// everything that depends on s: the release's deploymentName output, in
// Go too), and failing with the first that cannot finish.
func (d *AppPhase) afterRollout(s pulumi.StringOutput) pulumi.StringOutput {
	if d.rolledOut.OutputState == nil {
		return s
	}
	return pulumi.All(s, d.rolledOut).ApplyT(func(vs []any) string { return vs[0].(string) }).(pulumi.StringOutput)
}

// RolledOut is the option that makes a resource wait for the rollouts of
// the app's Deployments that the release awaits itself (rollout.go), and
// fail with the first that cannot finish; with Children, what comes after
// the app depends on. Without such rollouts it adds nothing.
func (d *AppPhase) RolledOut() pulumi.ResourceOption {
	if d.rolledOut.OutputState == nil {
		return pulumi.DependsOn(nil)
	}
	return pulumi.DependsOnInputs(d.rolledOut)
}

// Children returns the app's objects: the Deployment and the Service, or
// every object of the app from files, each awaited as the provider awaits
// its kind, except the Deployments the release awaits itself (RolledOut).
func (d *AppPhase) Children() []pulumi.Resource {
	if d.Deployment == nil {
		// From files (or a chart with hooks only: no object at all).
		return d.objects
	}
	return []pulumi.Resource{d.Deployment, d.Service}
}

// checkPods checks the release's pod block and the app's, its probes, and
// puts the app's merged block and probes on the plan. The jobs' blocks are
// the jobs package's to check (jobs.Plan).
func checkPods(p *check.Problems, args *Args, plan *Plan) {
	restricted := plan.CreateNamespace
	databaseURL := args.DatabaseURL != nil
	args.Pod.Check(p, "pod", pod.Scope{Restricted: restricted, DatabaseURL: databaseURL})
	a := args.App
	if a.fromFiles() {
		for _, f := range []struct {
			key string
			set bool
		}{{"app.pod", a.Pod != nil}, {"app.readinessProbe", a.ReadinessProbe != nil},
			{"app.livenessProbe", a.LivenessProbe != nil}, {"app.startupProbe", a.StartupProbe != nil}} {
			if f.set {
				p.Add(f.key, "has no effect with the app from files (app.manifests or app.chart); set it in the files, or remove it")
			}
		}
		return
	}
	a.Pod.Check(p, "app.pod", pod.Scope{Base: args.Pod, Restricted: restricted, Main: appContainer, Env: a.Env, DatabaseURL: databaseURL})
	plan.App.Pod = pod.Merge(args.Pod, a.Pod)
	if a.ReadinessProbe != nil && a.ReadinessPath != "" {
		p.Add("app.readinessProbe", "cannot be set with readinessPath, which makes a readiness probe of its own; keep one")
	}
	for _, pr := range []struct {
		key   string
		probe *corev1.Probe
	}{{"app.readinessProbe", a.ReadinessProbe}, {"app.livenessProbe", a.LivenessProbe}, {"app.startupProbe", a.StartupProbe}} {
		checkProbe(p, pr.key, pr.probe, restricted)
	}
	plan.App.ReadinessProbe, plan.App.LivenessProbe, plan.App.StartupProbe = a.ReadinessProbe, a.LivenessProbe, a.StartupProbe
}

// appContainer is the name of the app's container.
const appContainer = "app"

// checkProbe checks one probe of the app: exactly one handler, and no host
// where Pod Security "restricted" is enforced (a probe may only reach its
// own pod).
func checkProbe(p *check.Problems, key string, pr *corev1.Probe, restricted bool) {
	if pr == nil {
		return
	}
	n := 0
	for _, set := range []bool{pr.HttpGet != nil, pr.TcpSocket != nil, pr.Exec != nil, pr.Grpc != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		p.Add(key, `must have exactly one of httpGet, tcpSocket, exec, grpc, has %d; e.g. {httpGet: {path: /livez, port: %s}}`, n, portName)
	}
	if pr.HttpGet != nil && pr.HttpGet.Port == nil {
		p.Add(key+".httpGet.port", "required; the port's name %q or its number", portName)
	}
	if pr.TcpSocket != nil && pr.TcpSocket.Port == nil {
		p.Add(key+".tcpSocket.port", "required; the port's name %q or its number", portName)
	}
	if !restricted {
		return
	}
	if pr.HttpGet != nil && pr.HttpGet.Host != nil && *pr.HttpGet.Host != "" {
		p.Add(key+".httpGet.host", "a probe may only reach its own pod: remove it; the namespace enforces Pod Security restricted")
	}
	if pr.TcpSocket != nil && pr.TcpSocket.Host != nil && *pr.TcpSocket.Host != "" {
		p.Add(key+".tcpSocket.host", "a probe may only reach its own pod: remove it; the namespace enforces Pod Security restricted")
	}
}
