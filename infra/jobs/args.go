package jobs

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// The re-run policies of a Job: when it runs again after it has succeeded once.
const (
	// OnChange re-runs the Job whenever its pod template changes, above all
	// its image. It is the default.
	OnChange = "onChange"
	// OnRelease also re-runs the Job whenever the release id changes.
	OnRelease = "onRelease"
	// Once runs the Job until it succeeds once and never again.
	Once = "once"
	// OnUpgrade is a chart's hook Job's: it runs again whenever its
	// Trigger, the chart's revision, changes (not a policy of the config's
	// jobs).
	OnUpgrade = "onUpgrade"
)

// Reruns lists every re-run policy, in the order the docs present them.
func Reruns() []string { return []string{OnChange, OnRelease, Once} }

// Defaults of a job.
const (
	DefaultBackoffLimit = 2
	DefaultTimeout      = 10 * time.Minute
)

// Args are the inputs of a Jobs component.
type Args struct {
	// Namespace is the namespace the Jobs run in.
	Namespace pulumi.StringInput `pulumi:"namespace"`
	// Image is the default image of the Jobs; a change re-runs the onChange
	// and onRelease Jobs that use it.
	Image pulumi.StringInput `pulumi:"image,optional"`
	// ReleaseID is the release id (a build number or git SHA); a change
	// re-runs the onRelease Jobs.
	ReleaseID pulumi.StringInput `pulumi:"release,optional"`
	// Jobs are the Jobs, run in waves: ascending wave numbers, the Jobs of
	// one wave in parallel.
	Jobs []Job `pulumi:"jobs"`
	// DatabaseSecret names a Secret in the namespace whose key DATABASE_URL
	// every Job gets as the environment variable DATABASE_URL.
	DatabaseSecret pulumi.StringInput `pulumi:"databaseSecret,optional"`
	// Resources are the default requests and limits of the Jobs' containers.
	Resources *pod.Resources `pulumi:"resources,optional"`
	// Phase labels the Jobs (pulumi-jobs/phase), e.g. "pre-deploy".
	Phase string `pulumi:"phase,optional"`
	// PartOf labels the Jobs as part of an application (app.kubernetes.io/part-of).
	PartOf string `pulumi:"partOf,optional"`
	// FillPodSecurity says whether the pod templates of Jobs read from
	// files get the fields Pod Security "restricted" requires and leave
	// unset (true by default; Jobs built from command always have them). Set
	// it to false only for a namespace that does not enforce restricted.
	FillPodSecurity *bool `pulumi:"fillPodSecurity,optional"`
	// Pod is the pod block of every Job built from command: service
	// account, pull secrets, placement, volumes, secrets by reference,
	// security-context fields, sidecars. A job's own pod is merged over it
	// (pod.Merge).
	Pod *pod.Settings `pulumi:"pod,optional"`

	// Owner is the mark (ownership.Annotation) on every Job: the release
	// they belong to (Go callers only). New sets it to the component's own
	// "<project>/<stack>/<name>" when it is empty.
	Owner string
}

// Job is one Job of a Jobs component: name and command, or a manifest.
type Job struct {
	// Name is the Job's logical name, unique within the component. The
	// cluster object is named <component>-<name>-<8 hex digits>.
	Name string `pulumi:"name,optional"`
	// Command is the container's command; required unless manifest is set.
	Command []string `pulumi:"command,optional"`
	// Args are the command's arguments.
	Args []string `pulumi:"args,optional"`
	// Image is the Job's image; by default the component's image.
	Image string `pulumi:"image,optional"`
	// Env is the Job's environment.
	Env map[string]string `pulumi:"env,optional"`
	// Wave orders the Jobs: wave k starts once every Job of the waves before
	// it has succeeded. 0 by default.
	Wave int `pulumi:"wave,optional"`
	// Rerun is when the Job runs again: onChange (default), onRelease or once.
	Rerun string `pulumi:"rerun,optional"`
	// Timeout is the Job's active deadline as a Go duration; "10m" by default.
	Timeout string `pulumi:"timeout,optional"`
	// BackoffLimit is the number of retries before the Job fails; 2 by default.
	BackoffLimit *int `pulumi:"backoffLimit,optional"`
	// Resources are the container's requests and limits; by default the component's.
	Resources *pod.Resources `pulumi:"resources,optional"`
	// Annotations are put on the Job's pod template.
	Annotations map[string]string `pulumi:"annotations,optional"`
	// Pod is the Job's pod block, merged over the component's (pod.Merge).
	Pod *pod.Settings `pulumi:"pod,optional"`
	// Manifest is a YAML file holding one batch/v1 Job, relative to the
	// project directory: the Job's spec comes from it. Its metadata.name is
	// the job's name unless name is set; the cluster object is auto-named
	// like any other run. command, args, env, resources and annotations may
	// not be set with it; wave, rerun, timeout and backoffLimit may.
	Manifest string `pulumi:"manifest,optional"`
}

