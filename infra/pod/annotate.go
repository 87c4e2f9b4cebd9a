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
