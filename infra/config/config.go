// Package config reads a stack's configuration once, validates all of it and
// returns one spec.Release with every default applied. An invalid config is
// reported as a single *Error listing every problem, each naming its key and
// what would be valid, before the program registers any resource.
package config

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pulumi-jobs/pulumi-jobs/infra/spec"
)

// Namespace is the stack config namespace of every pulumi-jobs key.
const Namespace = "pulumi-jobs"

// The stack config keys, without their namespace.
const (
	KeyNamespace       = "namespace"
	KeyCreateNamespace = "createNamespace"
	KeyApp             = "app"
	KeyPreDeploy       = "preDeploy"
	KeyPostDeploy      = "postDeploy"
	KeyRelease         = "release"
	KeyDatabaseURL     = "databaseUrl"
	KeyGitOps          = "gitops"
)

// GitOps defaults.
const (
	DefaultGitOpsBranch   = "main"
	DefaultResyncInterval = 5 * time.Minute
	// MinResyncInterval is the operator's floor (shorter values become 60 s).
	MinResyncInterval = time.Minute
)

// Defaults applied when a key is absent.
const (
	DefaultReplicas      = 1
	DefaultPort          = 8080
	DefaultBackoffLimit  = 2
	DefaultTimeout       = 10 * time.Minute
	DefaultCPURequest    = "100m"
	DefaultMemoryRequest = "128Mi"
	DefaultCPULimit      = "500m"
	DefaultMemoryLimit   = "256Mi"
)

// MaxTimeout is the longest job timeout. The timeout becomes the Job's
// activeDeadlineSeconds, and the engine waits that plus a minute for the Job,
// so a deploy may block this long; a week is beyond any real migration and
// catches typos such as "1000000h" while keeping both values far from the
// limits of int64 seconds and Go durations.
const MaxTimeout = 7 * 24 * time.Hour

// maxAnnotationsBytes is Kubernetes' limit on the total size of one object's
// annotations, keys plus values: TotalAnnotationSizeLimitB of
// k8s.io/apimachinery/pkg/api/validation (not imported, as it would pull
// the API machinery's serializers into the program).
const maxAnnotationsBytes = 256 * 1024

// maxInt32 is the largest value of the int32 fields of the Kubernetes API.
const maxInt32 = math.MaxInt32

// DatabaseURLEnv is the environment variable that carries the database URL
// into the app and every Job; the config's env maps may not set it.
const DatabaseURLEnv = "DATABASE_URL"

// maxJobNameLength leaves room for the provider's auto-name suffix ("-" and 8
// hex digits): a Job's name must fit the 63-character label
// batch.kubernetes.io/job-name that the Job controller puts on its pods.
const maxJobNameLength = validation.DNS1123LabelMaxLength - 9

// jobNameLengthReason says why a job name is limited to maxJobNameLength.
const jobNameLengthReason = `the provider appends "-" and 8 hex digits to form the Job's name, which must fit the 63-character label batch.kubernetes.io/job-name`

// Integer ranges of the config, those of the Kubernetes fields they become.
func replicasRange() intRange {
	return intRange{0, maxInt32, "a whole number between 0 and 2147483647 (the Deployment's replicas is an int32)"}
}

func portRange() intRange {
	return intRange{1, 65535, "a TCP port, a whole number between 1 and 65535"}
}

func waveRange() intRange {
	return intRange{0, maxInt32, "a whole number between 0 and 2147483647"}
}

func backoffLimitRange() intRange {
	return intRange{0, maxInt32, "a whole number between 0 and 2147483647 (the Job's backoffLimit is an int32)"}
}

func appKeys() []string {
	return []string{"env", "image", "name", "port", "readinessPath", "replicas", "resources"}
}

func gitOpsKeys() []string {
	return []string{"accessTokenSecret", "branch", "directory", "repository", "resyncInterval", "serviceAccount", "targetStack"}
}

