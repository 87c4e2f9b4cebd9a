// Package config reads a stack's configuration once into the args of one
// release.Release, validates all of it with the release's own rules and
// returns the validated plan, every default applied. An invalid config is
// reported as a single *Error listing every problem, each naming its key and
// what would be valid, before the program registers any resource.
package config

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
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
	KeyAdopt           = "adopt"
	KeyAdoptFrom       = "adoptFrom"
	KeyPod             = "pod"
)

// appKeys, gitOpsKeys and jobKeys are the fields of the config's objects:
// the pulumi tags of the release's own args types, so a field added there
// is a config key at once. The app object also holds the release's image.
func appKeys() []string { return tagKeys(release.App{}, "image") }

func gitOpsKeys() []string { return tagKeys(release.GitOpsSettings{}) }

func jobKeys() []string { return tagKeys(jobs.Job{}) }

// tagKeys returns the names in the pulumi tags of the struct v's fields,
// plus extra, sorted.
func tagKeys(v any, extra ...string) []string {
	t := reflect.TypeOf(v)
	keys := slices.Clone(extra)
	for i := range t.NumField() {
		if tag, ok := t.Field(i).Tag.Lookup("pulumi"); ok {
			keys = append(keys, strings.Split(tag, ",")[0])
		}
	}
	slices.Sort(keys)
	return keys
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

// RootSource is a Source that also knows the project directory, as
// *pulumi.Context does; paths in the config (app.manifests, a job's
// manifest, app.chart.path) are relative to it. Without it, Load takes the
// working directory.
type RootSource interface {
	Source
	// RootDirectory is the directory of the project's Pulumi.yaml.
	RootDirectory() string
}

// root returns the project directory of src.
func root(src Source) string {
	if rs, ok := src.(RootSource); ok && rs.RootDirectory() != "" {
		return rs.RootDirectory()
	}
	dir, _ := os.Getwd()
	return dir
}

// Key returns the full config key of name in the pulumi-jobs namespace.
func Key(name string) string { return Namespace + ":" + name }

// Load reads the stack config into release args and validates them with
// release.NewPlan. It returns a *Error listing every problem when the config
// is invalid: first what cannot be read (unknown fields, wrong types), then
// what the release's rules refuse, each under its config key.
func Load(src Source) (release.Plan, error) {
	p := &problems{file: StackFile(src.Stack())}
	args := &release.Args{}

	if ns, ok := src.GetConfig(Key(KeyNamespace)); ok && ns != "" {
		args.Namespace = pulumi.String(ns)
	} else {
		p.add(Key(KeyNamespace), "required; set it to the Kubernetes namespace of the release: pulumi config set namespace shop")
	}
	if v, ok := src.GetConfig(Key(KeyCreateNamespace)); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.add(Key(KeyCreateNamespace), "must be true or false, got %q", v)
		} else {
			args.CreateNamespace = &b
		}
	}
	if v, ok := src.GetConfig(Key(KeyAdopt)); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.add(Key(KeyAdopt), "must be true or false, got %q; true lets the release take over objects it did not create", v)
		} else {
			args.Adopt = &b
		}
	}
	if v, ok := src.GetConfig(Key(KeyAdoptFrom)); ok {
		args.AdoptFrom = v
	}
	if id, ok := src.GetConfig(Key(KeyRelease)); ok {
		args.ReleaseID = pulumi.String(id)
	}
	if v, ok := src.GetConfig(Key(KeyDatabaseURL)); ok && v != "" {
		if !src.IsConfigSecret(Key(KeyDatabaseURL)) {
			p.add(Key(KeyDatabaseURL), "is stored in plaintext; set it as a secret instead: pulumi config set --secret databaseUrl 'postgres://…'")
		}
		args.DatabaseURL = pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
	}
	if v, ok := src.GetConfig(Key(KeyApp)); !ok || v == "" {
		p.add(Key(KeyApp), "required; set it to an object with at least name and image, e.g. {name: shop, image: ghcr.io/acme/shop:1.4.2}")
	} else {
		loadApp(p, json.RawMessage(v), args)
	}
	args.PreDeploy = loadJobs(p, src, KeyPreDeploy)
	args.PostDeploy = loadJobs(p, src, KeyPostDeploy)
	if v, ok := src.GetConfig(Key(KeyPod)); ok && v != "" && v != "null" {
		args.Pod = loadPod(p, Key(KeyPod), json.RawMessage(v))
	}
	if v, ok := src.GetConfig(Key(KeyGitOps)); ok && v != "" && v != "null" && v != "{}" {
		args.GitOps = loadGitOps(p, json.RawMessage(v))
	}

	// The release's own rules, on what could be read. Keys the config has
	// already reported (absent or unreadable) are not reported twice.
	reported := map[string]bool{}
	for _, q := range p.list {
		reported[q.Key] = true
	}
	rules := &check.Problems{}
	plan := release.NewPlan(rules, args.App.Name, vocab.Stack{Name: src.Stack(), Project: project(src), Dir: root(src)}, args)
	for _, q := range rules.List {
		key := Key(configPath(q.Key))
		if underReported(reported, key) {
			continue
		}
		p.list = append(p.list, Problem{Key: key, Message: q.Message})
	}
	if len(p.list) > 0 {
		return release.Plan{}, &Error{Stack: src.Stack(), Problems: p.list}
	}
	return plan, nil
}

