package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
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

// refused loads cfg as the config of stack and asserts that it is refused
// with exactly one problem, at key, whose message is msg (followed by
// problems at the keys extra, see regressions). (That nothing is registered
// then is the program's promise: TestInvalidConfigRegistersNothing.)
func refused(t *testing.T, stack string, cfg pulumitest.Config, key, msg string, extra ...string) {
	t.Helper()
	_, err := config.Load(pulumitest.Source{Config: cfg, StackName: stack})
	require.Error(t, err)
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	var keys []string
	for _, p := range cerr.Problems {
		keys = append(keys, p.Key)
	}
	require.Equal(t, append([]string{key}, extra...), keys, "exactly the one problem: %v", cerr.Problems)
	assert.Equal(t, msg, cerr.Problems[0].Message)
}

// refuseAll runs each case on a fresh draft: refused, as refused says.
func refuseAll(t *testing.T, cases []badConfig) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDraft()
			c.mutate(d)
			refused(t, c.stack, d.config(t), c.key, c.msg, regressions[c.name]...)
		})
	}
}

// edgeConfig is one valid stack config at an edge: a draft mutation.
type edgeConfig struct {
	name   string
	stack  string
	mutate func(d *draft)
}

// acceptAll runs each case on a fresh draft: config.Load accepts it.
func acceptAll(t *testing.T, cases []edgeConfig) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDraft()
			c.mutate(d)
			_, err := config.Load(pulumitest.Source{Config: d.config(t), StackName: c.stack})
			require.NoError(t, err)
		})
	}
}

func TestValidation(t *testing.T) {
	cases := []badConfig{
		{"missing namespace", "dev", func(d *draft) { delete(d.values, config.Key(config.KeyNamespace)) },
			"pulumi-jobs:namespace", "required; set it to the Kubernetes namespace of the release: pulumi config set namespace shop"},
		{"createNamespace not a bool", "dev", func(d *draft) { d.values[config.Key(config.KeyCreateNamespace)] = "yes" },
			"pulumi-jobs:createNamespace", `must be true or false, got "yes"`},
		{"missing app", "dev", func(d *draft) { d.app = nil },
			"pulumi-jobs:app", "required; set it to an object with at least name and image, e.g. {name: shop, image: ghcr.io/acme/shop:1.4.2}"},
		{"missing app.image", "dev", func(d *draft) { delete(d.app, "image") },
			"pulumi-jobs:app.image", `required; the image to release as repo:tag or repo@sha256:…, e.g. "ghcr.io/acme/shop:1.4.2"`},
		{"negative wave", "dev", func(d *draft) { d.pre[0]["wave"] = -1 },
			"pulumi-jobs:preDeploy[0].wave", "must be a whole number between 0 and 2147483647, got -1"},
		{"fractional wave", "dev", func(d *draft) { d.pre[0]["wave"] = 1.5 },
			"pulumi-jobs:preDeploy[0].wave", `must be a whole number between 0 and 2147483647, got 1.5`},
		{"negative replicas", "dev", func(d *draft) { d.app["replicas"] = -2 },
			"pulumi-jobs:app.replicas", "must be a whole number between 0 and 2147483647 (the Deployment's replicas is an int32), got -2"},
		{"negative backoffLimit", "dev", func(d *draft) { d.post[0]["backoffLimit"] = -1 },
			"pulumi-jobs:postDeploy[0].backoffLimit", "must be a whole number between 0 and 2147483647 (the Job's backoffLimit is an int32), got -1"},
		{"command not a list", "dev", func(d *draft) { d.pre[0]["command"] = "migrate up" },
			"pulumi-jobs:preDeploy[0].command", `must be a list of strings, got "migrate up"`},
		{"port zero", "dev", func(d *draft) { d.app["port"] = 0 },
			"pulumi-jobs:app.port", `must be a TCP port, a whole number between 1 and 65535, got 0`},
		{"port too high", "dev", func(d *draft) { d.app["port"] = 70000 },
			"pulumi-jobs:app.port", `must be a TCP port, a whole number between 1 and 65535, got 70000`},
		{"unknown key in app", "dev", func(d *draft) { d.app["imagePullPolicy"] = "Always" },
			"pulumi-jobs:app.imagePullPolicy", `unknown key; the valid keys here are chart, env, image, livenessProbe, manifests, name, pod, port, readinessPath, readinessProbe, replicas, resources, startupProbe`},
		{"unknown key in a job", "dev", func(d *draft) { d.pre[0]["comand"] = []string{"x"} },
			"pulumi-jobs:preDeploy[0].comand", `unknown key; the valid keys here are annotations, args, backoffLimit, command, env, image, manifest, name, pod, rerun, resources, timeout, wave`},
		{"unknown key in resources", "dev", func(d *draft) { d.app["resources"] = map[string]any{"request": map[string]any{}} },
			"pulumi-jobs:app.resources.request", `unknown key; the valid keys here are limits, requests`},
		{"job not an object", "dev", func(d *draft) {
			d.raw[config.Key(config.KeyPreDeploy)] = `[{"name":"migrate","command":["migrate"]},"migrate"]`
		}, "pulumi-jobs:preDeploy[1]", "must be an object with the keys annotations, args, backoffLimit, command, env, image, manifest, name, pod, rerun, resources, timeout, wave; Pulumi.dev.yaml sets it to a string"},
		{"env value not a string", "dev", func(d *draft) { d.app["env"] = map[string]any{"PORT": 8080} },
			"pulumi-jobs:app.env", `must be a map of strings to strings (quote numbers and booleans in YAML, e.g. "8080"), got {"PORT":8080}`},
		{"plaintext databaseUrl", "dev", func(d *draft) { d.values[config.Key(config.KeyDatabaseURL)] = "postgres://x" },
			"pulumi-jobs:databaseUrl", `is stored in plaintext; set it as a secret instead: pulumi config set --secret databaseUrl 'postgres://…'`},
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

		// Quantities: not negative; a limit not 0.

		// Annotations: Kubernetes' 256 KiB total.

		// System namespaces.

		// Production stacks.

		// Job names: the real limit and why.

		// Empty list items name their index.
		{"null job", "dev", func(d *draft) {
			d.raw[config.Key(config.KeyPreDeploy)] = `[{"name":"migrate","command":["migrate"]},null]`
		},
			"pulumi-jobs:preDeploy[1]", `is an empty job; give it at least name and command, e.g. {name: migrate, command: ["./migrate", "up"]}, or remove the item`},
		{"empty job object", "dev", func(d *draft) { d.post = append(d.post, map[string]any{}) },
			"pulumi-jobs:postDeploy[1]", `is an empty job; give it at least name and command, e.g. {name: migrate, command: ["./migrate", "up"]}, or remove the item`},

		// Values that cannot be parsed name the stack file.
		{"app set as a plain string", "dev", func(d *draft) { d.app = nil; d.raw[config.Key(config.KeyApp)] = "name: shop" },
			"pulumi-jobs:app", "must be an object with the keys chart, env, image, livenessProbe, manifests, name, pod, port, readinessPath, readinessProbe, replicas, resources, startupProbe, but its value in Pulumi.dev.yaml cannot be parsed (parsing name: shop: invalid character 'a' in literal null (expecting 'u')); write it there as YAML under pulumi-jobs:app, or set single fields with pulumi config set --path"},
		{"app set as a list", "staging", func(d *draft) { d.app = nil; d.raw[config.Key(config.KeyApp)] = `["shop"]` },
			"pulumi-jobs:app", "must be an object with the keys chart, env, image, livenessProbe, manifests, name, pod, port, readinessPath, readinessProbe, replicas, resources, startupProbe; Pulumi.staging.yaml sets it to a list"},
		{"postDeploy broken", "dev", func(d *draft) { d.raw[config.Key(config.KeyPostDeploy)] = "- name: smoke" },
			"pulumi-jobs:postDeploy", `must be a list of job objects (each with at least name and command), but its value in Pulumi.dev.yaml cannot be parsed (parsing - name: smoke: invalid character ' ' in numeric literal); write it there as YAML under pulumi-jobs:postDeploy, or set single fields with pulumi config set --path`},
		{"gitops broken", "dev", func(d *draft) { d.raw[config.Key(config.KeyGitOps)] = "repository: x" },
			"pulumi-jobs:gitops", `must be an object with the keys accessTokenSecret, branch, directory, repository, resyncInterval, serviceAccount, targetStack, but its value in Pulumi.dev.yaml cannot be parsed (parsing repository: x: invalid character 'r' looking for beginning of value); write it there as YAML under pulumi-jobs:gitops, or set single fields with pulumi config set --path`},

		// gitops.targetStack: only this very stack is refused.
	}
	refuseAll(t, cases)
}