func jobKeys() []string {
	return []string{"annotations", "backoffLimit", "command", "env", "image", "name", "rerun", "timeout", "wave"}
}

// Source is where stack config comes from. *pulumi.Context is one; tests may
// supply their own.
type Source interface {
	// GetConfig returns a value by its full key ("pulumi-jobs:app").
	GetConfig(key string) (string, bool)
	// IsConfigSecret says whether the value was set as a secret.
	IsConfigSecret(key string) bool
	// Stack is the name of the stack being deployed.
	Stack() string
}

// ProjectSource is a Source that also names its Pulumi project, as
// *pulumi.Context does. Load uses the project to tell this stack from a
// gitops.targetStack of the same stack name in another project. For a Source
// without it, Load takes Namespace as the project's name: Pulumi names a
// project's config namespace after the project.
type ProjectSource interface {
	Source
	// Project is the name of the Pulumi project.
	Project() string
}

// project returns the Pulumi project of src.
func project(src Source) string {
	if ps, ok := src.(ProjectSource); ok && ps.Project() != "" {
		return ps.Project()
	}
	return Namespace
}

// IsSystemNamespace reports whether ns belongs to Kubernetes itself: default,
// kube-system, kube-public, kube-node-lease or any other kube-*.
func IsSystemNamespace(ns string) bool {
	return ns == "default" || strings.HasPrefix(ns, "kube-")
}

// Key returns the full config key of name in the pulumi-jobs namespace.
func Key(name string) string { return Namespace + ":" + name }

// Load reads and validates the stack config. It returns a *Error listing
// every problem when the config is invalid.
func Load(src Source) (spec.Release, error) {
	p := &problems{file: StackFile(src.Stack())}
	r := spec.Release{Stack: src.Stack(), CreateNamespace: true}

	if ns, ok := src.GetConfig(Key(KeyNamespace)); !ok || ns == "" {
		p.add(Key(KeyNamespace), "required; set it to the Kubernetes namespace of the release: pulumi config set namespace shop")
	} else {
		r.Namespace = ns
		checkName(p, Key(KeyNamespace), ns, validation.IsDNS1123Label)
		if IsSystemNamespace(ns) {
			p.add(Key(KeyNamespace), "%q is a namespace of Kubernetes itself, not the release's: with createNamespace (the default) the release would own it, relabel it for Pod Security and delete it with everything in it on pulumi destroy; without, the app and Jobs would mix with the cluster's own objects. Use a namespace of the release's own, e.g. pulumi config set namespace shop", ns)
		}
	}

	if v, ok := src.GetConfig(Key(KeyCreateNamespace)); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.add(Key(KeyCreateNamespace), "must be true or false, got %q", v)
		}
		r.CreateNamespace = b
	}

	r.ID, _ = src.GetConfig(Key(KeyRelease))

	if v, ok := src.GetConfig(Key(KeyDatabaseURL)); ok && v != "" {
		if !src.IsConfigSecret(Key(KeyDatabaseURL)) {
			p.add(Key(KeyDatabaseURL), "is stored in plaintext; set it as a secret instead: pulumi config set --secret databaseUrl 'postgres://…'")
		}
		r.HasDatabaseURL = true
		r.DatabaseURL = pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
	}

	if v, ok := src.GetConfig(Key(KeyApp)); !ok || v == "" {
		p.add(Key(KeyApp), "required; set it to an object with at least name and image, e.g. {name: shop, image: ghcr.io/acme/shop:1.4.2}")
	} else {
		r.App = loadApp(p, json.RawMessage(v), r.Stack)
	}

	for _, phase := range []spec.Phase{spec.PreDeploy, spec.PostDeploy} {
		r.Jobs = append(r.Jobs, loadJobs(p, src, phase, r)...)
	}
	checkUniqueNames(p, r.Jobs)

	if v, ok := src.GetConfig(Key(KeyGitOps)); ok && v != "" && v != "null" && v != "{}" {
		r.GitOps = loadGitOps(p, json.RawMessage(v), r, project(src))
	}

	if len(p.list) > 0 {
		return spec.Release{}, &Error{Stack: r.Stack, Problems: p.list}
	}
	return r, nil
}

