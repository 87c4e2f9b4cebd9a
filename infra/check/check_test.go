package check_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
)

// refusal is one call of a rule and the single problem it must add: the
// literal key and a literal fragment of the message.
type refusal struct {
	name string
	rule func(p *check.Problems)
	key  string
	msg  string
}

// TestRulesRefuse triggers every p.Add site of package check once.
func TestRulesRefuse(t *testing.T) {
	const lengthReason = `the provider appends "-" and 8 hex digits to form the Job's name, which must fit the 63-character label batch.kubernetes.io/job-name`
	cases := []refusal{
		// Range.Int
		{"replicas -1", func(p *check.Problems) { check.ReplicasRange().Int(p, "app.replicas", -1) },
			"app.replicas", "must be a whole number between 0 and 2147483647 (the Deployment's replicas is an int32), got -1"},
		{"port 0", func(p *check.Problems) { check.PortRange().Int(p, "app.port", 0) },
			"app.port", "must be a TCP port, a whole number between 1 and 65535, got 0"},
		{"port 65536", func(p *check.Problems) { check.PortRange().Int(p, "app.port", 65536) },
			"app.port", "must be a TCP port, a whole number between 1 and 65535, got 65536"},
		{"wave -1", func(p *check.Problems) { check.WaveRange().Int(p, "jobs[0].wave", -1) },
			"jobs[0].wave", "must be a whole number between 0 and 2147483647, got -1"},
		{"backoffLimit 2^31", func(p *check.Problems) { check.BackoffLimitRange().Int(p, "jobs[0].backoffLimit", 2147483648) },
			"jobs[0].backoffLimit", "must be a whole number between 0 and 2147483647 (the Job's backoffLimit is an int32), got 2147483648"},

		// Name
		{"name starting with a digit", func(p *check.Problems) { check.Name(p, "app.name", "1shop", validation.IsDNS1035Label) },
			"app.name", `"1shop" is not a valid name: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`},

		// JobName
		{"job name with capitals", func(p *check.Problems) { check.JobName(p, "jobs[0].name", "", "Migrate") },
			"jobs[0].name", `"Migrate" is not a valid name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"job name starting with a dash", func(p *check.Problems) { check.JobName(p, "jobs[0].name", "migrations-", "-x") },
			"jobs[0].name", `"-x" is not a valid name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"job name 55 characters without prefix", func(p *check.Problems) { check.JobName(p, "jobs[0].name", "", strings.Repeat("m", 55)) },
			"jobs[0].name", `"` + strings.Repeat("m", 55) + `" is not a valid name: must be no more than 54 characters, got 55: ` + lengthReason},
		{"job name 64 characters reported once, with the real limit", func(p *check.Problems) { check.JobName(p, "jobs[0].name", "", strings.Repeat("m", 64)) },
			"jobs[0].name", `"` + strings.Repeat("m", 64) + `" is not a valid name: must be no more than 54 characters, got 64: the provider appends "-" and 8 hex digits to form the Job's name, which must fit the 63-character label batch.kubernetes.io/job-name`},
		{"job name too long with the prefix", func(p *check.Problems) {
			check.JobName(p, "preDeploy[0].name", "shop-pre-deploy-", strings.Repeat("a", 39))
		}, "preDeploy[0].name", `"` + strings.Repeat("a", 39) + `" is not a valid name: with the prefix "shop-pre-deploy-" it must be no more than 54 characters, got 55: ` + lengthReason + "; shorten the job's name or the component's"},

		// Namespace
		{"namespace with capitals", func(p *check.Problems) { check.Namespace(p, "namespace", "Shop") },
			"namespace", `"Shop" is not a valid name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"namespace 64 characters", func(p *check.Problems) { check.Namespace(p, "namespace", strings.Repeat("n", 64)) },
			"namespace", `"` + strings.Repeat("n", 64) + `" is not a valid name: must be no more than 63 characters`},
		{"namespace kube-system", func(p *check.Problems) { check.Namespace(p, "namespace", "kube-system") },
			"namespace", `"kube-system" is a namespace of Kubernetes itself, not the release's: with createNamespace (the default) the release would own it, relabel it for Pod Security and delete it with everything in it on pulumi destroy; without, the app and Jobs would mix with the cluster's own objects. Use a namespace of the release's own, e.g. shop`},
		{"namespace default", func(p *check.Problems) { check.Namespace(p, "namespace", "default") },
			"namespace", `"default" is a namespace of Kubernetes itself, not the release's: with createNamespace (the default) the release would own it, relabel it for Pod Security and delete it with everything in it on pulumi destroy; without, the app and Jobs would mix with the cluster's own objects. Use a namespace of the release's own, e.g. shop`},

		// Image
		{"image with a trailing colon", func(p *check.Problems) { check.Image(p, "image", "ghcr.io/acme/shop:", "dev") },
			"image", `"ghcr.io/acme/shop:" is not an image reference (invalid reference format); use repo:tag or repo@sha256:…, e.g. "ghcr.io/acme/shop:1.4.2"`},
		{"image with capitals", func(p *check.Problems) { check.Image(p, "image", "GHCR.io/Acme/x:1", "dev") },
			"image", `"GHCR.io/Acme/x:1" is not an image reference (invalid reference format: repository name (Acme/x) must be lowercase); use repo:tag or repo@sha256:…, e.g. "ghcr.io/acme/shop:1.4.2"`},
		{"untagged in prod", func(p *check.Problems) { check.Image(p, "image", "ghcr.io/acme/shop", "prod") },
			"image", `"ghcr.io/acme/shop" has no tag; stack "prod" is a production stack, so pin a version tag or a digest (repo@sha256:…)`},
		{"latest in acme/pulumi-jobs/prod-eu", func(p *check.Problems) { check.Image(p, "image", "shop:latest", "acme/pulumi-jobs/prod-eu") },
			"image", `"shop:latest" uses the tag latest; stack "acme/pulumi-jobs/prod-eu" is a production stack, so pin a version tag or a digest (repo@sha256:…)`},

		// Timeout
		{"timeout without a unit", func(p *check.Problems) { check.Timeout(p, "jobs[0].timeout", "10") },
			"jobs[0].timeout", `"10" is not a Go duration; use e.g. "90s", "10m" or "1h30m"`},
		{"timeout 0s", func(p *check.Problems) { check.Timeout(p, "jobs[0].timeout", "0s") },
			"jobs[0].timeout", `must be positive, got "0s"`},
		{"timeout beyond Go durations", func(p *check.Problems) { check.Timeout(p, "jobs[0].timeout", "9999999h") },
			"jobs[0].timeout", `"9999999h" is not a Go duration; use e.g. "90s", "10m" or "1h30m"`},
		{"timeout 168h1s", func(p *check.Problems) { check.Timeout(p, "jobs[0].timeout", "168h1s") },
			"jobs[0].timeout", `"168h1s" is longer than the maximum of 168h (7 days); the timeout becomes the Job's activeDeadlineSeconds and the engine waits that plus 1m, so give the longest the Job may really run, e.g. "2h"`},

		// Annotations
		{"annotation key with two slashes", func(p *check.Problems) { check.Annotations(p, "jobs[0].annotations", map[string]string{"a/b/c": "x"}) },
			`jobs[0].annotations["a/b/c"]`, `not a valid annotation key: a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`},
		{"annotations over 256 KiB", func(p *check.Problems) {
			check.Annotations(p, "jobs[0].annotations", map[string]string{"a": strings.Repeat("x", 256*1024)})
		}, "jobs[0].annotations", "keys and values total 262145 bytes, more than Kubernetes' limit of 262144 bytes (256 KiB) for the annotations of one object; keep large data out of annotations, e.g. in a ConfigMap"},

		// Env
		{"env name starting with a digit", func(p *check.Problems) { check.Env(p, "app.env", map[string]string{"9LIVES": "x"}) },
			"app.env.9LIVES", `not a valid environment variable name: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`},
		{"env DATABASE_URL", func(p *check.Problems) { check.Env(p, "app.env", map[string]string{"DATABASE_URL": "postgres://x"}) },
			"app.env.DATABASE_URL", "is reserved: it is set from the secret database URL (stack config: pulumi config set --secret databaseUrl; component: the databaseUrl argument)"},

		// Quantity
		{"quantity not a quantity", func(p *check.Problems) { check.Quantity(p, "resources.limits.memory", "lots", "256Mi", true) },
			"resources.limits.memory", `"lots" is not a Kubernetes quantity; use e.g. "250m" for CPU or "256Mi" for memory`},
		{"quantity negative", func(p *check.Problems) { check.Quantity(p, "resources.requests.cpu", "-100m", "250m", false) },
			"resources.requests.cpu", `"-100m" is negative; a quantity must be 0 or more, e.g. "250m"`},
		{"limit 0", func(p *check.Problems) { check.Quantity(p, "resources.limits.cpu", "0", "250m", true) },
			"resources.limits.cpu", `"0" is no limit at all to the container runtime; set a limit above 0, e.g. "250m", or leave it out for the default`},

		// RequestWithinLimit
		{"request above limit", func(p *check.Problems) { check.RequestWithinLimit(p, "resources.requests.memory", "1Gi", "256Mi") },
			"resources.requests.memory", "1Gi is more than the limit 256Mi; a request must not exceed its limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &check.Problems{}
			c.rule(p)
			assert.Equal(t, []check.Problem{{Key: c.key, Message: c.msg}}, p.List)
		})
	}
}

