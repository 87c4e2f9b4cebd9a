package program_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/outputs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/program"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

const (
	jobType        = "kubernetes:batch/v1:Job"
	deploymentType = "kubernetes:apps/v1:Deployment"
	serviceType    = "kubernetes:core/v1:Service"
	namespaceType  = "kubernetes:core/v1:Namespace"
	secretType     = "kubernetes:core/v1:Secret"
	databaseURL    = "postgres://shop:s3cr3t-pa55@db.internal:5432/shop"
	repoRoot       = "../.."
)

// result indexes one mocked run of the program.
type result struct {
	t    *testing.T
	regs []pulumitest.Registration
	// plan is what config.Load made of the config: input for outputs.Mermaid only.
	plan release.Plan
}

func runStack(t *testing.T, stack string, cfg pulumitest.Config) result {
	t.Helper()
	plan, err := config.Load(pulumitest.Source{Config: cfg, StackName: stack})
	require.NoError(t, err)
	m, err := pulumitest.Run(program.Run, stack, cfg)
	require.NoError(t, err)
	return result{t: t, regs: m.Registrations(), plan: plan}
}

func shippedStack(t *testing.T, stack string) pulumitest.Config {
	t.Helper()
	cfg, err := pulumitest.LoadStack(repoRoot, stack)
	require.NoError(t, err)
	cfg.SetSecret("pulumi-jobs:databaseUrl", databaseURL)
	return cfg
}

func (r result) find(typ, name string) pulumitest.Registration {
	r.t.Helper()
	for _, reg := range r.regs {
		if reg.TypeToken == typ && reg.Name == name {
			return reg
		}
	}
	require.FailNowf(r.t, "not registered", "%s %q", typ, name)
	return pulumitest.Registration{}
}

func (r result) byURN(urn string) pulumitest.Registration {
	r.t.Helper()
	for _, reg := range r.regs {
		if reg.URN == urn {
			return reg
		}
	}
	require.FailNowf(r.t, "not registered", "%s", urn)
	return pulumitest.Registration{}
}

func (r result) urns() []string {
	var out []string
	for _, reg := range r.regs {
		out = append(out, reg.URN)
	}
	return out
}

func (r result) ofType(typ string) []pulumitest.Registration {
	var out []pulumitest.Registration
	for _, reg := range r.regs {
		if reg.TypeToken == typ {
			out = append(out, reg)
		}
	}
	return out
}

// explicitDeps is a registration's dependencies less the namespace and the
// secret, which every object depends on through its inputs.
func (r result) explicitDeps(reg pulumitest.Registration) []string {
	var implicit []string
	for _, other := range append(r.ofType(namespaceType), r.ofType(secretType)...) {
		implicit = append(implicit, other.URN)
	}
	var out []string
	for _, d := range reg.RegisterRPC.GetDependencies() {
		if !slices.Contains(implicit, d) {
			out = append(out, d)
		}
	}
	return out
}

func prop(t *testing.T, pm resource.PropertyMap, path string) resource.PropertyValue {
	t.Helper()
	p, err := resource.ParsePropertyPath(path)
	require.NoError(t, err)
	v, ok := p.Get(resource.NewProperty(pm))
	require.Truef(t, ok, "no property %s", path)
	return v
}

// shippedJob is what a job of a shipped stack must register, spelled out.
type shippedJob struct {
	name, rerun, trigger, timeout string
	wave, backoffLimit, deadline  int
	deps                          []string
}

// shippedRelease is what a shipped stack must register, spelled out.
type shippedRelease struct {
	namespace, namespaceAlias string
	replicas                  int
	resources                 map[string]any
	pre, post                 []shippedJob
}