func loadApp(p *problems, raw json.RawMessage, stack string) spec.App {
	app := spec.App{Replicas: DefaultReplicas, Port: DefaultPort}
	o, ok := newObject(Key(KeyApp), raw, appKeys(), p)
	if !ok {
		return app
	}
	if name, ok := o.requiredString("name", "a DNS-1035 label naming the Deployment and Service, e.g. shop"); ok {
		app.Name = name
		// A Service's name must be a DNS-1035 label: unlike DNS-1123, it
		// may not start with a digit.
		checkName(p, o.path("name"), name, validation.IsDNS1035Label)
	}
	if image, ok := o.requiredString("image", `the image to release as repo:tag or repo@sha256:…, e.g. "ghcr.io/acme/shop:1.4.2"`); ok {
		app.Image = image
		checkImage(p, o.path("image"), image, stack)
	}
	if n, ok := o.int("replicas", replicasRange()); ok {
		app.Replicas = n
	}
	if n, ok := o.int("port", portRange()); ok {
		app.Port = n
	}
	if env, ok := o.stringMap("env"); ok {
		app.Env = envVars(p, o.path("env"), env)
	}
	app.Resources = loadResources(p, o)
	if path, ok := o.string("readinessPath"); ok {
		app.ReadinessPath = path
		if !strings.HasPrefix(path, "/") {
			p.add(o.path("readinessPath"), `must be an HTTP path starting with "/", e.g. "/healthz"; leave it out for a TCP probe`)
		}
	}
	return app
}

func loadGitOps(p *problems, raw json.RawMessage, r spec.Release, project string) *spec.GitOps {
	g := &spec.GitOps{Branch: DefaultGitOpsBranch, ResyncInterval: DefaultResyncInterval, ServiceAccount: r.App.Name + "-pulumi-operator"}
	o, ok := newObject(Key(KeyGitOps), raw, gitOpsKeys(), p)
	if !ok {
		return g
	}
	const repoHint = "the git URL of this project, e.g. https://github.com/acme/shop-deploy.git"
	if v, ok := o.requiredString("repository", repoHint); ok {
		g.Repository = v
		if !(strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "ssh://") || strings.HasPrefix(v, "git@")) {
			p.add(o.path("repository"), "%q is not a git URL the operator can clone; use https://…, ssh://… or git@…, e.g. https://github.com/acme/shop-deploy.git", v)
		}
	}
	if v, ok := o.string("branch"); ok {
		g.Branch = v
		if v == "" {
			p.add(o.path("branch"), "must not be empty; leave it out to follow %q", DefaultGitOpsBranch)
		}
	}
	if v, ok := o.string("directory"); ok {
		g.Directory = strings.Trim(v, "/")
		if strings.Contains(v, "..") {
			p.add(o.path("directory"), "must be a path inside the repository, got %q", v)
		}
	}
	const targetHint = "the fully qualified stack the operator runs, organization/project/stack, e.g. acme/pulumi-jobs/prod"
	if v, ok := o.requiredString("targetStack", targetHint); ok {
		parts := strings.Split(v, "/")
		switch {
		case len(parts) != 3 || slices.Contains(parts, ""):
			p.add(o.path("targetStack"), "%q is not %s", v, targetHint)
		// The organization of this stack is not reliably known to a program
		// (Pulumi reports "organization" when unset), so a target in this
		// project with this stack's name is taken to be this stack.
		case parts[1] == project && parts[2] == StackName(r.Stack):
			p.add(o.path("targetStack"), "%q is this stack itself (project %s, stack %s); the operator must run another stack of the project, the one this stack hands over to",
				v, project, parts[2])
		default:
			g.TargetStack = v
		}
	}
	if v, ok := o.requiredString("accessTokenSecret", fmt.Sprintf("the name of a Secret in namespace %q whose key accessToken holds the Pulumi access token (kubectl create secret generic pulumi-api -n %s --from-literal=accessToken=…)", r.Namespace, r.Namespace)); ok {
		g.AccessTokenSecret = v
		for _, msg := range validation.IsDNS1123Subdomain(v) {
			p.add(o.path("accessTokenSecret"), "%q is not a Secret name: %s", v, msg)
		}
	}
	if s, ok := o.string("resyncInterval"); ok {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			p.add(o.path("resyncInterval"), `%q is not a Go duration; use e.g. "5m"`, s)
		case d < MinResyncInterval:
			p.add(o.path("resyncInterval"), "%q is shorter than the operator's minimum of 1m", s)
		default:
			g.ResyncInterval = d
		}
	}
	if v, ok := o.string("serviceAccount"); ok {
		g.ServiceAccount = v
		for _, msg := range validation.IsDNS1123Subdomain(v) {
			p.add(o.path("serviceAccount"), "%q is not a service account name: %s", v, msg)
		}
	}
	return g
}

