package config_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
)

// badConfig is one invalid stack config: a draft mutation, the single key it
// must be refused at and its message.
type badConfig struct {
	name   string
	stack  string
	mutate func(d *draft)
	key    string
	msg    string
}

// setNS sets the namespace.
func setNS(ns string) func(d *draft) {
	return func(d *draft) { d.values[config.Key(config.KeyNamespace)] = ns }
}

// setRaw sets key (without namespace) to a raw value, as the engine would pass it.
func setRaw(key, raw string) func(d *draft) {
	return func(d *draft) {
		if key == config.KeyApp {
			d.app = nil
		}
		d.raw[config.Key(key)] = raw
	}
}

// appField sets one field of app.
func appField(name string, v any) func(d *draft) {
	return func(d *draft) { d.app[name] = v }
}

// preField sets one field of preDeploy[0].
func preField(name string, v any) func(d *draft) {
	return func(d *draft) { d.pre[0][name] = v }
}

// postField sets one field of postDeploy[0].
func postField(name string, v any) func(d *draft) {
	return func(d *draft) { d.post[0][name] = v }
}

// resources sets app.resources.
func resources(kind, name string, v any) func(d *draft) {
	return func(d *draft) { d.app["resources"] = map[string]any{kind: map[string]any{name: v}} }
}

// gitopsField sets a valid gitops hand-over with one field changed (nil deletes it).
func gitopsField(name string, v any) func(d *draft) {
	return func(d *draft) {
		d.gitops = validGitOps()
		if v == nil {
			delete(d.gitops, name)
			return
		}
		d.gitops[name] = v
	}
}

