package jobs

import "github.com/pulumi/pulumi-go-provider/infer"

// The descriptions of the Jobs component, its args and the Job type in the
// package schema (provider/schema.json), from which the C#, TypeScript and
// Python SDKs get their doc comments. They follow the doc comments of the Go
// fields, worded for a user of any language: property names as the schema
// spells them, defaults and allowed values spelled out. Fields without a
// pulumi tag (Owner, Waves) are Go-only and are not in the schema.
//
// infer reads them through infer.Annotated, on a pointer to each type.

// Annotate describes the Jobs component and its outputs.
func (c *Jobs) Annotate(an infer.Annotator) {
	an.Describe(&c, "One phase of one-shot Kubernetes Jobs, e.g. database migrations before an app or smoke tests after it, "+
		"around an app of your own: put it before or after the app with `dependsOn`. "+
		"The Jobs run in waves (ascending `wave`, the Jobs of one wave in parallel) and are re-run by policy (`rerun`); "+
		"every run is a new, auto-named Job that is created and awaited before the previous one is deleted. "+
		"The component's own `dependsOn` is put on every Job it creates.")
	an.Describe(&c.Namespace, "The namespace the Jobs run in.")
	an.Describe(&c.JobNames, "The cluster names of the current runs of the Jobs, in wave order.")
	an.Describe(&c.Runs, "The cluster name of the current run of each Job, by the Job's `name`.")
}

// Annotate describes the inputs of a Jobs component (the component's own
// description is Jobs': Args is no type of the schema).
func (args *Args) Annotate(an infer.Annotator) {
	an.Describe(&args.Namespace, "The namespace the Jobs run in, a DNS-1123 label. Required.")
	an.Describe(&args.Image, "The default image of the Jobs, as `repo:tag` or `repo@sha256:…`; a Job without an image of its own "+
		"needs it. A change re-runs the `onChange` and `onRelease` Jobs that use it. "+
		"On a production stack (`prod`, `production`, `prod-*`, `prod2`, …) it must be pinned to a version tag or a digest, not `latest`.")
	an.Describe(&args.ReleaseID, "The release id, e.g. a build number or git SHA; a change re-runs the Jobs whose `rerun` is `onRelease`, "+
		"which need it set.")
	an.Describe(&args.Jobs, "The Jobs, run in waves: ascending `wave` numbers, the Jobs of one wave in parallel, "+
		"each wave once every Job of the waves before it has succeeded. Job names must be unique. Required.")
	an.Describe(&args.DatabaseSecret, "The name of a Secret in the namespace whose key `DATABASE_URL` every Job gets "+
		"as the environment variable `DATABASE_URL`.")
	an.Describe(&args.Resources, "The default requests and limits of the Jobs' containers; by default requests of 100m CPU and 128Mi memory, "+
		"limits of 500m CPU and 256Mi memory.")
	an.Describe(&args.Phase, "The phase the Jobs belong to, e.g. `pre-deploy`: the value of their label `pulumi-jobs/phase`.")
	an.Describe(&args.PartOf, "The application the Jobs are part of: the value of their label `app.kubernetes.io/part-of`.")
	an.Describe(&args.FillPodSecurity, "Whether the pod templates of Jobs read from files (`manifest`) get the fields that "+
		"Pod Security \"restricted\" requires and they leave unset; `true` by default (Jobs built from `command` always have them). "+
		"Set it to `false` only for a namespace that does not enforce \"restricted\".")
	an.Describe(&args.Pod, "The pod block of every Job built from `command` (not of a `manifest` Job): service account, "+
		"pull secrets, placement, volumes, secrets by reference, security-context fields, native sidecars. A job's own `pod` is merged over it.")
}

// Annotate describes one Job of a Jobs component or of a Release's phase.
func (j *Job) Annotate(an infer.Annotator) {
	an.Describe(&j, "One Job of a phase: a `name` and a `command`, or a `manifest`.")
	an.Describe(&j.Name, "The Job's logical name: a DNS-1123 label, unique within the component, e.g. `migrate-schema`. "+
		"The cluster object is named after the component and it, plus `-` and 8 hex digits, which must fit in 63 characters "+
		"(so component name, `-` and job name together have at most 54). Required unless `manifest` names the Job.")
	an.Describe(&j.Command, "The container's command, a non-empty list, e.g. `[\"./migrate\", \"up\"]`. Required unless `manifest` is set.")
	an.Describe(&j.Args, "The command's arguments.")
	an.Describe(&j.Image, "The Job's image, as `repo:tag` or `repo@sha256:…`; the component's (the release's) image by default.")
	an.Describe(&j.Env, "The Job's environment variables, by name. `DATABASE_URL` may not be set here: it comes from the database Secret.")
	an.Describe(&j.Wave, "The Job's wave, a whole number from 0: wave k starts once every Job of the waves before it has succeeded, "+
		"and the Jobs of one wave run in parallel. 0 by default.")
	an.Describe(&j.Rerun, "When the Job runs again after it has succeeded once: "+
		"`onChange` (the default) re-runs it whenever its pod template changes, above all its image; "+
		"`onRelease` also re-runs it whenever the release id (`release`) changes, which must then be set; "+
		"`once` runs it until it succeeds once and never again.")
	an.Describe(&j.Timeout, "The Job's active deadline, a duration such as `\"90s\"`, `\"10m\"` or `\"1h30m\"`, "+
		"positive and at most 168h (a week); `\"10m\"` by default.")
	an.Describe(&j.BackoffLimit, "The number of retries before the Job fails; 2 by default.")
	an.Describe(&j.Resources, "The requests and limits of the Job's container; by default the component's (for a Release, the app's).")
	an.Describe(&j.Annotations, "Annotations put on the Job's pod template; they win over `pod.annotations`.")
	an.Describe(&j.Pod, "The Job's pod block (service account, pull secrets, placement, volumes, secrets by reference, "+
		"security-context fields, native sidecars), merged over the component's (for a Release, the release's `pod`): "+
		"maps merge by key, lists of named items by name (`volumeMounts` by `mountPath`), objects field by field, anything else "+
		"is replaced. May not be set with `manifest`. A change to it changes the Job's pod template: its `rerun` policy decides whether it runs again.")
	an.Describe(&j.Manifest, "A YAML file holding one `batch/v1` Job, relative to the project directory, instead of `command`: "+
		"the Job's spec comes from it. Its `metadata.name` is the Job's name unless `name` is set; the cluster object is "+
		"auto-named like any other run. `command`, `args`, `env`, `resources` and `annotations` may not be set with it; "+
		"`wave`, `rerun`, `timeout` and `backoffLimit` may.")
}