func loadResources(p *problems, app *object) spec.Resources {
	res := spec.Resources{
		Requests: spec.Quantities{CPU: DefaultCPURequest, Memory: DefaultMemoryRequest},
		Limits:   spec.Quantities{CPU: DefaultCPULimit, Memory: DefaultMemoryLimit},
	}
	o, ok := app.object("resources", []string{"limits", "requests"})
	if !ok {
		return res
	}
	if q, ok := o.object("requests", []string{"cpu", "memory"}); ok {
		res.Requests = loadQuantities(p, q, res.Requests, false)
	}
	if q, ok := o.object("limits", []string{"cpu", "memory"}); ok {
		res.Limits = loadQuantities(p, q, res.Limits, true)
	}
	for _, c := range []struct{ name, req, lim string }{
		{"cpu", res.Requests.CPU, res.Limits.CPU},
		{"memory", res.Requests.Memory, res.Limits.Memory},
	} {
		req, err1 := resource.ParseQuantity(c.req)
		lim, err2 := resource.ParseQuantity(c.lim)
		if err1 == nil && err2 == nil && req.Cmp(lim) > 0 {
			p.add(o.path("requests."+c.name), "%s is more than the limit %s; a request must not exceed its limit", c.req, c.lim)
		}
	}
	return res
}

// loadQuantities reads the cpu and memory of requests or limits. Quantities
// must not be negative. A request of 0 is allowed, as in Kubernetes (the
// container gets no reservation); a limit of 0 is refused, because the
// container runtime reads it as no limit at all, the opposite of what it says.
func loadQuantities(p *problems, o *object, q spec.Quantities, isLimit bool) spec.Quantities {
	for _, f := range []struct {
		name, example string
		dst           *string
	}{{"cpu", "250m", &q.CPU}, {"memory", "256Mi", &q.Memory}} {
		v, ok := o.quantity(f.name)
		if !ok {
			continue
		}
		qty, err := resource.ParseQuantity(v)
		switch {
		case err != nil:
			p.add(o.path(f.name), `%q is not a Kubernetes quantity; use e.g. "250m" for CPU or "256Mi" for memory`, v)
			continue
		case qty.Sign() < 0:
			p.add(o.path(f.name), "%q is negative; a quantity must be 0 or more, e.g. %q", v, f.example)
			continue
		case isLimit && qty.IsZero():
			p.add(o.path(f.name), "%q is no limit at all to the container runtime; set a limit above 0, e.g. %q, or leave it out for the default", v, f.example)
			continue
		}
		*f.dst = v
	}
	return q
}