// The URNs of the release shop of the shipped stacks; %s is the stack.
const (
	relURN    = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release::shop"
	nsURN     = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:Namespace::shop"
	secURN    = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:Secret::shop-database"
	preURN    = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs::shop-pre-deploy"
	appURN    = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase::shop-app"
	depURN    = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::shop"
	svcURN    = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:core/v1:Service::shop"
	postURN   = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs::shop-post-deploy"
	schemaURN = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-pre-deploy-migrate-schema"
	indexURN  = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-pre-deploy-migrate-search-index"
	seedURN   = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-pre-deploy-seed-reference-data"
	warmURN   = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-post-deploy-warm-cache"
	smokeURN  = "urn:pulumi:%s::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-post-deploy-smoke-test"
)

func shippedReleases() map[string]shippedRelease {
	return map[string]shippedRelease{
		"dev": {
			namespace: "shop-dev", namespaceAlias: "shop-dev", replicas: 2,
			resources: map[string]any{
				"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
				"limits":   map[string]any{"cpu": "500m", "memory": "256Mi"},
			},
			pre: []shippedJob{
				{name: "migrate-schema", rerun: "onChange", timeout: "6m0s", wave: 0, backoffLimit: 2, deadline: 300,
					deps: []string{nsURN, secURN}},
				{name: "migrate-search-index", rerun: "onChange", timeout: "6m0s", wave: 0, backoffLimit: 2, deadline: 300,
					deps: []string{nsURN, secURN}},
				{name: "seed-reference-data", rerun: "once", timeout: "11m0s", wave: 1, backoffLimit: 2, deadline: 600,
					deps: []string{nsURN, secURN, schemaURN, indexURN}},
			},
			post: []shippedJob{
				{name: "warm-cache", rerun: "onChange", timeout: "11m0s", wave: 0, backoffLimit: 2, deadline: 600,
					deps: []string{nsURN, secURN, depURN, svcURN}},
				{name: "smoke-test", rerun: "onRelease", trigger: "dev-1", timeout: "3m0s", wave: 1, backoffLimit: 0, deadline: 120,
					deps: []string{nsURN, secURN, depURN, svcURN, warmURN}},
			},
		},
		"prod": {
			namespace: "shop", replicas: 3,
			resources: map[string]any{
				"requests": map[string]any{"cpu": "250m", "memory": "256Mi"},
				"limits":   map[string]any{"cpu": "1", "memory": "512Mi"},
			},
			pre: []shippedJob{
				{name: "migrate-schema", rerun: "onChange", timeout: "16m0s", wave: 0, backoffLimit: 1, deadline: 900,
					deps: []string{nsURN, secURN}},
				{name: "migrate-search-index", rerun: "onChange", timeout: "31m0s", wave: 0, backoffLimit: 2, deadline: 1800,
					deps: []string{nsURN, secURN}},
				{name: "seed-reference-data", rerun: "once", timeout: "11m0s", wave: 1, backoffLimit: 2, deadline: 600,
					deps: []string{nsURN, secURN, schemaURN, indexURN}},
			},
			post: []shippedJob{
				{name: "warm-cache", rerun: "onChange", timeout: "6m0s", wave: 0, backoffLimit: 2, deadline: 300,
					deps: []string{nsURN, secURN, depURN, svcURN}},
				{name: "smoke-test", rerun: "onRelease", trigger: "2026.11.22-1", timeout: "3m0s", wave: 1, backoffLimit: 0, deadline: 120,
					deps: []string{nsURN, secURN, depURN, svcURN, warmURN}},
			},
		},
	}
}

// stackURNs formats urns for stack.
func stackURNs(stack string, urns ...string) []string {
	out := make([]string, len(urns))
	for i, u := range urns {
		out[i] = fmt.Sprintf(u, stack)
	}
	return out
}

