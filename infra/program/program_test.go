package program_test

import (
	"fmt"
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
	"github.com/pulumi-jobs/pulumi-jobs/infra/spec"
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
	spec spec.Release
}

func runStack(t *testing.T, stack string, cfg pulumitest.Config) result {
	t.Helper()
	s, err := config.Load(pulumitest.Source{Config: cfg, StackName: stack})
	require.NoError(t, err)
	m, err := pulumitest.Run(program.Run, stack, cfg)
	require.NoError(t, err)
	return result{t: t, regs: m.Registrations(), spec: s}
}

func shippedStack(t *testing.T, stack string) pulumitest.Config {
	t.Helper()
	cfg, err := pulumitest.LoadStack(repoRoot, stack)
	require.NoError(t, err)
	cfg.SetSecret(config.Key(config.KeyDatabaseURL), databaseURL)
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

func TestShippedStacks(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		t.Run(stack, func(t *testing.T) {
			r := runStack(t, stack, shippedStack(t, stack))
			s := r.spec
			require.NotEmpty(t, s.Waves(spec.PreDeploy), "the shipped stack should exercise pre-deploy jobs")
			require.NotEmpty(t, s.Waves(spec.PostDeploy), "the shipped stack should exercise post-deploy jobs")

			rel := r.find(release.ReleaseType, s.App.Name)
			pre := r.find(release.PreDeployType, s.App.Name+"-pre-deploy")
			dep := r.find(release.DeployType, s.App.Name+"-deploy")
			post := r.find(release.PostDeployType, s.App.Name+"-post-deploy")
			for _, c := range []pulumitest.Registration{pre, dep, post} {
				assert.Equal(t, rel.URN, c.RegisterRPC.GetParent(), "%s is a child of the Release", c.TypeToken)
				assert.False(t, c.Custom)
			}

			deployment := r.find(deploymentType, s.App.Name)
			service := r.find(serviceType, s.App.Name)
			ns := r.find(namespaceType, s.Namespace)
			secret := r.find(secretType, s.App.Name+"-database")
			assert.Equal(t, dep.URN, deployment.RegisterRPC.GetParent())
			assert.Equal(t, dep.URN, service.RegisterRPC.GetParent())
			assert.Equal(t, rel.URN, ns.RegisterRPC.GetParent())
			assert.Equal(t, rel.URN, secret.RegisterRPC.GetParent())

			t.Run("namespace enforces restricted", func(t *testing.T) {
				labels := prop(t, ns.Inputs, "metadata.labels").Mappable()
				for _, mode := range []string{"enforce", "warn", "audit"} {
					assert.Equal(t, "restricted", labels.(map[string]any)["pod-security.kubernetes.io/"+mode])
				}
			})

			var preURNs []string
			var waveURNs [][]string
			for _, w := range s.Waves(spec.PreDeploy) {
				var urns []string
				for _, j := range w.Jobs {
					urns = append(urns, r.find(jobType, j.Name).URN)
				}
				waveURNs = append(waveURNs, urns)
				preURNs = append(preURNs, urns...)
			}

			t.Run("deployment and service depend on every pre-deploy job", func(t *testing.T) {
				assert.ElementsMatch(t, preURNs, r.explicitDeps(deployment))
				assert.ElementsMatch(t, preURNs, r.explicitDeps(service))
			})

			for _, phase := range []spec.Phase{spec.PreDeploy, spec.PostDeploy} {
				phaseURN := map[spec.Phase]string{spec.PreDeploy: pre.URN, spec.PostDeploy: post.URN}[phase]
				var previous []string
				for _, w := range s.Waves(phase) {
					var current []string
					for _, j := range w.Jobs {
						job := r.find(jobType, j.Name)
						current = append(current, job.URN)
						want := slices.Clone(previous)
						if phase == spec.PostDeploy {
							want = append(want, deployment.URN, service.URN)
						}
						t.Run(fmt.Sprintf("%s wave %d %s", phase, w.Number, j.Name), func(t *testing.T) {
							assert.Equal(t, phaseURN, job.RegisterRPC.GetParent())
							assert.ElementsMatch(t, want, r.explicitDeps(job), "explicit dependency edges")
							assertJob(t, job, j, s)
						})
					}
					previous = current
				}
			}

			t.Run("app pods pass restricted", func(t *testing.T) {
				assertRestricted(t, prop(t, deployment.Inputs, "spec.template.spec").ObjectValue())
				assert.Equal(t, int64(0), int64(prop(t, deployment.Inputs, "spec.strategy.rollingUpdate.maxUnavailable").NumberValue()))
				assert.Equal(t, float64(s.App.Replicas), prop(t, deployment.Inputs, "spec.replicas").NumberValue())
			})

			t.Run("database url stays secret", func(t *testing.T) {
				v := prop(t, secret.Inputs, "stringData")
				require.True(t, v.IsSecret(), "the Secret's stringData must be a secret value")
				data := v.SecretValue().Element.ObjectValue()
				assert.Equal(t, databaseURL, data[config.DatabaseURLEnv].StringValue())
				for _, reg := range r.regs {
					assertNoPlaintext(t, reg.Name, resource.NewProperty(reg.Inputs), databaseURL)
				}
				ref := prop(t, deployment.Inputs, "spec.template.spec.containers[0].env")
				assert.Contains(t, fmt.Sprint(ref.Mappable()), config.DatabaseURLEnv)
			})
		})
	}
}

