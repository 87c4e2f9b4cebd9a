package pod

import "github.com/pulumi/pulumi-go-provider/infer"

// The descriptions of Resources and Quantities in the package schema
// (provider/schema.json), from which the C#, TypeScript and Python SDKs get
// their doc comments. infer reads them through infer.Annotated, on a
// pointer to each type.

// Annotate describes a container's resources.
func (r *Resources) Annotate(an infer.Annotator) {
	an.Describe(&r, "A container's resource requests and limits. An amount left out is taken from the defaults: "+
		"requests of 100m CPU and 128Mi memory, limits of 500m CPU and 256Mi memory "+
		"(for a Job, first from its component's or release's resources). A request may not exceed its limit.")
	an.Describe(&r.Requests, "What the scheduler reserves for the container; by default 100m CPU and 128Mi memory.")
	an.Describe(&r.Limits, "The most the container may use; by default 500m CPU and 256Mi memory.")
}

// Annotate describes CPU and memory amounts.
func (q *Quantities) Annotate(an infer.Annotator) {
	an.Describe(&q, "CPU and memory amounts in Kubernetes quantity notation.")
	an.Describe(&q.CPU, "An amount of CPU, e.g. `\"100m\"` (a tenth of a core) or `\"1\"`; not negative, and a limit not 0.")
	an.Describe(&q.Memory, "An amount of memory, e.g. `\"128Mi\"` or `\"1Gi\"`; not negative, and a limit not 0.")
}

// Annotate describes the pod block.
func (s *Settings) Annotate(an infer.Annotator) {
	// Its token names what it is in the package's one module.
	an.SetToken("index", "PodSettings")
	an.Describe(&s, "The pod block: what a cluster asks of a pod besides its image and command. "+
		"Merge rule, from the release's block to the app's or a job's: a value set replaces the default's; maps "+
		"(`nodeSelector`, `labels`, `annotations`) merge key by key; objects (`affinity`, the security contexts) merge field by field; "+
		"lists of named items merge by name (`env`, `volumes`, `imagePullSecrets`, `sidecars`; `volumeMounts` by `mountPath`), "+
		"an item replacing the default's item of its name whole; other lists (`tolerations`, `envFrom`) are replaced whole. "+
		"Values must be known at preview (names of Secrets and ConfigMaps, not outputs): they are checked, merged and evaluated "+
		"against Pod Security restricted before anything is registered.")
	an.Describe(&s.ServiceAccountName, "The pod's service account, e.g. for workload identity (IRSA, GKE or Azure Workload Identity); "+
		"the namespace's `default` when left out.")
	an.Describe(&s.AutomountServiceAccountToken, "Whether the service account's API token is mounted into the pod; false by default.")
	an.Describe(&s.ImagePullSecrets, "Secrets (type `kubernetes.io/dockerconfigjson`) the kubelet pulls the pod's images with: a private registry.")
	an.Describe(&s.NodeSelector, "Node labels the pod must be scheduled on.")
	an.Describe(&s.Tolerations, "Taints the pod tolerates. Replaced whole by a block merged over this one.")
	an.Describe(&s.Affinity, "The pod's node affinity, pod affinity and anti-affinity.")
	an.Describe(&s.PriorityClassName, "The pod's PriorityClass.")
	an.Describe(&s.Labels, "Labels added to the pod template; not those pulumi-jobs sets "+
		"(`app.kubernetes.io/name`, `app.kubernetes.io/part-of`, `app.kubernetes.io/managed-by`, `pulumi-jobs/job`, `pulumi-jobs/phase`).")
	an.Describe(&s.Annotations, "Annotations added to the pod template, e.g. `sidecar.istio.io/inject: \"false\"` for a Job.")
	an.Describe(&s.Volumes, "Volumes of the pod besides its scratch volume `tmp` (mounted at /tmp): a CA bundle, a config file, a Secret.")
	an.Describe(&s.PodSecurityContext, "Fields merged over the pod's security context (runAsNonRoot and a RuntimeDefault seccomp profile), "+
		"e.g. `{runAsUser: 1000, fsGroup: 2000}`. What Pod Security restricted forbids is refused where the release enforces it.")
	an.Describe(&s.Env, "Environment variables of the main container, after those of `env` (the map) and DATABASE_URL: "+
		"a value, or `valueFrom` a Secret's key (`secretKeyRef`), a ConfigMap's key (`configMapKeyRef`) or a field of the pod (`fieldRef`).")
	an.Describe(&s.EnvFrom, "Secrets and ConfigMaps whose every key becomes an environment variable of the main container.")
	an.Describe(&s.VolumeMounts, "Mounts of `volumes` into the main container, besides /tmp.")
	an.Describe(&s.ContainerSecurityContext, "Fields merged over the main container's security context (allowPrivilegeEscalation false, "+
		"capabilities drop ALL, readOnlyRootFilesystem, runAsNonRoot, RuntimeDefault seccomp).")
	an.Describe(&s.Sidecars, "Native sidecars: init containers that keep running (`restartPolicy: Always`, set for you), started before "+
		"the main container and stopped once it exits, so a Job completes; e.g. cloud-sql-proxy. Each gets allowPrivilegeEscalation false "+
		"and capabilities drop ALL unless it sets them. Needs Kubernetes 1.29 or later.")
}