func TestShippedStacks(t *testing.T) {
	for stack, want := range shippedReleases() {
		t.Run(stack, func(t *testing.T) {
			r := runStack(t, stack, shippedStack(t, stack))
			u := func(urn string) string { return fmt.Sprintf(urn, stack) }

			assert.ElementsMatch(t, stackURNs(stack,
				relURN, nsURN, secURN, preURN, schemaURN, indexURN, seedURN, appURN, depURN, svcURN, postURN, warmURN, smokeURN,
			), r.urns())
			for _, c := range stackURNs(stack, nsURN, secURN, preURN, appURN, postURN) {
				assert.Equal(t, u(relURN), r.byURN(c).RegisterRPC.GetParent(), "%s is a child of the Release", c)
			}
			for _, c := range stackURNs(stack, preURN, appURN, postURN) {
				assert.False(t, r.byURN(c).Custom, c)
			}
			deployment, service := r.byURN(u(depURN)), r.byURN(u(svcURN))
			assert.Equal(t, u(appURN), deployment.RegisterRPC.GetParent())
			assert.Equal(t, u(appURN), service.RegisterRPC.GetParent())

			t.Run("namespace enforces restricted", func(t *testing.T) {
				ns := r.byURN(u(nsURN))
				assert.Equal(t, want.namespace, prop(t, ns.Inputs, "metadata.name").StringValue())
				assert.Equal(t, map[string]any{
					"pod-security.kubernetes.io/enforce":         "restricted",
					"pod-security.kubernetes.io/enforce-version": "latest",
					"pod-security.kubernetes.io/warn":            "restricted",
					"pod-security.kubernetes.io/audit":           "restricted",
					"app.kubernetes.io/part-of":                  "shop",
					"app.kubernetes.io/managed-by":               "pulumi",
				}, prop(t, ns.Inputs, "metadata.labels").Mappable())
				var aliases []string
				for _, a := range ns.RegisterRPC.GetAliases() {
					aliases = append(aliases, a.GetSpec().GetName())
				}
				if want.namespaceAlias == "" {
					assert.Empty(t, aliases)
				} else {
					assert.Equal(t, []string{want.namespaceAlias}, aliases, "the Namespace resource was named after the namespace")
				}
			})

			preURNs := stackURNs(stack, schemaURN, indexURN, seedURN)
			t.Run("deployment and service depend on every pre-deploy job", func(t *testing.T) {
				assert.ElementsMatch(t, append(stackURNs(stack, nsURN, secURN), preURNs...), deployment.RegisterRPC.GetDependencies())
				assert.ElementsMatch(t, append(stackURNs(stack, nsURN), preURNs...), service.RegisterRPC.GetDependencies())
			})

			for phase, list := range map[string][]shippedJob{"pre-deploy": want.pre, "post-deploy": want.post} {
				parent := u(preURN)
				if phase == "post-deploy" {
					parent = u(postURN)
				}
				for _, j := range list {
					t.Run(phase+" "+j.name, func(t *testing.T) {
						job := r.find(jobType, "shop-"+phase+"-"+j.name)
						assert.Equal(t, parent, job.RegisterRPC.GetParent())
						assert.ElementsMatch(t, stackURNs(stack, j.deps...), job.RegisterRPC.GetDependencies())
						assertJob(t, job, j)
						assert.Equal(t, want.resources, prop(t, job.Inputs, "spec.template.spec.containers[0].resources").Mappable(),
							"the app's resources are the Jobs' defaults")
						assert.Equal(t, phase, prop(t, job.Inputs, `metadata.labels["pulumi-jobs/phase"]`).StringValue())
					})
				}
			}

			t.Run("app pods pass restricted", func(t *testing.T) {
				assertRestricted(t, prop(t, deployment.Inputs, "spec.template.spec").ObjectValue())
				assert.Equal(t, float64(0), prop(t, deployment.Inputs, "spec.strategy.rollingUpdate.maxUnavailable").NumberValue())
				assert.Equal(t, float64(want.replicas), prop(t, deployment.Inputs, "spec.replicas").NumberValue())
				assert.Equal(t, want.resources, prop(t, deployment.Inputs, "spec.template.spec.containers[0].resources").Mappable())
				assert.Equal(t, "ghcr.io/acme/shop:1.4.2", prop(t, deployment.Inputs, "spec.template.spec.containers[0].image").StringValue())
			})

			t.Run("database url stays secret", func(t *testing.T) {
				secret := r.byURN(u(secURN))
				v := prop(t, secret.Inputs, "stringData")
				require.True(t, v.IsSecret(), "the Secret's stringData must be a secret value")
				assert.Equal(t, map[string]any{"DATABASE_URL": databaseURL}, v.SecretValue().Element.Mappable())
				for _, reg := range r.regs {
					assertNoPlaintext(t, reg.Name, resource.NewProperty(reg.Inputs), databaseURL)
				}
				assert.Equal(t, map[string]any{"name": "DATABASE_URL", "valueFrom": map[string]any{
					"secretKeyRef": map[string]any{"name": "shop-database-0123abcd", "key": "DATABASE_URL"},
				}}, prop(t, deployment.Inputs, "spec.template.spec.containers[0].env[1]").Mappable())
			})
		})
	}
}