// assertJob checks the Job's options and spec against its config.
func assertJob(t *testing.T, job pulumitest.Registration, j spec.Job, s spec.Release) {
	t.Helper()
	rpc := job.RegisterRPC
	assert.Equal(t, "true", prop(t, job.Inputs, `metadata.annotations["pulumi.com/replaceUnready"]`).StringValue())
	_, named := job.Inputs["metadata"].ObjectValue()["name"]
	assert.False(t, named, "Jobs must be auto-named so replacements are create-before-delete")
	assert.False(t, rpc.GetDeleteBeforeReplace())

	timeout := (j.Timeout + release.TimeoutMargin).String()
	require.NotNil(t, rpc.GetCustomTimeouts())
	assert.Equal(t, timeout, rpc.GetCustomTimeouts().GetCreate())
	assert.Equal(t, timeout, rpc.GetCustomTimeouts().GetUpdate())

	switch j.Rerun {
	case spec.OnChange:
		assert.Equal(t, release.ImageReplaceOnChanges(), rpc.GetReplaceOnChanges())
		assert.Nil(t, rpc.GetReplacementTrigger())
		assert.Empty(t, rpc.GetIgnoreChanges())
	case spec.OnRelease:
		assert.Equal(t, release.ImageReplaceOnChanges(), rpc.GetReplaceOnChanges())
		require.NotNil(t, rpc.GetReplacementTrigger())
		assert.Equal(t, s.ID, rpc.GetReplacementTrigger().GetStringValue())
		assert.Empty(t, rpc.GetIgnoreChanges())
	case spec.Once:
		assert.Equal(t, []string{"spec"}, rpc.GetIgnoreChanges())
		assert.Empty(t, rpc.GetReplaceOnChanges())
		assert.Nil(t, rpc.GetReplacementTrigger())
	default:
		t.Fatalf("unknown rerun %q", j.Rerun)
	}

	assert.Equal(t, float64(j.BackoffLimit), prop(t, job.Inputs, "spec.backoffLimit").NumberValue())
	assert.Equal(t, j.Timeout.Seconds(), prop(t, job.Inputs, "spec.activeDeadlineSeconds").NumberValue())
	assert.Equal(t, "Failed", prop(t, job.Inputs, "spec.podReplacementPolicy").StringValue())
	assert.Equal(t, float64(1), prop(t, job.Inputs, "spec.parallelism").NumberValue())
	assert.Equal(t, float64(1), prop(t, job.Inputs, "spec.completions").NumberValue())
	_, ttl := job.Inputs["spec"].ObjectValue()["ttlSecondsAfterFinished"]
	assert.False(t, ttl, "a TTL-deleted Job is re-run by the next refresh + up")
	podSpec := prop(t, job.Inputs, "spec.template.spec").ObjectValue()
	assert.Equal(t, "Never", podSpec["restartPolicy"].StringValue())
	assert.Equal(t, j.Image, prop(t, job.Inputs, "spec.template.spec.containers[0].image").StringValue())
	assertRestricted(t, podSpec)
}