// TestRulesAccept calls every rule with valid values at its edges: none may
// add a problem.
func TestRulesAccept(t *testing.T) {
	cases := []struct {
		name string
		rule func(p *check.Problems)
	}{
		{"replicas 0", func(p *check.Problems) { check.ReplicasRange().Int(p, "k", 0) }},
		{"replicas 2147483647", func(p *check.Problems) { check.ReplicasRange().Int(p, "k", 2147483647) }},
		{"port 1", func(p *check.Problems) { check.PortRange().Int(p, "k", 1) }},
		{"port 65535", func(p *check.Problems) { check.PortRange().Int(p, "k", 65535) }},
		{"job name of 54 characters", func(p *check.Problems) { check.JobName(p, "k", "", strings.Repeat("m", 54)) }},
		{"job name of 38 characters after shop-pre-deploy-", func(p *check.Problems) {
			check.JobName(p, "k", "shop-pre-deploy-", strings.Repeat("m", 38))
		}},
		{"namespace of 63 characters", func(p *check.Problems) { check.Namespace(p, "k", strings.Repeat("n", 63)) }},
		{"namespace kube", func(p *check.Problems) { check.Namespace(p, "k", "kube") }},
		{"namespace defaults", func(p *check.Problems) { check.Namespace(p, "k", "defaults") }},
		{"latest in dev", func(p *check.Problems) { check.Image(p, "k", "ghcr.io/acme/shop:latest", "dev") }},
		{"latest in product-demo", func(p *check.Problems) { check.Image(p, "k", "ghcr.io/acme/shop:latest", "product-demo") }},
		{"untagged in acme/pulumi-jobs/product-demo", func(p *check.Problems) { check.Image(p, "k", "shop", "acme/pulumi-jobs/product-demo") }},
		{"digest in prod", func(p *check.Problems) {
			check.Image(p, "k", "ghcr.io/acme/shop@sha256:"+strings.Repeat("ab", 32), "prod")
		}},
		{"version tag in prod", func(p *check.Problems) { check.Image(p, "k", "ghcr.io/acme/shop:1.4.2", "prod") }},
		{"timeout 1ms", func(p *check.Problems) { check.Timeout(p, "k", "1ms") }},
		{"timeout 168h", func(p *check.Problems) { check.Timeout(p, "k", "168h") }},
		{"annotations of exactly 256 KiB", func(p *check.Problems) {
			check.Annotations(p, "k", map[string]string{"a": strings.Repeat("x", 256*1024-1)})
		}},
		{"annotation key with capitals and a prefix", func(p *check.Problems) {
			check.Annotations(p, "k", map[string]string{"Sidecar.Istio.io/Inject": "false"})
		}},
		{"env names with dots and dashes", func(p *check.Problems) { check.Env(p, "k", map[string]string{"a.b-c": "1", "_X": ""}) }},
		{"request 0", func(p *check.Problems) { check.Quantity(p, "k", "0", "250m", false) }},
		{"cpu as a plain number", func(p *check.Problems) { check.Quantity(p, "k", "1", "250m", true) }},
		{"request equal to limit", func(p *check.Problems) { check.RequestWithinLimit(p, "k", "500m", "0.5") }},
		{"unparsable request left to Quantity", func(p *check.Problems) { check.RequestWithinLimit(p, "k", "lots", "1") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &check.Problems{}
			c.rule(p)
			assert.Empty(t, p.List)
		})
	}
}