// assertJob checks the Job's options and spec against the literal expectation j.
func assertJob(t *testing.T, job pulumitest.Registration, j shippedJob) {
	t.Helper()
	rpc := job.RegisterRPC
	assert.Equal(t, "true", prop(t, job.Inputs, `metadata.annotations["pulumi.com/replaceUnready"]`).StringValue())
	_, named := job.Inputs["metadata"].ObjectValue()["name"]
	assert.False(t, named, "Jobs must be auto-named so replacements are create-before-delete")
	assert.False(t, rpc.GetDeleteBeforeReplace())

	require.NotNil(t, rpc.GetCustomTimeouts())
	assert.Equal(t, j.timeout, rpc.GetCustomTimeouts().GetCreate())
	assert.Equal(t, j.timeout, rpc.GetCustomTimeouts().GetUpdate())

	imagePaths := []string{"spec.template.spec.containers[*].image", "spec.template.spec.initContainers[*].image"}
	switch j.rerun {
	case "onChange":
		assert.Equal(t, imagePaths, rpc.GetReplaceOnChanges())
		assert.Nil(t, rpc.GetReplacementTrigger())
		assert.Empty(t, rpc.GetIgnoreChanges())
	case "onRelease":
		assert.Equal(t, imagePaths, rpc.GetReplaceOnChanges())
		require.NotNil(t, rpc.GetReplacementTrigger())
		assert.Equal(t, j.trigger, rpc.GetReplacementTrigger().GetStringValue())
		assert.Empty(t, rpc.GetIgnoreChanges())
	case "once":
		assert.Equal(t, []string{"spec"}, rpc.GetIgnoreChanges())
		assert.Empty(t, rpc.GetReplaceOnChanges())
		assert.Nil(t, rpc.GetReplacementTrigger())
	default:
		t.Fatalf("unknown rerun %q", j.rerun)
	}

	assert.Equal(t, j.rerun, prop(t, job.Inputs, `metadata.labels["pulumi-jobs/rerun"]`).StringValue())
	assert.Equal(t, fmt.Sprint(j.wave), prop(t, job.Inputs, `metadata.labels["pulumi-jobs/wave"]`).StringValue())
	assert.Equal(t, float64(j.backoffLimit), prop(t, job.Inputs, "spec.backoffLimit").NumberValue())
	assert.Equal(t, float64(j.deadline), prop(t, job.Inputs, "spec.activeDeadlineSeconds").NumberValue())
	assert.Equal(t, "Failed", prop(t, job.Inputs, "spec.podReplacementPolicy").StringValue())
	assert.Equal(t, float64(1), prop(t, job.Inputs, "spec.parallelism").NumberValue())
	assert.Equal(t, float64(1), prop(t, job.Inputs, "spec.completions").NumberValue())
	_, ttl := job.Inputs["spec"].ObjectValue()["ttlSecondsAfterFinished"]
	assert.False(t, ttl, "a TTL-deleted Job is re-run by the next refresh + up")
	podSpec := prop(t, job.Inputs, "spec.template.spec").ObjectValue()
	assert.Equal(t, "Never", podSpec["restartPolicy"].StringValue())
	assert.Equal(t, "ghcr.io/acme/shop:1.4.2", prop(t, job.Inputs, "spec.template.spec.containers[0].image").StringValue())
	assert.Equal(t, map[string]any{"name": "DATABASE_URL", "valueFrom": map[string]any{
		"secretKeyRef": map[string]any{"name": "shop-database-0123abcd", "key": "DATABASE_URL"},
	}}, prop(t, job.Inputs, "spec.template.spec.containers[0].env[0]").Mappable())
	assertRestricted(t, podSpec)
}

