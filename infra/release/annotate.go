package release

import "github.com/pulumi/pulumi-go-provider/infer"

// The descriptions of the Release component, its args and their object
// types in the package schema (provider/schema.json), from which the C#,
// TypeScript and Python SDKs get their doc comments. They follow the doc
// comments of the Go fields, worded for a user of any language: property
// names as the schema spells them, defaults and allowed values spelled out.
// Fields without a pulumi tag are Go-only and are not in the schema.
//
// infer reads them through infer.Annotated, on a pointer to each type.

// Annotate describes the Release component and its outputs.
func (r *Release) Annotate(an infer.Annotator) {
	an.Describe(&r, "An application released to Kubernetes in three phases that run in this order every time: "+
		"pre-deploy Jobs (e.g. database migrations), the app (a Deployment and a ClusterIP Service, or the app's own manifests or Helm chart), "+
		"and post-deploy Jobs (e.g. smoke tests). Jobs run in waves, re-run by policy (`rerun`), and every run is a new, auto-named Job "+
		"that is created and awaited before the previous one is deleted; the app's pods never start before the pre-deploy Jobs have succeeded, "+
		"and a failed Job leaves the running app untouched. When asked, the release also creates and owns its namespace "+
		"(enforcing Pod Security \"restricted\"), keeps the database URL in a Secret, and hands the release over to the Pulumi Kubernetes Operator (`gitops`).")
	an.Describe(&r.Namespace, "The Kubernetes namespace of every object of the release.")
	an.Describe(&r.DeploymentName, "The name in the cluster of the app's Deployment: `app.name` for the built-in Deployment, "+
		"else the first Deployment of `app.manifests` or `app.chart` (empty when they have none).")
	an.Describe(&r.ServiceName, "The name in the cluster of the app's Service: `app.name` for the built-in Service, "+
		"else the first Service of `app.manifests` or `app.chart` (empty when they have none).")
	an.Describe(&r.PreDeployJobs, "The cluster names of the current runs of the pre-deploy Jobs, in wave order.")
	an.Describe(&r.PostDeployJobs, "The cluster names of the current runs of the post-deploy Jobs, in wave order.")
}