// Planned is one Job with every default applied, as the component registers it.
type Planned struct {
	// Name is the logical name.
	Name string
	// Key is where a problem with the name is reported: the key of the
	// job's name ("preDeploy[1].name"), or of what the Job comes from
	// ("app.chart" for a chart's hook, whose file Source names).
	Key string
	// Command and Args are the container's command and arguments.
	Command, Args []string
	// Image is the Job's own image; nil means the component's.
	Image pulumi.StringInput
	// Env is the Job's environment.
	Env map[string]string
	// Wave is the Job's wave.
	Wave int
	// Rerun is the re-run policy.
	Rerun string
	// Timeout is the active deadline.
	Timeout time.Duration
	// BackoffLimit is the number of retries.
	BackoffLimit int
	// Resources are the container's requests and limits.
	Resources pod.Resources
	// Annotations go on the pod template.
	Annotations map[string]string
	// Pod is the job's pod block merged over the component's; nil for none.
	Pod *pod.Settings
	// Object, when not nil, is the Job read from a file or rendered from a
	// chart: its spec is used as it is, with the fields above put on it.
	// Its metadata.name is removed (the Job is auto-named).
	Object map[string]any
	// Source is where Object came from, for messages.
	Source string
	// BackoffLimitSet and TimeoutSet say whether the job's own args set
	// them; otherwise Object's values stand, when it has them.
	BackoffLimitSet, TimeoutSet bool
	// Resource, when not empty, is the Job's resource name instead of
	// ResourceName(component, Name): a chart's hook keeps one name, and so
	// one resource, in whichever phase a release runs it.
	Resource string
	// Trigger, when not empty, replaces the release id as what runs the
	// Job again when it changes (a chart's revision, for its hooks); the
	// Job is labelled with it (vocab.LabelRevision).
	Trigger string
	// Keep registers the Job as its last run, which does not run now:
	// nothing under its spec or metadata is updated, and it runs again only
	// when Trigger changes (a chart's hook that this release does not run).
	Keep bool
	// Import, when not empty, is the "namespace/name" of the live Job a
	// kept Job (Keep) is: a state that lacks it (lost, or written by
	// another stack) imports the Job instead of creating — and so running
	// — it again. Pulumi ignores it when the state has the Job already.
	Import string
}

// Wave is the Jobs of one wave.
type Wave struct {
	// Number is the wave's number.
	Number int
	// Jobs are the wave's Jobs, in the order they were given.
	Jobs []Planned
}