// assertRestricted checks a pod spec against Pod Security "restricted" and
// the project's hardening defaults.
func assertRestricted(t *testing.T, pod resource.PropertyMap) {
	t.Helper()
	assert.False(t, prop(t, pod, "automountServiceAccountToken").BoolValue())
	assert.True(t, prop(t, pod, "securityContext.runAsNonRoot").BoolValue())
	assert.Equal(t, "RuntimeDefault", prop(t, pod, "securityContext.seccompProfile.type").StringValue())
	assert.Equal(t, "/tmp", prop(t, pod, "containers[0].volumeMounts[0].mountPath").StringValue())
	assert.NotNil(t, prop(t, pod, "volumes[0].emptyDir"))
	for _, c := range prop(t, pod, "containers").ArrayValue() {
		cm := c.ObjectValue()
		assert.False(t, prop(t, cm, "securityContext.allowPrivilegeEscalation").BoolValue())
		assert.Equal(t, "ALL", prop(t, cm, "securityContext.capabilities.drop[0]").StringValue())
		assert.True(t, prop(t, cm, "securityContext.readOnlyRootFilesystem").BoolValue())
		for _, q := range []string{"requests.cpu", "requests.memory", "limits.cpu", "limits.memory"} {
			assert.NotEmpty(t, prop(t, cm, "resources."+q).StringValue(), q)
		}
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
	cfg.Set(config.Key(config.KeyNamespace), "shop")
	cfg.Set(config.Key(config.KeyRelease), "r1")
	_ = cfg.SetObject(config.Key(config.KeyApp), map[string]any{"name": "shop", "image": "ghcr.io/acme/shop:1.0.0"})
	return cfg
}

func TestRerunPolicies(t *testing.T) {
	for _, rerun := range spec.Reruns() {
		t.Run(string(rerun), func(t *testing.T) {
			cfg := minimal()
			require.NoError(t, cfg.SetObject(config.Key(config.KeyPreDeploy), []map[string]any{
				{"name": "migrate", "command": []string{"migrate"}, "rerun": rerun, "timeout": "90s"},
			}))
			r := runStack(t, "dev", cfg)
			job := r.find(jobType, "migrate")
			assertJob(t, job, r.spec.Jobs[0], r.spec)
			assert.Equal(t, "2m30s", job.RegisterRPC.GetCustomTimeouts().GetCreate())
		})
	}
}

func TestWaveEdges(t *testing.T) {
	cfg := minimal()
	cfg.Set(config.Key(config.KeyCreateNamespace), "false")
	require.NoError(t, cfg.SetObject(config.Key(config.KeyPreDeploy), []map[string]any{
		{"name": "c", "command": []string{"x"}, "wave": 7},
		{"name": "a1", "command": []string{"x"}},
		{"name": "a2", "command": []string{"x"}},
		{"name": "b", "command": []string{"x"}, "wave": 3},
	}))
	require.NoError(t, cfg.SetObject(config.Key(config.KeyPostDeploy), []map[string]any{
		{"name": "p2", "command": []string{"x"}, "wave": 2},
		{"name": "p1", "command": []string{"x"}, "wave": 1},
	}))
	r := runStack(t, "dev", cfg)
	urn := func(typ, name string) string { return r.find(typ, name).URN }
	deps := func(name string) []string { return r.explicitDeps(r.find(jobType, name)) }

	assert.Empty(t, r.ofType(namespaceType), "createNamespace=false registers no namespace")
	assert.Empty(t, deps("a1"), "wave 0 of pre-deploy waits for nothing")
	assert.Empty(t, deps("a2"))
	assert.ElementsMatch(t, []string{urn(jobType, "a1"), urn(jobType, "a2")}, deps("b"), "gaps in wave numbers: wave 3 follows wave 0")
	assert.ElementsMatch(t, []string{urn(jobType, "b")}, deps("c"))
	app := []string{urn(deploymentType, "shop"), urn(serviceType, "shop")}
	assert.ElementsMatch(t, app, deps("p1"))
	assert.ElementsMatch(t, append(app, urn(jobType, "p1")), deps("p2"))
	assert.ElementsMatch(t, []string{urn(jobType, "a1"), urn(jobType, "a2"), urn(jobType, "b"), urn(jobType, "c")},
		r.explicitDeps(r.find(deploymentType, "shop")))
}

func TestNoDatabaseURL(t *testing.T) {
	r := runStack(t, "dev", minimal())
	assert.Empty(t, r.ofType(secretType))
	env := prop(t, r.find(deploymentType, "shop").Inputs, "spec.template.spec.containers[0].env")
	assert.NotContains(t, fmt.Sprint(env.Mappable()), config.DatabaseURLEnv)
}

// TestDeterministic runs one config twice. The SDK registers resources from
// goroutines, so the arrival order of independent resources at the monitor
// is the scheduler's; what the program decides — each request, and the
// order in which it calls for them — must be identical.
func TestDeterministic(t *testing.T) {
	cfg := shippedStack(t, "dev")
	first, second := runStack(t, "dev", cfg), runStack(t, "dev", cfg)
	require.Len(t, second.regs, len(first.regs))
	byURN := map[string]pulumitest.Registration{}
	for _, reg := range second.regs {
		byURN[reg.URN] = reg
	}
	for _, a := range first.regs {
		b, ok := byURN[a.URN]
		require.True(t, ok, "%s registered once only", a.URN)
		// SourcePosition differs by call site only; it is the same here too.
		assert.Truef(t, proto.Equal(a.RegisterRPC, b.RegisterRPC), "%s: requests differ", a.URN)
	}
	// The order of calls within each phase follows the waves and then the
	// config: compare the Jobs' order by the program's own record.
	names := func(r result) []string {
		var out []string
		for _, j := range r.spec.Jobs {
			out = append(out, j.Name)
		}
		return out
	}
	assert.Equal(t, names(first), names(second))
}

func TestInvalidConfigRegistersNothing(t *testing.T) {
	cfg := minimal()
	require.NoError(t, cfg.SetObject(config.Key(config.KeyApp), map[string]any{"name": "Shop", "imag": "x"}))
	m, err := pulumitest.Run(program.Run, "dev", cfg)
	require.Error(t, err)
	var cerr *config.Error
	require.ErrorAs(t, err, &cerr)
	assert.Len(t, cerr.Problems, 3, "every problem at once: %v", cerr.Problems)
	assert.Empty(t, m.Registrations(), "nothing may be registered when the config is invalid")
}

func TestMermaid(t *testing.T) {
	r := runStack(t, "dev", shippedStack(t, "dev"))
	got := strings.TrimSpace(outputs.Mermaid(r.spec))
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
			require.NoError(b, cfg.SetObject(config.Key(config.KeyPreDeploy), pre))
			require.NoError(b, cfg.SetObject(config.Key(config.KeyPostDeploy), post))
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