// underReported says whether key, or an object or list that holds it, was
// already reported: an unreadable app is not also missing its image.
func underReported(reported map[string]bool, key string) bool {
	for k := key; k != ""; {
		if reported[k] {
			return true
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			return false
		}
		k = k[:i]
	}
	return false
}

// configPath maps a key of release.Args to its stack config path: the
// args' image is the config's app.image; everything else is spelled alike.
func configPath(argsKey string) string {
	if argsKey == "image" {
		return KeyApp + ".image"
	}
	return argsKey
}

func loadApp(p *problems, raw json.RawMessage, args *release.Args) {
	o, ok := newObject(Key(KeyApp), raw, appKeys(), p)
	if !ok {
		return
	}
	// An absent name or image is the release's rule to report (NewPlan).
	if name, ok := o.string("name"); ok {
		args.App.Name = name
	}
	if image, ok := o.string("image"); ok {
		args.Image = pulumi.String(image)
	}
	if n, ok := o.int("replicas", check.ReplicasRange()); ok {
		args.App.Replicas = &n
	}
	if n, ok := o.int("port", check.PortRange()); ok {
		args.App.Port = &n
	}
	if env, ok := o.stringMap("env"); ok {
		args.App.Env = env
	}
	args.App.Resources = loadResources(o)
	if raw, ok := o.raw("pod"); ok {
		args.App.Pod = loadPod(p, o.path("pod"), raw)
	}
	for _, pr := range []struct {
		name string
		dst  **corev1.Probe
	}{{"readinessProbe", &args.App.ReadinessProbe}, {"livenessProbe", &args.App.LivenessProbe}, {"startupProbe", &args.App.StartupProbe}} {
		if raw, ok := o.raw(pr.name); ok {
			*pr.dst = &corev1.Probe{}
			decodeKube(p, o.path(pr.name), raw, *pr.dst)
		}
	}
	args.App.Manifests, _ = o.string("manifests")
	args.App.Chart = loadChart(p, o)
	if path, ok := o.string("readinessPath"); ok {
		args.App.ReadinessPath = path
		if path == "" {
			p.add(o.path("readinessPath"), `must be an HTTP path starting with "/", e.g. "/healthz"; leave it out for a TCP probe`)
		}
	}
}

// loadChart reads app.chart, if any.
func loadChart(p *problems, app *object) *release.Chart {
	o, ok := app.object("chart", tagKeys(release.Chart{}))
	if !ok {
		return nil
	}
	c := &release.Chart{}
	c.Path, _ = o.string("path")
	c.Repo, _ = o.string("repo")
	c.Name, _ = o.string("chart")
	c.Version, _ = o.string("version")
	c.Rerun, _ = o.string("rerun")
	c.ValuesFiles, _ = o.strings("valuesFiles")
	if raw, ok := o.raw("values"); ok {
		if err := json.Unmarshal(raw, &c.Values); err != nil {
			p.add(o.path("values"), "must be an object of chart values, e.g. {replicaCount: 2}")
		}
	}
	if raw, ok := o.raw("tests"); ok {
		if err := json.Unmarshal(raw, &c.Tests); err != nil {
			p.add(o.path("tests"), "must be true or false, got %s", raw)
		}
	}
	if c.Path == "" && c.Name == "" {
		p.add(o.path("path"), "required; a local chart directory relative to the project, e.g. charts/shop (or repo, chart and version)")
	}
	return c
}