// Annotate describes the inputs of a Release (the component's own
// description is Release's: Args is no type of the schema).
func (args *Args) Annotate(an infer.Annotator) {
	an.Describe(&args.Namespace, "The Kubernetes namespace of every object of the release: a DNS-1123 label that is not a namespace of Kubernetes itself "+
		"(`default`, `kube-*`), e.g. `shop`. Required.")
	an.Describe(&args.CreateNamespace, "Whether the release creates and owns the namespace, labelled to enforce Pod Security \"restricted\"; "+
		"`true` by default. Destroying the release then deletes the namespace with everything in it. "+
		"Set `false` to release into an existing namespace, whose labels are then yours to manage.")
	an.Describe(&args.Image, "The release's container image, as `repo:tag` or `repo@sha256:…` (e.g. `ghcr.io/acme/shop:1.4.2`): "+
		"the app's image and the default image of every Job. A change rolls the app and re-runs the `onChange` and `onRelease` Jobs. "+
		"On a production stack (`prod`, `production`, `prod-*`, `prod2`, …) it must be pinned to a version tag or a digest, not `latest`. Required.")
	an.Describe(&args.App, "The long-running application: the built-in Deployment and Service, or the app's own manifests (`manifests`) or Helm chart (`chart`). Required.")
	an.Describe(&args.PreDeploy, "The Jobs that run before the app is rolled out, e.g. database migrations. "+
		"Job names must be unique across `preDeploy` and `postDeploy`.")
	an.Describe(&args.PostDeploy, "The Jobs that run once the app is rolled out and Available, e.g. cache warm-up or smoke tests. "+
		"Job names must be unique across `preDeploy` and `postDeploy`.")
	an.Describe(&args.ReleaseID, "The release id, e.g. a build number or git SHA; a change re-runs the Jobs whose `rerun` is `onRelease`, "+
		"which need it set.")
	an.Describe(&args.DatabaseURL, "The database URL, kept secret: stored in a Kubernetes Secret, from which the app and every Job get it "+
		"as the environment variable `DATABASE_URL`.")
	an.Describe(&args.GitOps, "When set, hands the release over to the Pulumi Kubernetes Operator, which then runs `targetStack` of this project "+
		"from git, inside the cluster, on every new commit.")
	an.Describe(&args.Kubeconfig, "When set, the kubeconfig (its contents or a path to it) of the cluster to release to, for callers that cannot "+
		"pass a Kubernetes provider; kept secret. Without it the release uses the stack's default Kubernetes provider "+
		"(`kubernetes:kubeconfig` and `kubernetes:context`, else `$KUBECONFIG` or `~/.kube/config`). A Kubernetes provider passed as a resource option "+
		"is refused unless `kubeconfig` names its cluster too: before creating anything the release looks up, in that cluster, the objects it would create.")
	an.Describe(&args.Context, "When set, the kubeconfig context to use.")
	an.Describe(&args.Adopt, "Whether the release may take over objects that exist in the cluster and that it did not create "+
		"(from Helm, kubectl or another stack); `false` by default, when the release refuses them, naming each, before anything is created. "+
		"Adopted objects are marked as the release's own and listed at preview; from then on they are the release's, "+
		"and destroy deletes them (an adopted namespace with everything in it).")
	an.Describe(&args.Pod, "The pod block of every pod the release builds, the app's and every job's with a `command` "+
		"(not a job's `manifest`, `app.manifests` or `app.chart`): service account, pull secrets, node selector, tolerations, affinity, "+
		"priority class, pod labels and annotations, volumes, the main container's env (with `valueFrom`), envFrom, volumeMounts and "+
		"security-context fields, and native sidecars. `app.pod` and each job's `pod` are merged over it.")
	an.Describe(&args.AdoptFrom, "The owner mark (`<project>/<stack>/<release>`, as a refusal lists it) of another release of pulumi-jobs "+
		"whose objects `adopt` may take over. Without it, `adopt` refuses the objects that any other release of pulumi-jobs holds: "+
		"that release may be live, and its next up would take them back.")
}

// Annotate describes the app of a Release.
func (a *App) Annotate(an infer.Annotator) {
	an.Describe(&a, "The application of a Release: its Deployment and ClusterIP Service, built in, "+
		"or the app's own files instead (`manifests` or `chart`).")
	an.Describe(&a.Name, "The name of the Deployment and the Service: a DNS-1035 label, e.g. `shop`; "+
		"also the release name of a chart. Required.")
	an.Describe(&a.Replicas, "The desired number of replicas of the built-in Deployment. Left out, the Deployment's spec does not set it: "+
		"Kubernetes starts it with 1, and a count set since (a HorizontalPodAutoscaler, `kubectl scale`) is never reset by an up.")
	an.Describe(&a.Port, "The container port the app listens on (1–65535), which the Service targets; 8080 by default.")
	an.Describe(&a.Env, "The app's environment variables, by name. `DATABASE_URL` may not be set here: it comes from `databaseUrl`.")
	an.Describe(&a.Resources, "The requests and limits of the app's container, also the default of the Jobs'; "+
		"by default requests of 100m CPU and 128Mi memory, limits of 500m CPU and 256Mi memory.")
	an.Describe(&a.ReadinessProbe, "The app container's readiness probe, instead of the one `readinessPath` makes; not with `readinessPath`.")
	an.Describe(&a.LivenessProbe, "The app container's liveness probe; none by default. E.g. `{httpGet: {path: /livez, port: http}}`.")
	an.Describe(&a.StartupProbe, "The app container's startup probe; none by default.")
	an.Describe(&a.Pod, "The app's pod block, merged over the release's `pod` (maps by key, named lists by name, objects field by field, "+
		"anything else replaced). Not with `manifests` or `chart`.")
	an.Describe(&a.ReadinessPath, "The HTTP path of the readiness probe, starting with `/`, e.g. `/healthz`; "+
		"when empty (the default) the probe is a TCP connection to the port.")
	an.Describe(&a.Manifests, "The app as its own files instead of the built-in Deployment and Service: a YAML file, "+
		"a directory of YAML files or a kustomization directory, relative to the project directory. "+
		"Argo CD PreSync and PostSync hooks in them run as the pre- and post-deploy phases. "+
		"`replicas`, `port`, `env` and `readinessPath` may not be set with it; set either `manifests` or `chart`, not both.")
	an.Describe(&a.Chart, "The app as a Helm chart instead of the built-in Deployment and Service; its install and upgrade hooks run "+
		"as the pre- and post-deploy phases. `replicas`, `port`, `env` and `readinessPath` may not be set with it; "+
		"set either `manifests` or `chart`, not both.")
}