func badConfigs() []badConfig {
	const (
		ns   = "pulumi-jobs:namespace"
		app  = "pulumi-jobs:app"
		pre0 = "pulumi-jobs:preDeploy[0]"
		pst0 = "pulumi-jobs:postDeploy[0]"
		git  = "pulumi-jobs:gitops"
	)
	int32Range := "must be a whole number between 0 and 2147483647"
	return []badConfig{
		// namespace
		{"empty namespace", "dev", setNS(""), ns, "required; set it to the Kubernetes namespace of the release: pulumi config set namespace shop"},
		{"createNamespace maybe", "dev", func(d *draft) { d.values[config.Key(config.KeyCreateNamespace)] = "maybe" },
			"pulumi-jobs:createNamespace", `must be true or false, got "maybe"`},

		// app as a whole
		{"app empty", "dev", setRaw(config.KeyApp, ""), app, "required; set it to an object with at least name and image, e.g. {name: shop, image: ghcr.io/acme/shop:1.4.2}"},
		{"app null", "dev", setRaw(config.KeyApp, "null"), app, `must be an object with the keys chart, env, image, livenessProbe, manifests, name, pod, port, readinessPath, readinessProbe, replicas, resources, startupProbe; Pulumi.dev.yaml sets it to null`},
		{"app a number", "dev", setRaw(config.KeyApp, "42"), app, `must be an object with the keys chart, env, image, livenessProbe, manifests, name, pod, port, readinessPath, readinessProbe, replicas, resources, startupProbe; Pulumi.dev.yaml sets it to a number`},
		{"app YAML flow as a string", "dev", setRaw(config.KeyApp, "{name: shop}"), app, `must be an object with the keys chart, env, image, livenessProbe, manifests, name, pod, port, readinessPath, readinessProbe, replicas, resources, startupProbe, but its value in Pulumi.dev.yaml cannot be parsed (parsing {name: shop}: invalid character 'n' looking for beginning of object key string); write it there as YAML under pulumi-jobs:app, or set single fields with pulumi config set --path`},
		{"app unknown key", "dev", appField("replica", 2), app + ".replica", "unknown key; the valid keys here are chart, env, image, livenessProbe, manifests, name, pod, port, readinessPath, readinessProbe, replicas, resources, startupProbe"},

		// app.name, app.image
		{"app name missing", "dev", func(d *draft) { delete(d.app, "name") }, app + ".name", `required; a DNS-1035 label naming the Deployment and Service, e.g. shop`},
		{"app name a number", "dev", appField("name", 5), app + ".name", "must be a string, got 5"},

		// app.replicas, app.port
		{"replicas -1", "dev", appField("replicas", -1), app + ".replicas", int32Range + " (the Deployment's replicas is an int32), got -1"},
		{"replicas 2^31", "dev", appField("replicas", 2147483648), app + ".replicas", `must be a whole number between 0 and 2147483647 (the Deployment's replicas is an int32), got 2147483648`},
		{"replicas 1e3", "dev", func(d *draft) {
			d.app = nil
			d.raw[config.Key(config.KeyApp)] = `{"name":"shop","image":"ghcr.io/acme/shop:1.0.0","replicas":1e3}`
		}, app + ".replicas", `must be a whole number between 0 and 2147483647 (the Deployment's replicas is an int32), got 1e3`},
		{"replicas true", "dev", appField("replicas", true), app + ".replicas", `must be a whole number between 0 and 2147483647 (the Deployment's replicas is an int32), got true`},
		{"port 65536", "dev", appField("port", 65536), app + ".port", "must be a TCP port, a whole number between 1 and 65535, got 65536"},
		{"port -80", "dev", appField("port", -80), app + ".port", `must be a TCP port, a whole number between 1 and 65535, got -80`},
		{"port as a string", "dev", appField("port", "8080"), app + ".port", `must be a TCP port, a whole number between 1 and 65535, got "8080"`},

		// app.env
		{"env a list", "dev", appField("env", []string{"A=1"}), app + ".env", `must be a map of strings to strings (quote numbers and booleans in YAML, e.g. "8080"), got ["A=1"]`},
		{"env value a boolean", "dev", appField("env", map[string]any{"DEBUG": true}), app + ".env", `must be a map of strings to strings (quote numbers and booleans in YAML, e.g. "8080"), got {"DEBUG":true}`},

		// app.resources
		{"resources a list", "dev", appField("resources", []string{"1"}), app + ".resources", `must be an object with the keys limits, requests; Pulumi.dev.yaml sets it to a list`},
		{"cpu limit a boolean", "dev", resources("limits", "cpu", true), app + ".resources.limits.cpu", "must be a string, got true"},

		// app.readinessPath
		{"readinessPath empty", "dev", appField("readinessPath", ""), app + ".readinessPath", `must be an HTTP path starting with "/", e.g. "/healthz"; leave it out for a TCP probe`},
		{"readinessPath a number", "dev", appField("readinessPath", 8080), app + ".readinessPath", `must be a string, got 8080`},

		// job lists
		{"preDeploy a number", "dev", setRaw(config.KeyPreDeploy, "42"), "pulumi-jobs:preDeploy", `must be a list of job objects (each with at least name and command); Pulumi.dev.yaml sets it to a number`},
		{"job a number", "dev", setRaw(config.KeyPostDeploy, "[7]"), pst0, `must be an object with the keys annotations, args, backoffLimit, command, env, image, manifest, name, pod, rerun, resources, timeout, wave; Pulumi.dev.yaml sets it to a number`},
		{"empty job first", "dev", setRaw(config.KeyPreDeploy, "[{}]"), pre0, `is an empty job; give it at least name and command, e.g. {name: migrate, command: ["./migrate", "up"]}, or remove the item`},
		{"null job first", "dev", setRaw(config.KeyPostDeploy, "[null]"), pst0, `is an empty job; give it at least name and command, e.g. {name: migrate, command: ["./migrate", "up"]}, or remove the item`},

		// job.name

		// job.command, job.image
		{"command numbers", "dev", preField("command", []int{1, 2}), pre0 + ".command", `must be a list of strings, got [1,2]`},
		{"job image empty", "dev", preField("image", ""), pre0 + ".image", "must not be empty; leave it out to run the app's image"},

		// job.wave, job.rerun, job.backoffLimit
		{"wave -1", "dev", preField("wave", -1), pre0 + ".wave", int32Range + ", got -1"},
		{"wave a string", "dev", preField("wave", "1"), pre0 + ".wave", `must be a whole number between 0 and 2147483647, got "1"`},
		{"wave 3000000000", "dev", postField("wave", 3000000000), pst0 + ".wave", `must be a whole number between 0 and 2147483647, got 3000000000`},
		{"rerun a number", "dev", preField("rerun", 1), pre0 + ".rerun", `must be a string, got 1`},
		{"backoffLimit -5", "dev", preField("backoffLimit", -5), pre0 + ".backoffLimit", `must be a whole number between 0 and 2147483647 (the Job's backoffLimit is an int32), got -5`},
		{"backoffLimit 2.5", "dev", preField("backoffLimit", 2.5), pre0 + ".backoffLimit", `must be a whole number between 0 and 2147483647 (the Job's backoffLimit is an int32), got 2.5`},
		{"backoffLimit 2^31", "dev", postField("backoffLimit", 2147483648), pst0 + ".backoffLimit", `must be a whole number between 0 and 2147483647 (the Job's backoffLimit is an int32), got 2147483648`},

		// job.timeout
		{"timeout a number", "dev", preField("timeout", 600), pre0 + ".timeout", "must be a string, got 600"},

		// job.env, job.annotations, unknown keys
		{"job env value a number", "dev", postField("env", map[string]any{"N": 1}), pst0 + ".env", `must be a map of strings to strings (quote numbers and booleans in YAML, e.g. "8080"), got {"N":1}`},
		{"annotations a list", "dev", preField("annotations", []string{"a"}), pre0 + ".annotations", `must be a map of strings to strings (quote numbers and booleans in YAML, e.g. "8080"), got ["a"]`},
		{"job unknown key", "dev", preField("retries", 3), pre0 + ".retries", "unknown key; the valid keys here are annotations, args, backoffLimit, command, env, image, manifest, name, pod, rerun, resources, timeout, wave"},

		// databaseUrl
		{"databaseUrl in plaintext", "dev", func(d *draft) { d.values[config.Key(config.KeyDatabaseURL)] = "postgres://x" },
			"pulumi-jobs:databaseUrl", `is stored in plaintext; set it as a secret instead: pulumi config set --secret databaseUrl 'postgres://…'`},

		// gitops
		{"gitops a list", "dev", setRaw(config.KeyGitOps, `["x"]`), git, `must be an object with the keys accessTokenSecret, branch, directory, repository, resyncInterval, serviceAccount, targetStack; Pulumi.dev.yaml sets it to a list`},
		{"gitops repository a number", "dev", gitopsField("repository", 42), git + ".repository", "must be a string, got 42"},
		{"gitops branch empty", "dev", gitopsField("branch", ""), git + ".branch", `must not be empty; leave it out to follow "main"`},
		{"gitops unknown key", "dev", gitopsField("accessToken", "pul-123"), git + ".accessToken", `unknown key; the valid keys here are accessTokenSecret, branch, directory, repository, resyncInterval, serviceAccount, targetStack`},

		// production stacks
	}
}

