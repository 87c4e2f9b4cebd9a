package program_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/program"
)

// draft is a stack config under construction for a validation case.
type draft struct {
	values map[string]string
	app    map[string]any
	pre    []map[string]any
	post   []map[string]any
	gitops map[string]any
	secret map[string]string
	// raw values are set last, verbatim, replacing what the fields above set.
	raw map[string]string
}

func newDraft() *draft {
	return &draft{
		values: map[string]string{config.Key(config.KeyNamespace): "shop"},
		app:    map[string]any{"name": "shop", "image": "ghcr.io/acme/shop:1.0.0"},
		pre:    []map[string]any{{"name": "migrate", "command": []string{"migrate"}}},
		post:   []map[string]any{{"name": "smoke", "command": []string{"smoke"}}},
		secret: map[string]string{},
		raw:    map[string]string{},
	}
}

func (d *draft) config(t *testing.T) pulumitest.Config {
	t.Helper()
	cfg := pulumitest.Config{Values: map[string]string{}}
	for k, v := range d.values {
		cfg.Set(k, v)
	}
	for k, v := range d.secret {
		cfg.SetSecret(k, v)
	}
	if d.app != nil {
		require.NoError(t, cfg.SetObject(config.Key(config.KeyApp), d.app))
	}
	require.NoError(t, cfg.SetObject(config.Key(config.KeyPreDeploy), d.pre))
	require.NoError(t, cfg.SetObject(config.Key(config.KeyPostDeploy), d.post))
	if d.gitops != nil {
		require.NoError(t, cfg.SetObject(config.Key(config.KeyGitOps), d.gitops))
	}
	for k, v := range d.raw {
		cfg.Set(k, v)
	}
	return cfg
}

// validGitOps is a complete gitops hand-over to another stack of the project.
func validGitOps() map[string]any {
	return map[string]any{"repository": "https://github.com/acme/shop.git", "targetStack": "acme/pulumi-jobs/prod", "accessTokenSecret": "pulumi-api"}
}

// regressions are the cases refused with more problems than the one at
// their key: problems that follow from the first. Each entry names the keys
// of the extra problems, in order.
var regressions = map[string][]string{
	// The release's name (the app's) prefixes every Job's name, so a name
	// too long for the app is too long for each job too.
	"app name 64 characters": {"pulumi-jobs:preDeploy[0].name", "pulumi-jobs:postDeploy[0].name"},
}