func loadJobs(p *problems, src Source, phase spec.Phase, r spec.Release) []spec.Job {
	key := Key(string(phase))
	v, ok := src.GetConfig(key)
	if !ok || v == "" {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(v), &items); err != nil {
		p.notA(key, json.RawMessage(v), "a list of job objects (each with at least name and command)")
		return nil
	}
	jobs := make([]spec.Job, 0, len(items))
	for i, item := range items {
		jobs = append(jobs, loadJob(p, fmt.Sprintf("%s[%d]", key, i), item, phase, r))
	}
	return jobs
}

func loadJob(p *problems, key string, raw json.RawMessage, phase spec.Phase, r spec.Release) spec.Job {
	job := spec.Job{
		Phase:        phase,
		Image:        r.App.Image,
		Rerun:        spec.OnChange,
		BackoffLimit: DefaultBackoffLimit,
		Timeout:      DefaultTimeout,
	}
	const empty = `is an empty job; give it at least name and command, e.g. {name: migrate, command: ["./migrate", "up"]}, or remove the item`
	if strings.TrimSpace(string(raw)) == "null" {
		p.add(key, empty)
		return job
	}
	o, ok := newObject(key, raw, jobKeys(), p)
	if !ok {
		return job
	}
	if len(o.fields) == 0 {
		p.add(key, empty)
		return job
	}
	if name, ok := o.requiredString("name", fmt.Sprintf("a DNS-1123 label of at most %d characters, e.g. migrate-schema", maxJobNameLength)); ok {
		job.Name = name
		checkJobName(p, o.path("name"), name)
	}
	if cmd, ok := o.strings("command"); !ok || len(cmd) == 0 {
		if ok || o.fields["command"] == nil {
			p.add(o.path("command"), `required; a non-empty list, e.g. ["./migrate", "up"]`)
		}
	} else {
		job.Command = cmd
		if strings.TrimSpace(cmd[0]) == "" {
			p.add(o.path("command")+"[0]", `must not be empty: it is the program the Job runs, e.g. "./migrate"`)
		}
	}
	if image, ok := o.string("image"); ok {
		job.Image = image
		if image == "" {
			p.add(o.path("image"), "must not be empty; leave it out to run the app's image")
		} else {
			checkImage(p, o.path("image"), image, r.Stack)
		}
	}
	if n, ok := o.int("wave", waveRange()); ok {
		job.Wave = n
	}
	if rerun, ok := o.string("rerun"); ok {
		job.Rerun = spec.Rerun(rerun)
		if !slices.Contains(spec.Reruns(), job.Rerun) {
			p.add(o.path("rerun"), "%q is not a re-run policy; use onChange (the default), onRelease or once", rerun)
		} else if job.Rerun == spec.OnRelease && r.ID == "" {
			p.add(o.path("rerun"), "onRelease needs a release id; set it with: pulumi config set release <build number or git SHA>")
		}
	}
	if n, ok := o.int("backoffLimit", backoffLimitRange()); ok {
		job.BackoffLimit = n
	}
	if s, ok := o.string("timeout"); ok {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			p.add(o.path("timeout"), `%q is not a Go duration; use e.g. "90s", "10m" or "1h30m"`, s)
		case d <= 0:
			p.add(o.path("timeout"), "must be positive, got %q", s)
		case d > MaxTimeout:
			p.add(o.path("timeout"), `%q is longer than the maximum of %dh (%d days); the timeout becomes the Job's activeDeadlineSeconds and the engine waits that plus 1m, so give the longest the Job may really run, e.g. "2h"`,
				s, int(MaxTimeout.Hours()), int(MaxTimeout.Hours()/24))
		default:
			job.Timeout = d
		}
	}
	if env, ok := o.stringMap("env"); ok {
		job.Env = envVars(p, o.path("env"), env)
	}
	if ann, ok := o.stringMap("annotations"); ok {
		checkAnnotations(p, o.path("annotations"), ann)
		job.Annotations = ann
	}
	return job
}