func TestValidationValidCases(t *testing.T) {
	cases := []edgeConfig{
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
	acceptAll(t, cases)
}

// TestEdgeValuesCarried: values at the edges are not only accepted but
// carried into the plan as given.
func TestEdgeValuesCarried(t *testing.T) {
	d := newDraft()
	d.app["replicas"] = 0
	d.app["resources"] = map[string]any{"requests": map[string]any{"cpu": 0.25}, "limits": map[string]any{"cpu": 1}}
	d.pre[0]["timeout"] = "168h"
	d.pre[0]["backoffLimit"] = 0
	plan, err := config.Load(pulumitest.Source{Config: d.config(t), StackName: "dev"})
	require.NoError(t, err)
	assert.Equal(t, 0, plan.App.Replicas)
	assert.Equal(t, "0.25", plan.App.Resources.Requests.CPU)
	assert.Equal(t, "1", plan.App.Resources.Limits.CPU)
	require.Len(t, plan.PreDeploy, 1)
	require.Len(t, plan.PreDeploy[0].Jobs, 1)
	assert.Equal(t, 168*time.Hour, plan.PreDeploy[0].Jobs[0].Timeout)
	assert.Equal(t, 0, plan.PreDeploy[0].Jobs[0].BackoffLimit)
}

func TestValidationReportsEveryProblem(t *testing.T) {
	d := newDraft()
	d.app["name"] = "Shop"
	d.app["port"] = 0
	d.pre[0]["timeout"] = "soon"
	d.post[0]["name"] = "migrate"
	d.post[0]["rerun"] = "sometimes"
	_, err := config.Load(pulumitest.Source{Config: d.config(t), StackName: "dev"})
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