// assertRestricted checks a pod spec against Pod Security "restricted" and
// the project's hardening defaults, as literal property maps.
func assertRestricted(t *testing.T, pod resource.PropertyMap) {
	t.Helper()
	assert.False(t, prop(t, pod, "automountServiceAccountToken").BoolValue())
	assert.False(t, prop(t, pod, "enableServiceLinks").BoolValue())
	assert.Equal(t, map[string]any{"runAsNonRoot": true, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
		prop(t, pod, "securityContext").Mappable())
	assert.Equal(t, []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{}}}, prop(t, pod, "volumes").Mappable())
	for _, c := range prop(t, pod, "containers").ArrayValue() {
		cm := c.ObjectValue()
		assert.Equal(t, map[string]any{
			"allowPrivilegeEscalation": false,
			"capabilities":             map[string]any{"drop": []any{"ALL"}},
			"readOnlyRootFilesystem":   true,
			"runAsNonRoot":             true,
			"seccompProfile":           map[string]any{"type": "RuntimeDefault"},
		}, prop(t, cm, "securityContext").Mappable())
		assert.Equal(t, []any{map[string]any{"name": "tmp", "mountPath": "/tmp"}}, prop(t, cm, "volumeMounts").Mappable())
	}
}

// assertNoPlaintext fails if plaintext appears in v outside a secret value.
func assertNoPlaintext(t *testing.T, where string, v resource.PropertyValue, plaintext string) {
	t.Helper()
	switch {
	case v.IsSecret():
		return
	case v.IsString():
		assert.NotContains(t, v.StringValue(), plaintext, "plaintext secret in %s", where)
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			assertNoPlaintext(t, where, e, plaintext)
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			assertNoPlaintext(t, where, e, plaintext)
		}
	}
}

// minimal returns a small valid config for table-driven cases.
func minimal() pulumitest.Config {
	cfg := pulumitest.Config{Values: map[string]string{}}
	cfg.Set("pulumi-jobs:namespace", "shop")
	cfg.Set("pulumi-jobs:release", "r1")
	_ = cfg.SetObject("pulumi-jobs:app", map[string]any{"name": "shop", "image": "ghcr.io/acme/shop:1.4.2"})
	return cfg
}

func TestRerunPolicies(t *testing.T) {
	cases := []shippedJob{
		{name: "migrate", rerun: "onChange", timeout: "2m30s", deadline: 90, backoffLimit: 2},
		{name: "migrate", rerun: "onRelease", trigger: "r1", timeout: "2m30s", deadline: 90, backoffLimit: 2},
		{name: "migrate", rerun: "once", timeout: "2m30s", deadline: 90, backoffLimit: 2},
	}
	for _, c := range cases {
		t.Run(c.rerun, func(t *testing.T) {
			cfg := minimal()
			cfg.SetSecret("pulumi-jobs:databaseUrl", databaseURL)
			require.NoError(t, cfg.SetObject("pulumi-jobs:preDeploy", []map[string]any{
				{"name": "migrate", "command": []string{"migrate"}, "rerun": c.rerun, "timeout": "90s"},
			}))
			r := runStack(t, "dev", cfg)
			assertJob(t, r.find(jobType, "shop-pre-deploy-migrate"), c)
		})
	}
}