// Annotate describes the chart of an app.
func (c *Chart) Annotate(an infer.Annotator) {
	an.Describe(&c, "The app as a Helm chart: its objects are the app phase, and its hooks run as Helm runs them: "+
		"the first release of the chart is an install (pre-install hooks before the app, post-install after it), every later one an upgrade "+
		"(pre-upgrade before, post-upgrade after), as a record the release keeps in the cluster (ConfigMap `pulumi-jobs.chart.<app name>`) says; "+
		"`helm.sh/hook-weight` orders them into waves, and `lookup` reads the release's cluster. "+
		"The chart's release name is `app.name`. Give either `path`, or `repo`, `chart` and `version`.")
	an.Describe(&c.Path, "A local chart directory or `.tgz` archive, relative to the project directory.")
	an.Describe(&c.Repo, "The URL of the chart repository to fetch the chart from, instead of `path`; fetching needs the network.")
	an.Describe(&c.Name, "The chart's name in the chart repository `repo`.")
	an.Describe(&c.Version, "The chart's version in the chart repository `repo`.")
	an.Describe(&c.Values, "Values set on top of `valuesFiles`, as helm's `--set` on top of `-f`.")
	an.Describe(&c.ValuesFiles, "YAML files of values, merged in order, relative to the project directory.")
	an.Describe(&c.Rerun, "When the chart's hook Jobs run again: `onUpgrade` (default), once per up that changes the release "+
		"(any rendered object, hook or value, the image or the release id), never on an up that changes nothing; or `onChange`, "+
		"only when a hook's own spec changes (or the release id, when one is set).")
	an.Describe(&c.Tests, "Whether the chart's test hooks run as post-deploy smoke tests, in waves after its other post-deploy hooks; "+
		"`false` by default.")
}

// Annotate describes the operator hand-over of a Release.
func (g *GitOpsSettings) Annotate(an infer.Annotator) {
	an.Describe(&g, "The hand-over of a release to the Pulumi Kubernetes Operator: the operator runs `targetStack` of this project "+
		"from git on every new commit.")
	an.Describe(&g.Repository, "The git URL of this project (`https://…`, `ssh://…` or `git@…`), "+
		"e.g. `https://github.com/acme/shop-deploy.git`. Required.")
	an.Describe(&g.Branch, "The branch the operator follows; `main` by default.")
	an.Describe(&g.Directory, "The project's directory in the repository; the repository's root by default.")
	an.Describe(&g.TargetStack, "The fully qualified stack the operator runs, `organization/project/stack`, e.g. `acme/pulumi-jobs/prod`: "+
		"another stack of this project, not the one that hands over. Required.")
	an.Describe(&g.AccessTokenSecret, "The name of a Secret in the release's namespace whose key `accessToken` holds the Pulumi access token. Required.")
	an.Describe(&g.ResyncInterval, "How often the operator polls the branch, a duration of at least 1m such as `\"5m\"` or `\"1h\"`; `\"5m\"` by default.")
	an.Describe(&g.ServiceAccount, "The service account of the operator's workspace pod; `APP-pulumi-operator` by default, "+
		"where APP is `app.name`.")
}