func loadGitOps(p *problems, raw json.RawMessage) *release.GitOpsSettings {
	g := &release.GitOpsSettings{}
	o, ok := newObject(Key(KeyGitOps), raw, gitOpsKeys(), p)
	if !ok {
		return g
	}
	g.Repository, _ = o.string("repository")
	if v, ok := o.string("branch"); ok {
		g.Branch = v
		if v == "" {
			p.add(o.path("branch"), "must not be empty; leave it out to follow %q", release.DefaultGitOpsBranch)
		}
	}
	g.Directory, _ = o.string("directory")
	g.TargetStack, _ = o.string("targetStack")
	g.AccessTokenSecret, _ = o.string("accessTokenSecret")
	g.ResyncInterval, _ = o.string("resyncInterval")
	g.ServiceAccount, _ = o.string("serviceAccount")
	return g
}

// loadResources reads the resources object of o, if any.
func loadResources(o *object) *pod.Resources {
	r, ok := o.object("resources", []string{"limits", "requests"})
	if !ok {
		return nil
	}
	res := &pod.Resources{}
	for _, part := range []struct {
		name string
		dst  **pod.Quantities
	}{{"requests", &res.Requests}, {"limits", &res.Limits}} {
		q, ok := r.object(part.name, []string{"cpu", "memory"})
		if !ok {
			continue
		}
		*part.dst = &pod.Quantities{}
		(*part.dst).CPU, _ = q.quantity("cpu")
		(*part.dst).Memory, _ = q.quantity("memory")
	}
	return res
}

func loadJobs(p *problems, src Source, name string) []jobs.Job {
	key := Key(name)
	v, ok := src.GetConfig(key)
	if !ok || v == "" {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(v), &items); err != nil {
		p.notA(key, json.RawMessage(v), "a list of job objects (each with at least name and command)")
		return nil
	}
	list := make([]jobs.Job, 0, len(items))
	for i, item := range items {
		list = append(list, loadJob(p, fmt.Sprintf("%s[%d]", key, i), item))
	}
	return list
}

// emptyJob marks a job item the config reported as empty, so the release's
// rules do not report its missing name and command again.
const emptyJob = `is an empty job; give it at least name and command, e.g. {name: migrate, command: ["./migrate", "up"]}, or remove the item`

func loadJob(p *problems, key string, raw json.RawMessage) jobs.Job {
	var job jobs.Job
	if strings.TrimSpace(string(raw)) == "null" {
		p.add(key, emptyJob)
		return job
	}
	o, ok := newObject(key, raw, jobKeys(), p)
	if !ok {
		return job
	}
	if len(o.fields) == 0 {
		p.add(key, emptyJob)
		return job
	}
	job.Name, _ = o.string("name")
	job.Command, _ = o.strings("command")
	job.Args, _ = o.strings("args")
	if image, ok := o.string("image"); ok {
		job.Image = image
		if image == "" {
			p.add(o.path("image"), "must not be empty; leave it out to run the app's image")
		}
	}
	if n, ok := o.int("wave", check.WaveRange()); ok {
		job.Wave = n
	}
	job.Rerun, _ = o.string("rerun")
	if n, ok := o.int("backoffLimit", check.BackoffLimitRange()); ok {
		job.BackoffLimit = &n
	}
	job.Timeout, _ = o.string("timeout")
	job.Env, _ = o.stringMap("env")
	job.Resources = loadResources(o)
	if raw, ok := o.raw("pod"); ok {
		job.Pod = loadPod(p, o.path("pod"), raw)
	}
	job.Annotations, _ = o.stringMap("annotations")
	job.Manifest, _ = o.string("manifest")
	return job
}

// loadPod reads a pod block (pod, app.pod, a job's pod): Kubernetes' own
// types, each field checked for its kind and every unknown key reported
// under its full key.
func loadPod(p *problems, key string, raw json.RawMessage) *pod.Settings {
	s := &pod.Settings{}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		p.notA(key, raw, "a pod block: an object with the keys "+strings.Join(tagKeys(pod.Settings{}), ", "))
		return nil
	}
	if _, ok := v.(map[string]any); !ok {
		p.notA(key, raw, "a pod block: an object with the keys "+strings.Join(tagKeys(pod.Settings{}), ", "))
		return nil
	}
	decodeKube(p, key, raw, s)
	return s
}

// decodeKube reads raw into dst, a plain type of pod or pulumi-kubernetes
// (pod.Decode), its problems under key.
func decodeKube(p *problems, key string, raw json.RawMessage, dst any) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		p.notA(key, raw, "an object")
		return
	}
	q := &check.Problems{}
	pod.Decode(q, key, v, dst)
	p.list = append(p.list, q.List...)
}