// Plan checks the jobs of args and applies their defaults: it returns the
// Jobs grouped by wave, in ascending wave order (gaps allowed; Jobs of one
// wave keep their order), and adds every problem found to p, keys as
// prefix + "[i].field" (prefix is the key of the job list: "jobs" for the
// component's own args, "preDeploy" for a Release's). name is
// the component's name, which every Job's resource name starts with.
// Whether the names are unique is Unique's to check, once every Job of the
// component or release is planned.
func Plan(p *check.Problems, prefix, name string, stack vocab.Stack, args *Args) []Wave {
	if args == nil {
		args = &Args{}
	}
	var jobs []Planned
	for i, ja := range args.Jobs {
		key := fmt.Sprintf("%s[%d]", prefix, i)
		j := Planned{
			Key:  key + ".name",
			Name: ja.Name, Command: ja.Command, Args: ja.Args, Env: ja.Env, Wave: ja.Wave,
			Rerun: cmp.Or(ja.Rerun, OnChange), Timeout: DefaultTimeout, BackoffLimit: DefaultBackoffLimit,
			Resources: ja.Resources.WithDefaults(args.Resources), Annotations: ja.Annotations,
		}
		if ja.Manifest == "" {
			j.Pod = pod.Merge(args.Pod, ja.Pod)
		}
		if ja.Manifest != "" {
			planManifest(p, key, stack, args, ja, &j)
		}
		if j.Name == "" && ja.Manifest == "" {
			p.Add(key+".name", "required; a DNS-1123 label, e.g. migrate-schema")
		} else if j.Name != "" {
			ja.Name = j.Name
			check.JobName(p, key+".name", name+"-", ja.Name)
		}
		switch {
		case ja.Manifest != "":
			// The command is the file's.
		case len(ja.Command) == 0:
			p.Add(key+".command", `required; a non-empty list, e.g. ["./migrate", "up"]`)
		case strings.TrimSpace(ja.Command[0]) == "":
			p.Add(key+".command[0]", `must not be empty: it is the program the Job runs, e.g. "./migrate"`)
		}
		switch {
		case ja.Image != "":
			j.Image = pulumi.String(ja.Image)
			check.Image(p, key+".image", ja.Image, stack.Name)
		case args.Image == nil && ja.Manifest == "":
			p.Add(key+".image", "required when the component has no image; set image here or on the component")
		}
		check.WaveRange().Int(p, key+".wave", ja.Wave)
		if !slices.Contains(Reruns(), j.Rerun) {
			p.Add(key+".rerun", "%q is not a re-run policy; use onChange (the default), onRelease or once", j.Rerun)
		} else if j.Rerun == OnRelease && args.ReleaseID == nil {
			p.Add(key+".rerun", "onRelease needs a release id; set the release (stack config: pulumi config set release <build number or git SHA>)")
		} else if j.Rerun == OnRelease {
			if id, ok := vocab.Literal(args.ReleaseID); ok && id == "" {
				p.Add(key+".rerun", "onRelease needs a release id, but the release is empty; set it to a build number or git SHA")
			}
		}
		if ja.Timeout != "" {
			if d, ok := check.Timeout(p, key+".timeout", ja.Timeout); ok {
				j.Timeout, j.TimeoutSet = d, true
			}
		}
		if ja.BackoffLimit != nil {
			check.BackoffLimitRange().Int(p, key+".backoffLimit", *ja.BackoffLimit)
			j.BackoffLimit, j.BackoffLimitSet = *ja.BackoffLimit, true
		}
		check.Env(p, key+".env", ja.Env)
		ja.Resources.Check(p, key+".resources", args.Resources)
		check.Annotations(p, key+".annotations", ja.Annotations)
		if ja.Manifest == "" {
			ja.Pod.Check(p, key+".pod", pod.Scope{Base: args.Pod, Restricted: args.restricted(), Main: ja.Name, Env: ja.Env,
				DatabaseURL: args.DatabaseSecret != nil})
		}
		jobs = append(jobs, j)
	}
	return groupWaves(jobs)
}

// Unique reports every Job whose name a Job before it in waves already
// has, under its Key: the name labels the Job and its pods
// (pulumi-jobs/job), names it in the phase graph and the failure report,
// and makes its resource name, so the Jobs of one component, or of every
// phase of a release, need names of their own. It is the one check of it,
// whatever the Jobs come from: jobs of the args, job manifests, a chart's
// or Argo CD's hooks.
func Unique(p *check.Problems, waves ...[]Wave) {
	first := map[string]Planned{}
	for _, phase := range waves {
		for _, w := range phase {
			for _, j := range w.Jobs {
				prev, dup := first[j.Name]
				switch {
				case j.Name == "":
				case !dup:
					first[j.Name] = j
				case j.isHook() && prev.isHook() && prev.Source == j.Source:
					p.Add(j.Key, "two hooks of %s run as a Job named %q; job names must be unique: rename one", j.Source, j.Name)
				case j.isHook():
					p.Add(j.Key, "a hook of %s runs as a Job named %q, as %s does; job names must be unique: rename one", j.Source, j.Name, prev.origin())
				default:
					p.Add(j.Key, "%q is already the name of %s; job names must be unique", j.Name, prev.origin())
				}
			}
		}
	}
}

// isHook says whether the Job is a hook's (its Key is not a job's name).
func (j Planned) isHook() bool { return !strings.HasSuffix(j.Key, ".name") }

// origin names what the Job comes from in a message: the job
// ("preDeploy[0]") or the hook's file.
func (j Planned) origin() string {
	if j.isHook() {
		return "a hook of " + j.Source
	}
	return strings.TrimSuffix(j.Key, ".name")
}