func TestWaveEdges(t *testing.T) {
	cfg := minimal()
	cfg.Set("pulumi-jobs:createNamespace", "false")
	require.NoError(t, cfg.SetObject("pulumi-jobs:preDeploy", []map[string]any{
		{"name": "c", "command": []string{"x"}, "wave": 7},
		{"name": "a1", "command": []string{"x"}},
		{"name": "a2", "command": []string{"x"}},
		{"name": "b", "command": []string{"x"}, "wave": 3},
	}))
	require.NoError(t, cfg.SetObject("pulumi-jobs:postDeploy", []map[string]any{
		{"name": "p2", "command": []string{"x"}, "wave": 2},
		{"name": "p1", "command": []string{"x"}, "wave": 1},
	}))
	r := runStack(t, "dev", cfg)
	const (
		jobs       = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::"
		deployment = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::shop"
		service    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:core/v1:Service::shop"
	)
	deps := func(urn string) []string { return r.byURN(urn).RegisterRPC.GetDependencies() }

	assert.Empty(t, r.ofType(namespaceType), "createNamespace=false registers no namespace")
	assert.Empty(t, deps(jobs+"shop-pre-deploy-a1"), "wave 0 of pre-deploy waits for nothing")
	assert.Empty(t, deps(jobs+"shop-pre-deploy-a2"))
	assert.ElementsMatch(t, []string{jobs + "shop-pre-deploy-a1", jobs + "shop-pre-deploy-a2"}, deps(jobs+"shop-pre-deploy-b"),
		"gaps in wave numbers: wave 3 follows wave 0")
	assert.ElementsMatch(t, []string{jobs + "shop-pre-deploy-b"}, deps(jobs+"shop-pre-deploy-c"))
	assert.ElementsMatch(t, []string{deployment, service}, deps(jobs+"shop-post-deploy-p1"))
	assert.ElementsMatch(t, []string{deployment, service, jobs + "shop-post-deploy-p1"}, deps(jobs+"shop-post-deploy-p2"))
	assert.ElementsMatch(t, []string{
		jobs + "shop-pre-deploy-a1", jobs + "shop-pre-deploy-a2", jobs + "shop-pre-deploy-b", jobs + "shop-pre-deploy-c",
	}, deps(deployment))
	assert.Equal(t, "shop", prop(t, r.byURN(jobs+"shop-pre-deploy-c").Inputs, "metadata.namespace").StringValue(),
		"an existing namespace is used by its name")
}

func TestNoDatabaseURL(t *testing.T) {
	r := runStack(t, "dev", minimal())
	assert.Empty(t, r.ofType(secretType))
	env := prop(t, r.find(deploymentType, "shop").Inputs, "spec.template.spec.containers[0].env")
	assert.Equal(t, []any{}, env.Mappable())
}

// TestDeterministic runs the program twice on one config and compares the
// two sequences of registration requests: type, name, parent, inputs,
// dependencies and every option. The SDK sends each request from a
// goroutine of its own, so the order in which they arrive at the monitor is
// the scheduler's (it differs from run to run); each sequence is put in URN
// order (URNs are unique, the monitor refuses duplicates) before comparing.
func TestDeterministic(t *testing.T) {
	cfg := shippedStack(t, "dev")
	requests := func() []pulumitest.Registration {
		m, err := pulumitest.Run(program.Run, "dev", cfg)
		require.NoError(t, err)
		regs := m.Registrations()
		slices.SortFunc(regs, func(a, b pulumitest.Registration) int { return strings.Compare(a.URN, b.URN) })
		return regs
	}
	first, second := requests(), requests()
	require.Len(t, first, 13)
	require.Len(t, second, len(first))
	for i := range first {
		a, b := first[i], second[i]
		require.Equal(t, a.URN, b.URN, "request %d", i)
		assert.Equal(t, a.TypeToken, b.TypeToken, a.URN)
		assert.Equal(t, a.Name, b.Name, a.URN)
		assert.True(t, a.Inputs.DeepEquals(b.Inputs), "%s: inputs differ", a.URN)
		assert.Equal(t, a.RegisterRPC.GetDependencies(), b.RegisterRPC.GetDependencies(), "%s: dependencies (in order) differ", a.URN)
		// The whole request: options, property dependencies, serialized inputs.
		assert.Truef(t, proto.Equal(a.RegisterRPC, b.RegisterRPC), "%s: requests differ:\n%v\n%v", a.URN, a.RegisterRPC, b.RegisterRPC)
	}
}

