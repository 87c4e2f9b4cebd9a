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

// badConfig is one invalid stack config: a draft mutation, the single key it
// must be refused at and a literal part of the message.
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
		{"empty namespace", "dev", setNS(""), ns, "required"},
		{"namespace with capitals", "dev", setNS("Shop"), ns, `"Shop" is not a valid name: a lowercase RFC 1123 label`},
		{"64-character namespace", "dev", setNS(strings.Repeat("a", 64)), ns, "must be no more than 63 characters"},
		{"namespace starting with a dash", "dev", setNS("-shop"), ns, "is not a valid name"},
		{"namespace kube-public", "dev", setNS("kube-public"), ns, `"kube-public" is a namespace of Kubernetes itself`},
		{"namespace kube-node-lease", "dev", setNS("kube-node-lease"), ns, `"kube-node-lease" is a namespace of Kubernetes itself`},
		{"namespace default", "dev", setNS("default"), ns, "Use a namespace of the release's own"},
		{"createNamespace maybe", "dev", func(d *draft) { d.values[config.Key(config.KeyCreateNamespace)] = "maybe" },
			"pulumi-jobs:createNamespace", `must be true or false, got "maybe"`},

		// app as a whole
		{"app empty", "dev", setRaw(config.KeyApp, ""), app, "required"},
		{"app null", "dev", setRaw(config.KeyApp, "null"), app, "Pulumi.dev.yaml sets it to null"},
		{"app a number", "dev", setRaw(config.KeyApp, "42"), app, "Pulumi.dev.yaml sets it to a number"},
		{"app YAML flow as a string", "dev", setRaw(config.KeyApp, "{name: shop}"), app, "its value in Pulumi.dev.yaml cannot be parsed"},
		{"app unknown key", "dev", appField("replica", 2), app + ".replica", "unknown key; the valid keys here are chart, env, image, manifests, name, port, readinessPath, replicas, resources"},

		// app.name, app.image
		{"app name missing", "dev", func(d *draft) { delete(d.app, "name") }, app + ".name", "required; a DNS-1035 label"},
		{"app name 64 characters", "dev", appField("name", strings.Repeat("a", 64)), app + ".name", "must be no more than 63 characters"},
		{"app name with a dot", "dev", appField("name", "shop.web"), app + ".name", "a DNS-1035 label"},
		{"app name a number", "dev", appField("name", 5), app + ".name", "must be a string, got 5"},
		{"app image trailing colon", "dev", appField("image", "ghcr.io/acme/shop:"), app + ".image", "is not an image reference"},
		{"app image with a space", "dev", appField("image", "ghcr.io/acme/shop 1.0"), app + ".image", "is not an image reference"},

		// app.replicas, app.port
		{"replicas -1", "dev", appField("replicas", -1), app + ".replicas", int32Range + " (the Deployment's replicas is an int32), got -1"},
		{"replicas 2^31", "dev", appField("replicas", 2147483648), app + ".replicas", "got 2147483648"},
		{"replicas 1e3", "dev", func(d *draft) {
			d.app = nil
			d.raw[config.Key(config.KeyApp)] = `{"name":"shop","image":"ghcr.io/acme/shop:1.0.0","replicas":1e3}`
		}, app + ".replicas", "got 1e3"},
		{"replicas true", "dev", appField("replicas", true), app + ".replicas", "got true"},
		{"port 65536", "dev", appField("port", 65536), app + ".port", "must be a TCP port, a whole number between 1 and 65535, got 65536"},
		{"port -80", "dev", appField("port", -80), app + ".port", "got -80"},
		{"port as a string", "dev", appField("port", "8080"), app + ".port", `got "8080"`},

		// app.env
		{"env a list", "dev", appField("env", []string{"A=1"}), app + ".env", "must be a map of strings to strings"},
		{"env name with a space", "dev", appField("env", map[string]any{"MY VAR": "1"}), app + ".env.MY VAR", "not a valid environment variable name"},
		{"env name with =", "dev", appField("env", map[string]any{"A=B": "1"}), app + ".env.A=B", "not a valid environment variable name"},
		{"env value a boolean", "dev", appField("env", map[string]any{"DEBUG": true}), app + ".env", "quote numbers and booleans"},

		// app.resources
		{"resources a list", "dev", appField("resources", []string{"1"}), app + ".resources", "must be an object with the keys limits, requests"},
		{"cpu request not a quantity", "dev", resources("requests", "cpu", "abc"), app + ".resources.requests.cpu", `"abc" is not a Kubernetes quantity`},
		{"memory request negative", "dev", resources("requests", "memory", "-1"), app + ".resources.requests.memory", `"-1" is negative`},
		{"cpu request negative number", "dev", resources("requests", "cpu", -1), app + ".resources.requests.cpu", `"-1" is negative`},
		{"memory limit 0", "dev", resources("limits", "memory", "0"), app + ".resources.limits.memory", "is no limit at all to the container runtime"},
		{"memory request above the default limit", "dev", resources("requests", "memory", "1Gi"), app + ".resources.requests.memory", "1Gi is more than the limit 256Mi"},
		{"cpu limit a boolean", "dev", resources("limits", "cpu", true), app + ".resources.limits.cpu", "must be a string, got true"},

		// app.readinessPath
		{"readinessPath empty", "dev", appField("readinessPath", ""), app + ".readinessPath", `must be an HTTP path starting with "/"`},
		{"readinessPath a number", "dev", appField("readinessPath", 8080), app + ".readinessPath", "must be a string"},

		// job lists
		{"preDeploy a number", "dev", setRaw(config.KeyPreDeploy, "42"), "pulumi-jobs:preDeploy", "Pulumi.dev.yaml sets it to a number"},
		{"job a number", "dev", setRaw(config.KeyPostDeploy, "[7]"), pst0, "Pulumi.dev.yaml sets it to a number"},
		{"empty job first", "dev", setRaw(config.KeyPreDeploy, "[{}]"), pre0, "is an empty job"},
		{"null job first", "dev", setRaw(config.KeyPostDeploy, "[null]"), pst0, "is an empty job"},

		// job.name
		{"job name missing", "dev", func(d *draft) { delete(d.pre[0], "name") }, pre0 + ".name", "required; a DNS-1123 label, e.g. migrate-schema"},
		{"job name with capitals", "dev", preField("name", "Migrate"), pre0 + ".name", "a lowercase RFC 1123 label"},
		{"job name 39 characters, 55 with shop-pre-deploy-", "dev", preField("name", strings.Repeat("m", 39)), pre0 + ".name",
			`with the prefix "shop-pre-deploy-" it must be no more than 54 characters, got 55`},
		{"job name 38 characters, 55 with shop-post-deploy-", "dev", postField("name", strings.Repeat("s", 38)), pst0 + ".name",
			`with the prefix "shop-post-deploy-" it must be no more than 54 characters, got 55`},
		{"job name 64 characters", "dev", preField("name", strings.Repeat("m", 64)), pre0 + ".name", "must be no more than 54 characters, got 80"},
		{"job name starting with a dash", "dev", postField("name", "-smoke"), pst0 + ".name", "is not a valid name"},
		{"duplicate job name within a phase", "dev", func(d *draft) {
			d.pre = append(d.pre, map[string]any{"name": "migrate", "command": []string{"x"}})
		}, "pulumi-jobs:preDeploy[1].name", `"migrate" is already the name of preDeploy[0]; job names must be unique`},

		// job.command, job.image
		{"command missing", "dev", func(d *draft) { delete(d.post[0], "command") }, pst0 + ".command", "required"},
		{"command empty", "dev", postField("command", []string{}), pst0 + ".command", "non-empty list"},
		{"command numbers", "dev", preField("command", []int{1, 2}), pre0 + ".command", "must be a list of strings"},
		{"command program blank", "dev", preField("command", []string{" "}), pre0 + ".command[0]", "must not be empty"},
		{"job image empty", "dev", preField("image", ""), pre0 + ".image", "must not be empty; leave it out to run the app's image"},
		{"job image with capitals", "dev", preField("image", "GHCR.io/Acme/Tools:1"), pre0 + ".image", "is not an image reference"},

		// job.wave, job.rerun, job.backoffLimit
		{"wave -1", "dev", preField("wave", -1), pre0 + ".wave", int32Range + ", got -1"},
		{"wave a string", "dev", preField("wave", "1"), pre0 + ".wave", `got "1"`},
		{"wave 3000000000", "dev", postField("wave", 3000000000), pst0 + ".wave", "got 3000000000"},
		{"rerun never", "dev", preField("rerun", "never"), pre0 + ".rerun", `"never" is not a re-run policy`},
		{"rerun a number", "dev", preField("rerun", 1), pre0 + ".rerun", "must be a string"},
		{"onRelease without release in preDeploy", "dev", preField("rerun", "onRelease"), pre0 + ".rerun", "onRelease needs a release id"},
		{"backoffLimit -5", "dev", preField("backoffLimit", -5), pre0 + ".backoffLimit", "(the Job's backoffLimit is an int32), got -5"},
		{"backoffLimit 2.5", "dev", preField("backoffLimit", 2.5), pre0 + ".backoffLimit", "got 2.5"},
		{"backoffLimit 2^31", "dev", postField("backoffLimit", 2147483648), pst0 + ".backoffLimit", "got 2147483648"},

		// job.timeout
		{"timeout without a unit", "dev", preField("timeout", "10"), pre0 + ".timeout", `"10" is not a Go duration`},
		{"timeout a number", "dev", preField("timeout", 600), pre0 + ".timeout", "must be a string, got 600"},
		{"timeout -1s", "dev", preField("timeout", "-1s"), pre0 + ".timeout", "must be positive"},
		{"timeout 200h", "dev", preField("timeout", "200h"), pre0 + ".timeout", "is longer than the maximum of 168h (7 days)"},
		{"timeout beyond Go durations", "dev", preField("timeout", "9999999h"), pre0 + ".timeout", "is not a Go duration"},

		// job.env, job.annotations, unknown keys
		{"job env value a number", "dev", postField("env", map[string]any{"N": 1}), pst0 + ".env", "must be a map of strings to strings"},
		{"job env DATABASE_URL", "dev", preField("env", map[string]any{"DATABASE_URL": "x"}), pre0 + ".env.DATABASE_URL", "is reserved"},
		{"job env name starting with a digit", "dev", postField("env", map[string]any{"9LIVES": "x"}), pst0 + ".env.9LIVES", "must not start with a digit"},
		{"annotations a list", "dev", preField("annotations", []string{"a"}), pre0 + ".annotations", "must be a map of strings to strings"},
		{"annotation key with two slashes", "dev", preField("annotations", map[string]any{"a/b/c": "x"}), pre0 + `.annotations["a/b/c"]`, "not a valid annotation key"},
		{"annotation name part 64 characters", "dev", preField("annotations", map[string]any{strings.Repeat("k", 64): "x"}), pre0 + `.annotations["` + strings.Repeat("k", 64) + `"]`, "not a valid annotation key: name part must be no more than 63 bytes"},
		{"annotations of two 130 KiB values", "dev", postField("annotations", map[string]any{"a": strings.Repeat("x", 130*1024), "b": strings.Repeat("y", 130*1024)}),
			pst0 + ".annotations", "keys and values total 266242 bytes, more than Kubernetes' limit of 262144 bytes (256 KiB)"},
		{"job unknown key", "dev", preField("retries", 3), pre0 + ".retries", "unknown key; the valid keys here are annotations, args, backoffLimit, command, env, image, manifest, name, rerun, resources, timeout, wave"},

		// databaseUrl
		{"databaseUrl in plaintext", "dev", func(d *draft) { d.values[config.Key(config.KeyDatabaseURL)] = "postgres://x" },
			"pulumi-jobs:databaseUrl", "is stored in plaintext"},

		// gitops
		{"gitops a list", "dev", setRaw(config.KeyGitOps, `["x"]`), git, "Pulumi.dev.yaml sets it to a list"},
		{"gitops repository ftp", "dev", gitopsField("repository", "ftp://example.com/x.git"), git + ".repository", `"ftp://example.com/x.git" is not a git URL the operator can clone`},
		{"gitops repository a number", "dev", gitopsField("repository", 42), git + ".repository", "must be a string, got 42"},
		{"gitops targetStack two segments", "dev", gitopsField("targetStack", "acme/prod"), git + ".targetStack", "organization/project/stack"},
		{"gitops targetStack empty segment", "dev", gitopsField("targetStack", "acme//prod"), git + ".targetStack", "organization/project/stack"},
		{"gitops targetStack this stack", "dev", gitopsField("targetStack", "acme/pulumi-jobs/dev"), git + ".targetStack", "is this stack itself (project pulumi-jobs, stack dev)"},
		{"gitops targetStack this qualified stack", "acme/pulumi-jobs/dev", gitopsField("targetStack", "other/pulumi-jobs/dev"), git + ".targetStack", "is this stack itself"},
		{"gitops resync 10s", "dev", gitopsField("resyncInterval", "10s"), git + ".resyncInterval", "shorter than the operator's minimum of 1m"},
		{"gitops token secret name", "dev", gitopsField("accessTokenSecret", "Bad_Name"), git + ".accessTokenSecret", "is not a Secret name"},
		{"gitops token secret missing", "dev", gitopsField("accessTokenSecret", nil), git + ".accessTokenSecret", "required"},
		{"gitops branch empty", "dev", gitopsField("branch", ""), git + ".branch", "must not be empty"},
		{"gitops directory escaping", "dev", gitopsField("directory", "../infra"), git + ".directory", "must be a path inside the repository"},
		{"gitops service account", "dev", gitopsField("serviceAccount", "Operator"), git + ".serviceAccount", "is not a service account name"},

		// production stacks
		{"latest in prod-eu", "prod-eu", appField("image", "ghcr.io/acme/shop:latest"), app + ".image", `stack "prod-eu" is a production stack`},
		{"untagged in PROD", "PROD", appField("image", "shop"), app + ".image", `"shop" has no tag`},
		{"latest in prod_2", "prod_2", postField("image", "busybox:latest"), pst0 + ".image", "uses the tag latest"},
		{"latest in production-eu", "production-eu", appField("image", "shop:latest"), app + ".image", "uses the tag latest"},
		{"latest in a qualified prod stack", "acme/pulumi-jobs/prod", appField("image", "shop:latest"), app + ".image", `stack "acme/pulumi-jobs/prod" is a production stack`},
	}
}

func TestBadConfigsAreRefused(t *testing.T) {
	cases := badConfigs()
	require.GreaterOrEqual(t, len(cases), 60)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDraft()
			c.mutate(d)
			refused(t, c.stack, d.config(t), c.key, c.msg, regressions[c.name]...)
		})
	}
}

func TestEdgeConfigsAreAccepted(t *testing.T) {
	cases := []struct {
		name   string
		stack  string
		mutate func(d *draft)
	}{
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