// planManifest reads the Job of ja.Manifest into j: one batch/v1 Job, its
// name the job's name unless the args name it, its image the component's
// when the repositories match (as kustomize's images: does), and, unless
// args say otherwise, the fields Pod Security "restricted" needs filled in.
func planManifest(p *check.Problems, key string, stack vocab.Stack, args *Args, ja Job, j *Planned) {
	for _, f := range []struct {
		name string
		set  bool
	}{{"command", len(ja.Command) > 0}, {"args", len(ja.Args) > 0}, {"env", len(ja.Env) > 0}, {"resources", ja.Resources != nil}, {"annotations", len(ja.Annotations) > 0}, {"pod", ja.Pod != nil}} {
		if f.set {
			p.Add(key+"."+f.name, "cannot be set with manifest: the Job's %s comes from %s; set it there, or remove manifest", f.name, ja.Manifest)
		}
	}
	objs, err := manifest.Load(stack.Dir, ja.Manifest)
	if err != nil {
		p.Add(key+".manifest", "%v", err)
		return
	}
	if len(objs) != 1 || manifest.Kind(objs[0]) != "Job" {
		kinds := make([]string, len(objs))
		for i, o := range objs {
			kinds[i] = o.String()
		}
		p.Add(key+".manifest", "%s must hold exactly one Job (batch/v1); it holds %s", ja.Manifest, strings.Join(kinds, ", "))
		return
	}
	o := objs[0]
	if v, _ := o.Obj["apiVersion"].(string); v != "batch/v1" {
		p.Add(key+".manifest", "%s: the Job's apiVersion is %q; use batch/v1", o, v)
	}
	if j.Name == "" {
		if j.Name = manifest.Name(o); j.Name == "" {
			p.Add(key+".name", "required: %s has no metadata.name; set name here or in the file", ja.Manifest)
		}
	}
	img, _ := vocab.Literal(args.Image)
	AsRun(p, key+".manifest", o, img, args.FillPodSecurity == nil || *args.FillPodSecurity)
	j.Object, j.Source = o.Obj, o.Source
}

// AsRun makes the Job object o (a job's manifest, a chart's or Argo CD's
// hook) a run of ours, in place, the same way for every source: image, when
// not empty, on every container of its repository; when fill is set, the
// fields Pod Security "restricted" needs that o leaves unset (problems
// under key); and no name (every run is auto-named). It returns how many
// containers got image.
func AsRun(p *check.Problems, key string, o manifest.Object, image string, fill bool) int {
	n := 0
	if image != "" {
		n = manifest.SetImage([]manifest.Object{o}, image)
	}
	if fill {
		for _, q := range manifest.FillPodSecurity([]manifest.Object{o}) {
			p.Add(key, "%s: %s", q.Key, q.Message)
		}
	}
	if meta, ok := o.Obj["metadata"].(map[string]any); ok {
		delete(meta, "name")
		delete(meta, "generateName")
	}
	return n
}

// checkArgs checks the component's own args besides its jobs.
func checkArgs(p *check.Problems, stack string, args *Args) {
	if args.Namespace == nil {
		p.Add("namespace", "required; the namespace the Jobs run in")
	} else if ns, ok := vocab.Literal(args.Namespace); ok {
		check.Name(p, "namespace", ns, validation.IsDNS1123Label)
	}
	if img, ok := vocab.Literal(args.Image); ok {
		check.Image(p, "image", img, stack)
	}
	args.Resources.Check(p, "resources", nil)
	args.Pod.Check(p, "pod", pod.Scope{Restricted: args.restricted(), DatabaseURL: args.DatabaseSecret != nil})
	for _, l := range []struct{ key, value string }{{"phase", args.Phase}, {"partOf", args.PartOf}} {
		for _, msg := range validation.IsValidLabelValue(l.value) {
			p.Add(l.key, "%q is not a valid label value: %s", l.value, msg)
		}
	}
}

// groupWaves groups jobs by wave, ascending; stable, so Jobs of one wave
// keep their order.
func groupWaves(jobs []Planned) []Wave {
	slices.SortStableFunc(jobs, func(a, b Planned) int { return cmp.Compare(a.Wave, b.Wave) })
	var waves []Wave
	for _, j := range jobs {
		if n := len(waves); n == 0 || waves[n-1].Number != j.Wave {
			waves = append(waves, Wave{Number: j.Wave})
		}
		waves[len(waves)-1].Jobs = append(waves[len(waves)-1].Jobs, j)
	}
	return waves
}

// restricted says whether the Jobs' namespace enforces Pod Security
// "restricted" as far as the args tell (FillPodSecurity, true by default):
// what it forbids in a pod block is then refused.
func (args *Args) restricted() bool { return args.FillPodSecurity == nil || *args.FillPodSecurity }