func TestTimeoutValue(t *testing.T) {
	p := &check.Problems{}
	d, ok := check.Timeout(p, "k", "1h30m")
	assert.True(t, ok)
	assert.Equal(t, "1h30m0s", d.String())
	d, ok = check.Timeout(p, "k", "soon")
	assert.False(t, ok)
	assert.Zero(t, d)
	assert.Len(t, p.List, 1)
}

func TestIsProduction(t *testing.T) {
	for stack, want := range map[string]bool{
		"prod": true, "production": true, "prod-eu": true, "prod_eu": true, "prod.eu": true, "prod2": true,
		"production-eu": true, "production2": true, "PROD": true, "Prod-EU": true,
		"acme/pulumi-jobs/prod": true, "acme/pulumi-jobs/prod-eu": true,
		"product-demo": false, "products": false, "prodigy": false, "productions": false, "preprod": false,
		"eu-prod": false, "dev": false, "": false, "acme/prod/dev": false, "prod/pulumi-jobs/staging": false,
		"acme/pulumi-jobs/product-demo": false,
	} {
		assert.Equal(t, want, check.IsProduction(stack), stack)
	}
}

func TestIsSystemNamespace(t *testing.T) {
	for ns, want := range map[string]bool{
		"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true, "kube-anything": true,
		"kube": false, "kubernetes-apps": false, "defaults": false, "shop": false,
	} {
		assert.Equal(t, want, check.IsSystemNamespace(ns), ns)
	}
}