func TestInvalidConfigRegistersNothing(t *testing.T) {
	cfg := minimal()
	require.NoError(t, cfg.SetObject("pulumi-jobs:app", map[string]any{"name": "Shop", "imag": "x"}))
	m, err := pulumitest.Run(program.Run, "dev", cfg)
	require.Error(t, err)
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	var keys []string
	for _, p := range cerr.Problems {
		keys = append(keys, p.Key)
	}
	assert.Equal(t, []string{"pulumi-jobs:app.imag", "pulumi-jobs:app.image", "pulumi-jobs:app.name"}, keys, "every problem at once")
	assert.Empty(t, m.Registrations(), "nothing may be registered when the config is invalid")
}

// TestChartRefusalUnderItsKey: a refusal that only the release's cluster
// step can make (a chart that calls lookup, with no cluster to read) comes
// back as a config error under the config key, as every other does.
func TestChartRefusalUnderItsKey(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HOME", t.TempDir())
	cfg := minimal()
	require.NoError(t, cfg.SetObject("pulumi-jobs:app", map[string]any{
		"name": "ledger", "image": "ghcr.io/acme/ledger:1.0.0", "chart": map[string]any{"path": "../chart/testdata/ledger"},
	}))
	m, err := pulumitest.Run(program.Run, "dev", cfg)
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	assert.Equal(t, []config.Problem{{Key: "pulumi-jobs:app.chart", Message: "the chart calls lookup, which reads the release's cluster, and " +
		"no Kubernetes cluster is configured: nothing is rendered without it (its objects would differ from the ones up renders); " +
		"give the release its cluster (kubeconfig, context, or the stack's kubernetes:kubeconfig)"}}, cerr.Problems)
	assert.Empty(t, m.Registrations(), "nothing may be registered when the chart is refused")
}

func TestMermaid(t *testing.T) {
	r := runStack(t, "dev", shippedStack(t, "dev"))
	got := strings.TrimSpace(outputs.Mermaid(r.plan))
	want := strings.TrimSpace(`
flowchart LR
  subgraph pre0["pre-deploy · wave 0"]
    pre0_migrate_schema["migrate-schema<br/>onChange"]
    pre0_migrate_search_index["migrate-search-index<br/>onChange"]
  end
  subgraph pre1["pre-deploy · wave 1"]
    pre1_seed_reference_data["seed-reference-data<br/>once"]
  end
  pre0 --> pre1
  app["Deployment shop<br/>2 replica(s)"]
  pre1 --> app
  subgraph post0["post-deploy · wave 0"]
    post0_warm_cache["warm-cache<br/>onChange"]
  end
  app --> post0
  subgraph post1["post-deploy · wave 1"]
    post1_smoke_test["smoke-test<br/>onRelease"]
  end
  post0 --> post1`)
	assert.Equal(t, want, got)
}

// BenchmarkProgram evaluates the program under mocks for growing numbers of
// Jobs (ten per wave, half of them pre-deploy); jobs=200 is the 200-job,
// 20-wave case.
func BenchmarkProgram(b *testing.B) {
	for _, n := range []int{50, 100, 200, 400} {
		b.Run(fmt.Sprintf("jobs=%d", n), func(b *testing.B) {
			cfg := minimal()
			var pre, post []map[string]any
			for i := range n {
				j := map[string]any{"name": fmt.Sprintf("job-%03d", i), "command": []string{"run"}, "wave": i / 10 % (n / 20)}
				if i%2 == 0 {
					pre = append(pre, j)
				} else {
					post = append(post, j)
				}
			}
			require.NoError(b, cfg.SetObject("pulumi-jobs:preDeploy", pre))
			require.NoError(b, cfg.SetObject("pulumi-jobs:postDeploy", post))
			b.ReportAllocs()
			for b.Loop() {
				m, err := pulumitest.Run(program.Run, "dev", cfg)
				if err != nil {
					b.Fatal(err)
				}
				if got := len(m.Registrations()); got < n {
					b.Fatalf("registered %d resources, want at least %d", got, n)
				}
			}
		})
	}
}