func checkUniqueNames(p *problems, jobs []spec.Job) {
	first := map[string]int{}
	index := map[spec.Phase]int{}
	keys := make([]string, len(jobs))
	for i, j := range jobs {
		keys[i] = fmt.Sprintf("%s[%d].name", Key(string(j.Phase)), index[j.Phase])
		index[j.Phase]++
		if j.Name == "" {
			continue
		}
		if prev, dup := first[j.Name]; dup {
			p.add(keys[i], "%q is already the name of %s; job names must be unique across preDeploy and postDeploy", j.Name, strings.TrimSuffix(keys[prev], ".name"))
			continue
		}
		first[j.Name] = i
	}
}

func checkImage(p *problems, key, image, stack string) {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		p.add(key, `%q is not an image reference (%v); use repo:tag or repo@sha256:…, e.g. "ghcr.io/acme/shop:1.4.2"`, image, err)
		return
	}
	if !IsProduction(stack) {
		return
	}
	if _, digested := ref.(reference.Digested); digested {
		return
	}
	tagged, ok := ref.(reference.Tagged)
	switch {
	case !ok:
		p.add(key, "%q has no tag; stack %q is a production stack, so pin a version tag or a digest (repo@sha256:…)", image, stack)
	case tagged.Tag() == "latest":
		p.add(key, "%q uses the tag latest; stack %q is a production stack, so pin a version tag or a digest (repo@sha256:…)", image, stack)
	}
}

// checkName reports every way value fails isValid, a name rule of
// k8s.io/apimachinery/pkg/util/validation.
func checkName(p *problems, key, value string, isValid func(string) []string) {
	for _, msg := range isValid(value) {
		p.add(key, "%q is not a valid name: %s", value, msg)
	}
}

// checkJobName checks a job name: a DNS-1123 label short enough to take the
// provider's auto-name suffix. Its length is reported once, with the real
// limit, instead of apimachinery's 63.
func checkJobName(p *problems, key, name string) {
	for _, msg := range validation.IsDNS1123Label(name) {
		if msg != validation.MaxLenError(validation.DNS1123LabelMaxLength) {
			p.add(key, "%q is not a valid name: %s", name, msg)
		}
	}
	if n := len(name); n > maxJobNameLength {
		p.add(key, "%q is not a valid name: must be no more than %d characters, got %d: %s", name, maxJobNameLength, n, jobNameLengthReason)
	}
}

// checkAnnotations applies Kubernetes' annotation rules: every key a
// qualified name (case-insensitively, as in ValidateAnnotations of
// k8s.io/apimachinery/pkg/api/validation), and keys plus values at most
// 256 KiB in total.
func checkAnnotations(p *problems, key string, ann map[string]string) {
	total := 0
	for _, k := range sortedKeys(ann) {
		total += len(k) + len(ann[k])
		for _, msg := range validation.IsQualifiedName(strings.ToLower(k)) {
			p.add(fmt.Sprintf("%s[%q]", key, k), "not a valid annotation key: %s", msg)
		}
	}
	if total > maxAnnotationsBytes {
		p.add(key, "keys and values total %d bytes, more than Kubernetes' limit of %d bytes (256 KiB) for the annotations of one object; keep large data out of annotations, e.g. in a ConfigMap", total, maxAnnotationsBytes)
	}
}

func envVars(p *problems, key string, env map[string]string) []spec.EnvVar {
	vars := make([]spec.EnvVar, 0, len(env))
	for _, name := range sortedKeys(env) {
		k := fmt.Sprintf("%s.%s", key, name)
		for _, msg := range validation.IsEnvVarName(name) {
			p.add(k, "not a valid environment variable name: %s", msg)
		}
		if name == DatabaseURLEnv {
			p.add(k, "is reserved: it is set from the secret databaseUrl; use pulumi config set --secret databaseUrl instead")
		}
		vars = append(vars, spec.EnvVar{Name: name, Value: env[name]})
	}
	return vars
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