func TestStackName(t *testing.T) {
	assert.Equal(t, "prod", check.StackName("acme/pulumi-jobs/prod"))
	assert.Equal(t, "dev", check.StackName("dev"))
}

func TestSortedKeys(t *testing.T) {
	assert.Equal(t, []string{"A", "B", "a"}, check.SortedKeys(map[string]string{"a": "", "B": "", "A": ""}))
	assert.Empty(t, check.SortedKeys(map[string]int(nil)))
}

func TestProblemsReport(t *testing.T) {
	p := &check.Problems{}
	p.Add("image", "%q is wrong", "x")
	p.Add("jobs[0].name", "required")
	assert.Equal(t, []check.Problem{
		{Key: "pulumi-jobs:image", Message: `"x" is wrong`},
		{Key: "pulumi-jobs:jobs[0].name", Message: "required"},
	}, p.Prefixed("pulumi-jobs:"))
	assert.Equal(t, `image: "x" is wrong`, p.List[0].String())

	err := &check.ArgsError{Resource: "pulumi-jobs:index:Release shop", Problems: p.List}
	assert.Equal(t, "pulumi-jobs:index:Release shop: 2 invalid argument(s); nothing was registered:\n"+
		"  - image: \"x\" is wrong\n"+
		"  - jobs[0].name: required", err.Error())
}
