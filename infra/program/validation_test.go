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
	secret map[string]string
}

func newDraft() *draft {
	return &draft{
		values: map[string]string{config.Key(config.KeyNamespace): "shop"},
		app:    map[string]any{"name": "shop", "image": "ghcr.io/acme/shop:1.0.0"},
		pre:    []map[string]any{{"name": "migrate", "command": []string{"migrate"}}},
		post:   []map[string]any{{"name": "smoke", "command": []string{"smoke"}}},
		secret: map[string]string{},
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
	return cfg
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
		{"job name too long for auto-naming", "dev", func(d *draft) { d.post[0]["name"] = strings.Repeat("a", 55) },
			"pulumi-jobs:postDeploy[0].name", "no more than 54 characters"},
		{"duplicate job names across phases", "dev", func(d *draft) { d.post[0]["name"] = "migrate" },
			"pulumi-jobs:postDeploy[0].name", "already the name of pulumi-jobs:preDeploy[0]"},
		{"negative wave", "dev", func(d *draft) { d.pre[0]["wave"] = -1 },
			"pulumi-jobs:preDeploy[0].wave", "must be 0 or more"},
		{"fractional wave", "dev", func(d *draft) { d.pre[0]["wave"] = 1.5 },
			"pulumi-jobs:preDeploy[0].wave", "must be a whole number"},
		{"negative replicas", "dev", func(d *draft) { d.app["replicas"] = -2 },
			"pulumi-jobs:app.replicas", "must be 0 or more"},
		{"negative backoffLimit", "dev", func(d *draft) { d.post[0]["backoffLimit"] = -1 },
			"pulumi-jobs:postDeploy[0].backoffLimit", "must be 0 or more"},
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
			"pulumi-jobs:app.imagePullPolicy", "unknown key; the valid keys here are env, image, name"},
		{"unknown key in a job", "dev", func(d *draft) { d.pre[0]["comand"] = []string{"x"} },
			"pulumi-jobs:preDeploy[0].comand", "unknown key"},
		{"unknown key in resources", "dev", func(d *draft) { d.app["resources"] = map[string]any{"request": map[string]any{}} },
			"pulumi-jobs:app.resources.request", "unknown key"},
		{"job not an object", "dev", func(d *draft) { d.pre = append(d.pre, nil) },
			"pulumi-jobs:preDeploy[1]", "must be an object"},
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
		{"preDeploy not a list", "dev", func(d *draft) { d.pre = nil; d.values[config.Key(config.KeyPreDeploy)] = `{"name":"x"}` },
			"pulumi-jobs:preDeploy", "must be a list of job objects"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDraft()
			c.mutate(d)
			cfg := d.config(t)
			if raw, ok := d.values[config.Key(config.KeyPreDeploy)]; ok {
				cfg.Set(config.Key(config.KeyPreDeploy), raw)
			}

			m, err := pulumitest.Run(program.Run, c.stack, cfg)
			require.Error(t, err)
			var cerr *config.Error
			require.ErrorAs(t, err, &cerr)
			require.Len(t, cerr.Problems, 1, "exactly the one problem: %v", cerr.Problems)
			assert.Equal(t, c.key, cerr.Problems[0].Key)
			assert.Contains(t, cerr.Problems[0].Message, c.msg)
			assert.Contains(t, err.Error(), c.key+": ", "the error names the key")
			assert.Empty(t, m.Registrations(), "nothing may be registered when the config is invalid")
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
		{"54-character job name", "dev", func(d *draft) { d.pre[0]["name"] = strings.Repeat("a", 54) }},
		{"secret databaseUrl", "dev", func(d *draft) { d.secret[config.Key(config.KeyDatabaseURL)] = "postgres://x" }},
		{"no jobs", "dev", func(d *draft) { d.pre, d.post = nil, nil }},
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
		"pulumi-jobs:app.name",
		"pulumi-jobs:app.port",
		"pulumi-jobs:preDeploy[0].timeout",
		"pulumi-jobs:postDeploy[0].rerun",
		"pulumi-jobs:postDeploy[0].name",
	}, keys)
}