func TestBadConfigsAreRefused(t *testing.T) {
	cases := badConfigs()
	require.GreaterOrEqual(t, len(cases), 40)
	refuseAll(t, cases)
}

func TestEdgeConfigsAreAccepted(t *testing.T) {
	cases := []edgeConfig{
		{"replicas 0", "dev", appField("replicas", 0)},
		{"replicas 2147483647", "dev", appField("replicas", 2147483647)},
		{"ports 1 and 65535", "dev", appField("port", 1)},
		{"port 65535", "dev", appField("port", 65535)},
		{"waves 0 and 7 with a gap", "dev", func(d *draft) {
			d.pre = append(d.pre, map[string]any{"name": "late", "command": []string{"x"}, "wave": 7})
			d.pre[0]["wave"] = 0
		}},
		{"wave 2147483647", "dev", postField("wave", 2147483647)},
		{"backoffLimit 0", "dev", preField("backoffLimit", 0)},
		{"backoffLimit 2147483647", "dev", preField("backoffLimit", 2147483647)},
		{"timeout 1ms", "dev", preField("timeout", "1ms")},
		{"timeout 168h", "dev", preField("timeout", "168h")},
		{"latest in product-demo", "product-demo", appField("image", "ghcr.io/acme/shop:latest")},
		{"untagged in prodigy", "prodigy", appField("image", "shop")},
		{"latest in a qualified product-demo", "acme/pulumi-jobs/product-demo", appField("image", "shop:latest")},
		{"cpu as a number", "dev", func(d *draft) {
			d.app["resources"] = map[string]any{"requests": map[string]any{"cpu": 0.25}, "limits": map[string]any{"cpu": 1}}
		}},
		{"zero requests", "dev", func(d *draft) {
			d.app["resources"] = map[string]any{"requests": map[string]any{"cpu": "0", "memory": "0"}}
		}},
		{"38-character pre-deploy job name, 54 with shop-pre-deploy-", "dev", preField("name", strings.Repeat("m", 38))},
		{"37-character post-deploy job name, 54 with shop-post-deploy-", "dev", postField("name", strings.Repeat("s", 37))},
		{"63-character namespace", "dev", setNS(strings.Repeat("n", 63))},
		{"namespace kube", "dev", setNS("kube")},
		{"namespace defaults", "dev", setNS("defaults")},
		{"existing namespace", "dev", func(d *draft) { d.values[config.Key(config.KeyCreateNamespace)] = "false" }},
		{"annotation key with capitals and a prefix", "dev", preField("annotations", map[string]any{"Sidecar.Istio.io/Inject": "false"})},
		{"env names with dots and dashes", "dev", appField("env", map[string]any{"a.b-c": "1", "_X": ""})},
		{"preDeploy null", "dev", setRaw(config.KeyPreDeploy, "null")},
		{"gitops {}", "dev", setRaw(config.KeyGitOps, "{}")},
		{"targetStack of another project with this stack's name", "dev", gitopsField("targetStack", "acme/shop-infra/dev")},
	}
	acceptAll(t, cases)
}