// refused runs the program for stack and asserts that the config is refused
// with exactly one problem, at key, whose message contains msg (followed by
// problems at the keys extra, see regressions), and that nothing was
// registered.
func refused(t *testing.T, stack string, cfg pulumitest.Config, key, msg string, extra ...string) {
	t.Helper()
	m, err := pulumitest.Run(program.Run, stack, cfg)
	require.Error(t, err)
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	var keys []string
	for _, p := range cerr.Problems {
		keys = append(keys, p.Key)
	}
	require.Equal(t, append([]string{key}, extra...), keys, "exactly the one problem: %v", cerr.Problems)
	assert.Contains(t, cerr.Problems[0].Message, msg)
	assert.Contains(t, err.Error(), key+": ", "the error names the key")
	assert.Empty(t, m.Registrations(), "nothing may be registered when the config is invalid")
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name   string
		stack  string
		mutate func(d *draft)
		key    string
		msg    string
	}{
		{"missing namespace", "dev", func(d *draft) { delete(d.values, config.Key(config.KeyNamespace)) },
			"pulumi-jobs:namespace", "required"},
		{"invalid namespace", "dev", func(d *draft) { d.values[config.Key(config.KeyNamespace)] = "Shop_NS" },
			"pulumi-jobs:namespace", "not a valid name"},
		{"createNamespace not a bool", "dev", func(d *draft) { d.values[config.Key(config.KeyCreateNamespace)] = "yes" },
			"pulumi-jobs:createNamespace", "must be true or false"},
		{"missing app", "dev", func(d *draft) { d.app = nil },
			"pulumi-jobs:app", "required"},
		{"missing app.image", "dev", func(d *draft) { delete(d.app, "image") },
			"pulumi-jobs:app.image", "required"},
		{"empty app.image", "dev", func(d *draft) { d.app["image"] = "" },
			"pulumi-jobs:app.image", "required"},
		{"unparsable app.image", "dev", func(d *draft) { d.app["image"] = "ghcr.io/Acme/Shop:1" },
			"pulumi-jobs:app.image", "not an image reference"},
		{"latest tag in prod", "prod", func(d *draft) { d.app["image"] = "ghcr.io/acme/shop:latest" },
			"pulumi-jobs:app.image", "uses the tag latest"},
		{"no tag in prod-eu", "prod-eu", func(d *draft) { d.app["image"] = "ghcr.io/acme/shop" },
			"pulumi-jobs:app.image", "has no tag"},
		{"latest job image in prod", "prod", func(d *draft) { d.pre[0]["image"] = "ghcr.io/acme/tools:latest" },
			"pulumi-jobs:preDeploy[0].image", "uses the tag latest"},
		{"invalid app name", "dev", func(d *draft) { d.app["name"] = "Shop" },
			"pulumi-jobs:app.name", "not a valid name"},
		{"invalid job name", "dev", func(d *draft) { d.pre[0]["name"] = "migrate_schema" },
			"pulumi-jobs:preDeploy[0].name", "not a valid name"},
		{"job name too long for auto-naming", "dev", func(d *draft) { d.post[0]["name"] = strings.Repeat("a", 38) },
			"pulumi-jobs:postDeploy[0].name", `with the prefix "shop-post-deploy-" it must be no more than 54 characters, got 55`},
		{"duplicate job names across phases", "dev", func(d *draft) { d.post[0]["name"] = "migrate" },
			"pulumi-jobs:postDeploy[0].name", `"migrate" is already the name of preDeploy[0]; job names must be unique`},
		{"negative wave", "dev", func(d *draft) { d.pre[0]["wave"] = -1 },
			"pulumi-jobs:preDeploy[0].wave", "must be a whole number between 0 and 2147483647, got -1"},
		{"fractional wave", "dev", func(d *draft) { d.pre[0]["wave"] = 1.5 },
			"pulumi-jobs:preDeploy[0].wave", "must be a whole number"},
		{"negative replicas", "dev", func(d *draft) { d.app["replicas"] = -2 },
			"pulumi-jobs:app.replicas", "must be a whole number between 0 and 2147483647 (the Deployment's replicas is an int32), got -2"},
		{"negative backoffLimit", "dev", func(d *draft) { d.post[0]["backoffLimit"] = -1 },
			"pulumi-jobs:postDeploy[0].backoffLimit", "must be a whole number between 0 and 2147483647 (the Job's backoffLimit is an int32), got -1"},
		{"unparsable timeout", "dev", func(d *draft) { d.pre[0]["timeout"] = "ten minutes" },
			"pulumi-jobs:preDeploy[0].timeout", "not a Go duration"},
		{"zero timeout", "dev", func(d *draft) { d.pre[0]["timeout"] = "0s" },
			"pulumi-jobs:preDeploy[0].timeout", "must be positive"},
		{"negative timeout", "dev", func(d *draft) { d.pre[0]["timeout"] = "-5m" },
			"pulumi-jobs:preDeploy[0].timeout", "must be positive"},
		{"unknown rerun", "dev", func(d *draft) { d.pre[0]["rerun"] = "always" },
			"pulumi-jobs:preDeploy[0].rerun", "use onChange (the default), onRelease or once"},
		{"onRelease without release", "dev", func(d *draft) { d.post[0]["rerun"] = "onRelease" },
			"pulumi-jobs:postDeploy[0].rerun", "pulumi config set release"},
		{"empty command", "dev", func(d *draft) { d.pre[0]["command"] = []string{} },
			"pulumi-jobs:preDeploy[0].command", "non-empty list"},
		{"missing command", "dev", func(d *draft) { delete(d.pre[0], "command") },
			"pulumi-jobs:preDeploy[0].command", "required"},
		{"command not a list", "dev", func(d *draft) { d.pre[0]["command"] = "migrate up" },
			"pulumi-jobs:preDeploy[0].command", "must be a list of strings"},
		{"port zero", "dev", func(d *draft) { d.app["port"] = 0 },
			"pulumi-jobs:app.port", "between 1 and 65535"},
		{"port too high", "dev", func(d *draft) { d.app["port"] = 70000 },
			"pulumi-jobs:app.port", "between 1 and 65535"},
		{"unknown key in app", "dev", func(d *draft) { d.app["imagePullPolicy"] = "Always" },
			"pulumi-jobs:app.imagePullPolicy", "unknown key; the valid keys here are chart, env, image, manifests, name"},
		{"unknown key in a job", "dev", func(d *draft) { d.pre[0]["comand"] = []string{"x"} },
			"pulumi-jobs:preDeploy[0].comand", "unknown key"},
		{"unknown key in resources", "dev", func(d *draft) { d.app["resources"] = map[string]any{"request": map[string]any{}} },
			"pulumi-jobs:app.resources.request", "unknown key"},
		{"job not an object", "dev", func(d *draft) {
			d.raw[config.Key(config.KeyPreDeploy)] = `[{"name":"migrate","command":["migrate"]},"migrate"]`
		}, "pulumi-jobs:preDeploy[1]", "must be an object with the keys annotations, args, backoffLimit, command, env, image, manifest, name, rerun, resources, timeout, wave; Pulumi.dev.yaml sets it to a string"},
		{"env value not a string", "dev", func(d *draft) { d.app["env"] = map[string]any{"PORT": 8080} },
			"pulumi-jobs:app.env", "quote numbers"},
		{"invalid env name", "dev", func(d *draft) { d.pre[0]["env"] = map[string]any{"1BAD": "x"} },
			"pulumi-jobs:preDeploy[0].env.1BAD", "not a valid environment variable name"},
		{"DATABASE_URL in env", "dev", func(d *draft) { d.app["env"] = map[string]any{"DATABASE_URL": "postgres://x"} },
			"pulumi-jobs:app.env.DATABASE_URL", "is reserved"},
		{"plaintext databaseUrl", "dev", func(d *draft) { d.values[config.Key(config.KeyDatabaseURL)] = "postgres://x" },
			"pulumi-jobs:databaseUrl", "pulumi config set --secret databaseUrl"},
		{"bad quantity", "dev", func(d *draft) {
			d.app["resources"] = map[string]any{"limits": map[string]any{"memory": "lots"}}
		}, "pulumi-jobs:app.resources.limits.memory", "not a Kubernetes quantity"},
		{"request above limit", "dev", func(d *draft) {
			d.app["resources"] = map[string]any{"requests": map[string]any{"cpu": "2"}}
		}, "pulumi-jobs:app.resources.requests.cpu", "more than the limit"},
		{"readinessPath without slash", "dev", func(d *draft) { d.app["readinessPath"] = "healthz" },
			"pulumi-jobs:app.readinessPath", `starting with "/"`},
		{"invalid annotation key", "dev", func(d *draft) { d.pre[0]["annotations"] = map[string]any{"bad key!": "x"} },
			`pulumi-jobs:preDeploy[0].annotations["bad key!"]`, "not a valid annotation key"},
		{"preDeploy not a list", "dev", func(d *draft) { d.raw[config.Key(config.KeyPreDeploy)] = `{"name":"x"}` },
			"pulumi-jobs:preDeploy", "must be a list of job objects (each with at least name and command); Pulumi.dev.yaml sets it to an object"},

		// Integers: int32 ranges, checked before any conversion, and whole numbers only.
		{"replicas beyond int32", "dev", func(d *draft) { d.app["replicas"] = 3000000000 },
			"pulumi-jobs:app.replicas", "must be a whole number between 0 and 2147483647 (the Deployment's replicas is an int32), got 3000000000"},
		{"fractional replicas", "dev", func(d *draft) { d.app["replicas"] = 1.5 },
			"pulumi-jobs:app.replicas", "must be a whole number between 0 and 2147483647 (the Deployment's replicas is an int32), got 1.5"},
		{"replicas as a string", "dev", func(d *draft) { d.app["replicas"] = "3" },
			"pulumi-jobs:app.replicas", `must be a whole number between 0 and 2147483647 (the Deployment's replicas is an int32), got "3"`},
		{"fractional port", "dev", func(d *draft) { d.app["port"] = 80.5 },
			"pulumi-jobs:app.port", "must be a TCP port, a whole number between 1 and 65535, got 80.5"},
		{"backoffLimit beyond int32", "dev", func(d *draft) { d.pre[0]["backoffLimit"] = 3000000000 },
			"pulumi-jobs:preDeploy[0].backoffLimit", "must be a whole number between 0 and 2147483647 (the Job's backoffLimit is an int32), got 3000000000"},
		{"wave beyond int32", "dev", func(d *draft) { d.pre[0]["wave"] = 2147483648 },
			"pulumi-jobs:preDeploy[0].wave", "must be a whole number between 0 and 2147483647, got 2147483648"},
		{"wave beyond int64", "dev", func(d *draft) {
			d.raw[config.Key(config.KeyPreDeploy)] = `[{"name":"migrate","command":["migrate"],"wave":99999999999999999999}]`
		}, "pulumi-jobs:preDeploy[0].wave", "must be a whole number between 0 and 2147483647, got 99999999999999999999"},

		// Timeout: positive, at most MaxTimeout, stated in the message.
		{"timeout far too long", "dev", func(d *draft) { d.pre[0]["timeout"] = "1000000h" },
			"pulumi-jobs:preDeploy[0].timeout", `"1000000h" is longer than the maximum of 168h (7 days); the timeout becomes the Job's activeDeadlineSeconds and the engine waits that plus 1m, so give the longest the Job may really run, e.g. "2h"`},
		{"timeout just over the maximum", "dev", func(d *draft) { d.pre[0]["timeout"] = "168h1s" },
			"pulumi-jobs:preDeploy[0].timeout", `"168h1s" is longer than the maximum of 168h (7 days)`},

		// Quantities: not negative; a limit not 0.
		{"negative cpu request", "dev", func(d *draft) {
			d.app["resources"] = map[string]any{"requests": map[string]any{"cpu": "-100m"}}
		}, "pulumi-jobs:app.resources.requests.cpu", `"-100m" is negative; a quantity must be 0 or more, e.g. "250m"`},
		{"negative memory limit", "dev", func(d *draft) {
			d.app["resources"] = map[string]any{"limits": map[string]any{"memory": "-1Gi"}}
		}, "pulumi-jobs:app.resources.limits.memory", `"-1Gi" is negative; a quantity must be 0 or more, e.g. "256Mi"`},
		{"zero cpu limit", "dev", func(d *draft) {
			d.app["resources"] = map[string]any{"requests": map[string]any{"cpu": "0"}, "limits": map[string]any{"cpu": "0"}}
		}, "pulumi-jobs:app.resources.limits.cpu", `"0" is no limit at all to the container runtime; set a limit above 0, e.g. "250m", or leave it out for the default`},

		// Annotations: Kubernetes' 256 KiB total.
		{"300 KiB annotation", "dev", func(d *draft) {
			d.pre[0]["annotations"] = map[string]any{"example.com/blob": strings.Repeat("x", 300*1024)}
		}, "pulumi-jobs:preDeploy[0].annotations", "keys and values total 307216 bytes, more than Kubernetes' limit of 262144 bytes (256 KiB) for the annotations of one object; keep large data out of annotations, e.g. in a ConfigMap"},
		{"annotation prefix not a DNS subdomain", "dev", func(d *draft) { d.post[0]["annotations"] = map[string]any{"exa_mple.com/x": "1"} },
			`pulumi-jobs:postDeploy[0].annotations["exa_mple.com/x"]`, "not a valid annotation key: prefix part a lowercase RFC 1123 subdomain"},

		// System namespaces.
		{"namespace kube-system", "dev", func(d *draft) { d.values[config.Key(config.KeyNamespace)] = "kube-system" },
			"pulumi-jobs:namespace", `"kube-system" is a namespace of Kubernetes itself, not the release's: with createNamespace (the default) the release would own it, relabel it for Pod Security and delete it with everything in it on pulumi destroy; without, the app and Jobs would mix with the cluster's own objects. Use a namespace of the release's own, e.g. shop`},
		{"namespace default", "dev", func(d *draft) { d.values[config.Key(config.KeyNamespace)] = "default" },
			"pulumi-jobs:namespace", `"default" is a namespace of Kubernetes itself`},
		{"namespace kube-anything, even without createNamespace", "dev", func(d *draft) {
			d.values[config.Key(config.KeyNamespace)] = "kube-extra"
			d.values[config.Key(config.KeyCreateNamespace)] = "false"
		}, "pulumi-jobs:namespace", `"kube-extra" is a namespace of Kubernetes itself`},

		// Production stacks.
		{"latest in prod2", "prod2", func(d *draft) { d.app["image"] = "ghcr.io/acme/shop:latest" },
			"pulumi-jobs:app.image", `"ghcr.io/acme/shop:latest" uses the tag latest; stack "prod2" is a production stack, so pin a version tag or a digest (repo@sha256:…)`},
		{"untagged in production", "production", func(d *draft) { d.pre[0]["image"] = "ghcr.io/acme/tools" },
			"pulumi-jobs:preDeploy[0].image", `"ghcr.io/acme/tools" has no tag; stack "production" is a production stack`},

		// Job names: the real limit and why.
		{"70-character job name", "dev", func(d *draft) { d.pre[0]["name"] = strings.Repeat("a", 70) },
			"pulumi-jobs:preDeploy[0].name", `"` + strings.Repeat("a", 70) + `" is not a valid name: with the prefix "shop-pre-deploy-" it must be no more than 54 characters, got 86: the provider appends "-" and 8 hex digits to form the Job's name, which must fit the 63-character label batch.kubernetes.io/job-name; shorten the job's name or the component's`},
		{"app name starting with a digit", "dev", func(d *draft) { d.app["name"] = "1shop" },
			"pulumi-jobs:app.name", `"1shop" is not a valid name: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character`},
		{"empty program in command", "dev", func(d *draft) { d.post[0]["command"] = []string{"", "x"} },
			"pulumi-jobs:postDeploy[0].command[0]", `must not be empty: it is the program the Job runs, e.g. "./migrate"`},

		// Empty list items name their index.
		{"null job", "dev", func(d *draft) {
			d.raw[config.Key(config.KeyPreDeploy)] = `[{"name":"migrate","command":["migrate"]},null]`
		},
			"pulumi-jobs:preDeploy[1]", `is an empty job; give it at least name and command, e.g. {name: migrate, command: ["./migrate", "up"]}, or remove the item`},
		{"empty job object", "dev", func(d *draft) { d.post = append(d.post, map[string]any{}) },
			"pulumi-jobs:postDeploy[1]", "is an empty job; give it at least name and command"},

		// Values that cannot be parsed name the stack file.
		{"app set as a plain string", "dev", func(d *draft) { d.app = nil; d.raw[config.Key(config.KeyApp)] = "name: shop" },
			"pulumi-jobs:app", "must be an object with the keys chart, env, image, manifests, name, port, readinessPath, replicas, resources, but its value in Pulumi.dev.yaml cannot be parsed (parsing name: shop: invalid character 'a' in literal null (expecting 'u')); write it there as YAML under pulumi-jobs:app, or set single fields with pulumi config set --path"},
		{"app set as a list", "staging", func(d *draft) { d.app = nil; d.raw[config.Key(config.KeyApp)] = `["shop"]` },
			"pulumi-jobs:app", "must be an object with the keys chart, env, image, manifests, name, port, readinessPath, replicas, resources; Pulumi.staging.yaml sets it to a list"},
		{"postDeploy broken", "dev", func(d *draft) { d.raw[config.Key(config.KeyPostDeploy)] = "- name: smoke" },
			"pulumi-jobs:postDeploy", "but its value in Pulumi.dev.yaml cannot be parsed"},
		{"gitops broken", "dev", func(d *draft) { d.raw[config.Key(config.KeyGitOps)] = "repository: x" },
			"pulumi-jobs:gitops", "but its value in Pulumi.dev.yaml cannot be parsed"},

		// gitops.targetStack: only this very stack is refused.
		{"targetStack is this stack", "prod", func(d *draft) { d.gitops = validGitOps() },
			"pulumi-jobs:gitops.targetStack", `"acme/pulumi-jobs/prod" is this stack itself (project pulumi-jobs, stack prod); the operator must run another stack of the project, the one this stack hands over to`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDraft()
			c.mutate(d)
			refused(t, c.stack, d.config(t), c.key, c.msg, regressions[c.name]...)
		})
	}
}

func TestValidationValidCases(t *testing.T) {
	cases := []struct {
		name   string
		stack  string
		mutate func(d *draft)
	}{
		{"digest in prod", "prod", func(d *draft) {
			d.app["image"] = "ghcr.io/acme/shop@sha256:" + strings.Repeat("ab", 32)
		}},
		{"latest outside prod", "dev", func(d *draft) { d.app["image"] = "ghcr.io/acme/shop:latest" }},
		{"untagged outside prod", "staging", func(d *draft) { d.app["image"] = "shop" }},
		{"zero replicas", "dev", func(d *draft) { d.app["replicas"] = 0 }},
		{"38-character job name, 54 with shop-pre-deploy-", "dev", func(d *draft) { d.pre[0]["name"] = strings.Repeat("a", 38) }},
		{"secret databaseUrl", "dev", func(d *draft) { d.secret[config.Key(config.KeyDatabaseURL)] = "postgres://x" }},
		{"no jobs", "dev", func(d *draft) { d.pre, d.post = nil, nil }},
		{"most replicas", "dev", func(d *draft) { d.app["replicas"] = 2147483647 }},
		{"backoffLimit 0", "dev", func(d *draft) { d.pre[0]["backoffLimit"] = 0 }},
		{"timeout at the maximum", "dev", func(d *draft) { d.pre[0]["timeout"] = "168h" }},
		{"zero requests", "dev", func(d *draft) {
			d.app["resources"] = map[string]any{"requests": map[string]any{"cpu": "0", "memory": "0"}}
		}},
		{"annotations of exactly 256 KiB", "dev", func(d *draft) {
			d.pre[0]["annotations"] = map[string]any{"a": strings.Repeat("x", 256*1024-1)}
		}},
		{"annotation key with capitals", "dev", func(d *draft) { d.pre[0]["annotations"] = map[string]any{"Example.com/Opt-Out": "true"} }},
		{"latest in product-demo", "product-demo", func(d *draft) { d.app["image"] = "ghcr.io/acme/shop:latest" }},
		{"latest in preprod", "preprod", func(d *draft) { d.app["image"] = "ghcr.io/acme/shop:latest" }},
		{"namespace named like kube but not kube-*", "dev", func(d *draft) { d.values[config.Key(config.KeyNamespace)] = "kubernetes-apps" }},
		{"targetStack of the same name in another project", "prod", func(d *draft) {
			d.gitops = validGitOps()
			d.gitops["targetStack"] = "acme/shop-infra/prod"
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDraft()
			c.mutate(d)
			m, err := pulumitest.Run(program.Run, c.stack, d.config(t))
			require.NoError(t, err)
			assert.NotEmpty(t, m.Registrations())
		})
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	d := newDraft()
	d.app["name"] = "Shop"
	d.app["port"] = 0
	d.pre[0]["timeout"] = "soon"
	d.post[0]["name"] = "migrate"
	d.post[0]["rerun"] = "sometimes"
	_, err := pulumitest.Run(program.Run, "dev", d.config(t))
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	var keys []string
	for _, p := range cerr.Problems {
		keys = append(keys, p.Key)
	}
	assert.Equal(t, []string{
		"pulumi-jobs:app.port", // what the config reader refuses comes first,
		"pulumi-jobs:app.name", // then what the release's rules refuse
		"pulumi-jobs:preDeploy[0].timeout",
		"pulumi-jobs:postDeploy[0].rerun",
		"pulumi-jobs:postDeploy[0].name",
	}, keys)
}
