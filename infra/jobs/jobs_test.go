package jobs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// The URNs the program below must register, spelled out.
const (
	migrationsURN = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs::migrations"
	migrateURN    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::migrations-migrate-schema"
	reindexURN    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::migrations-reindex"
	seedURN       = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::migrations-seed"
	appURN        = "urn:pulumi:dev::pulumi-jobs::kubernetes:apps/v1:Deployment::app"
	smokeURN      = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs::smoke"
	smokeTestURN  = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::smoke-smoke-test"
	reportURN     = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::smoke-report"
)

func ptr[T any](v T) *T { return &v }

// migrationArgs are the args of the "migrations" component: three Jobs in
// two waves, one per re-run policy.
func migrationArgs() *jobs.Args {
	return &jobs.Args{
		Namespace:      pulumi.String("shop"),
		Image:          pulumi.String("ghcr.io/acme/shop:1.4.2"),
		ReleaseID:      pulumi.String("r42"),
		DatabaseSecret: pulumi.String("shop-database"),
		Phase:          "pre-deploy",
		PartOf:         "shop",
		Jobs: []jobs.Job{
			{
				Name: "migrate-schema", Command: []string{"/app/shop", "migrate"}, Args: []string{"up", "--verbose"},
				Env:         map[string]string{"LOG_LEVEL": "debug", "A": "1"},
				Annotations: map[string]string{"pod-complete.stage.kwok.x-k8s.io/delay": "1s"},
			},
			{
				Name: "seed", Command: []string{"/app/shop", "seed"}, Wave: 1, Rerun: "once", BackoffLimit: ptr(0),
				Resources: &pod.Resources{Limits: &pod.Quantities{Memory: "512Mi"}},
			},
			{
				Name: "reindex", Command: []string{"/app/search", "reindex"}, Image: "ghcr.io/acme/search-tools:2.0.0",
				Rerun: "onRelease", Timeout: "90s",
			},
		},
	}
}

// captured are the outputs of the components, read once the program ran.
type captured struct {
	migrationNames []string
	migrationRuns  map[string]string
	namespace      string
	waves          [][]string
}

// userProgram uses the Jobs component as a user program would: Jobs before
// an app of its own, and Jobs after it, ordered by nothing but dependsOn.
// The app depends on the Jobs of the component (migrations.Children()), or,
// with onComponent, on the component itself.
func userProgram(out *captured, onComponent bool) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		migrations, err := jobs.New(ctx, "migrations", migrationArgs())
		if err != nil {
			return err
		}
		after := migrations.Children()
		if onComponent {
			after = []pulumi.Resource{migrations}
		}
		app, err := appsv1.NewDeployment(ctx, "app", &appsv1.DeploymentArgs{}, pulumi.DependsOn(after))
		if err != nil {
			return err
		}
		_, err = jobs.New(ctx, "smoke", &jobs.Args{
			Namespace: pulumi.String("shop"),
			Image:     pulumi.String("ghcr.io/acme/shop:1.4.2"),
			Resources: &pod.Resources{Requests: &pod.Quantities{CPU: "50m"}},
			Jobs: []jobs.Job{
				{Name: "report", Command: []string{"/app/report"}, Wave: 5},
				{Name: "smoke-test", Command: []string{"/app/smoke"}},
			},
		}, pulumi.DependsOn([]pulumi.Resource{app}))
		if err != nil {
			return err
		}
		if out != nil {
			for _, w := range migrations.Waves {
				out.waves = append(out.waves, w.Names)
			}
			out.migrationNames = await(ctx, migrations.JobNames).([]string)
			out.migrationRuns = await(ctx, migrations.Runs).(map[string]string)
			out.namespace = await(ctx, migrations.Namespace).(string)
		}
		return nil
	}
}

// await returns the value of o once it is resolved.
func await(ctx *pulumi.Context, o pulumi.Output) any {
	r, err := internals.UnsafeAwaitOutput(ctx.Context(), o)
	if err != nil {
		panic(err)
	}
	return r.Value
}

// run runs program on the mock monitor for stack "dev" and indexes what it registered by URN.
func run(t *testing.T, program pulumi.RunFunc) map[string]pulumitest.Registration {
	t.Helper()
	m, err := pulumitest.Run(program, "dev", pulumitest.Config{})
	require.NoError(t, err)
	byURN := map[string]pulumitest.Registration{}
	for _, reg := range m.Registrations() {
		_, dup := byURN[reg.URN]
		require.False(t, dup, "%s registered twice", reg.URN)
		byURN[reg.URN] = reg
	}
	return byURN
}

func TestUserProgramRegistersWhatItSays(t *testing.T) {
	var out captured
	regs := run(t, userProgram(&out, false))
	var urns []string
	for urn := range regs {
		urns = append(urns, urn)
	}
	assert.ElementsMatch(t, []string{
		migrationsURN, migrateURN, reindexURN, seedURN, appURN, smokeURN, smokeTestURN, reportURN,
	}, urns)

	for _, urn := range []string{migrateURN, reindexURN, seedURN} {
		assert.Equal(t, migrationsURN, regs[urn].RegisterRPC.GetParent(), urn)
		assert.True(t, regs[urn].Custom)
	}
	for _, urn := range []string{smokeTestURN, reportURN} {
		assert.Equal(t, smokeURN, regs[urn].RegisterRPC.GetParent(), urn)
	}
	assert.False(t, regs[migrationsURN].Custom)
	assert.Equal(t, "pulumi-jobs:index:Jobs", regs[smokeURN].TypeToken)

	// The cluster names of the runs, as the mock auto-names them (<name>-0123abcd), in wave order.
	assert.Equal(t, []string{
		"migrations-migrate-schema-0123abcd", "migrations-reindex-0123abcd", "migrations-seed-0123abcd",
	}, out.migrationNames)
	assert.Equal(t, map[string]string{
		"migrate-schema": "migrations-migrate-schema-0123abcd",
		"reindex":        "migrations-reindex-0123abcd",
		"seed":           "migrations-seed-0123abcd",
	}, out.migrationRuns)
	assert.Equal(t, "shop", out.namespace)
	assert.Equal(t, [][]string{{"migrate-schema", "reindex"}, {"seed"}}, out.waves)
}

// TestDependencies pins the dependencies the SDK sends for every resource,
// in both directions: the app on every Job of the migrations, and the smoke
// Jobs on the app (the component's dependsOn copied onto each Job), each
// later wave on the wave before it.
func TestDependencies(t *testing.T) {
	regs := run(t, userProgram(nil, false))
	for urn, want := range map[string][]string{
		migrationsURN: nil,
		migrateURN:    nil,
		reindexURN:    nil,
		seedURN:       {migrateURN, reindexURN},
		appURN:        {migrateURN, reindexURN, seedURN},
		smokeURN:      {appURN},
		smokeTestURN:  {appURN},
		reportURN:     {appURN, smokeTestURN},
	} {
		t.Run(urn[strings.LastIndex(urn, "::")+2:], func(t *testing.T) {
			assert.ElementsMatch(t, want, regs[urn].RegisterRPC.GetDependencies())
		})
	}
}

// TestDependsOnTheComponent records what the Go SDK sends for a resource
// that depends on the component itself, dependsOn: [migrations]: never the
// component's URN, but the component's children known to the SDK when the
// dependant's registration is prepared (pulumi/pulumi#7737: "the exact set
// of children depends on exactly when the component resource is
// observed"). A Job is known as a child only once its own registration
// goroutine has started, so the set is any subset of the Jobs, the empty
// one included, and the app may start before some migration has completed:
// a program must depend on migrations.Children() instead, as the Release
// does (TestDependencies). That set is therefore not asserted here; that
// the component's own URN is never in it is. Everything that does not
// depend on the component is the same as in TestDependencies.
func TestDependsOnTheComponent(t *testing.T) {
	for range 20 {
		regs := run(t, userProgram(nil, true))
		assert.NotContains(t, regs[appURN].RegisterRPC.GetDependencies(), migrationsURN)
		assert.ElementsMatch(t, []string{migrateURN, reindexURN}, regs[seedURN].RegisterRPC.GetDependencies())
		assert.ElementsMatch(t, []string{appURN}, regs[smokeTestURN].RegisterRPC.GetDependencies())
		assert.ElementsMatch(t, []string{appURN, smokeTestURN}, regs[reportURN].RegisterRPC.GetDependencies())
	}
}

func TestRerunPolicies(t *testing.T) {
	regs := run(t, userProgram(nil, false))
	imagePaths := []string{"spec.template.spec.containers[*].image", "spec.template.spec.initContainers[*].image"}
	cases := []struct {
		name             string
		urn              string
		replaceOnChanges []string
		trigger          string
		ignoreChanges    []string
		timeout          string
	}{
		{"onChange (the default)", migrateURN, imagePaths, "", nil, "11m0s"},
		{"onRelease", reindexURN, imagePaths, "r42", nil, "2m30s"},
		{"once", seedURN, nil, "", []string{"spec"}, "11m0s"},
		{"onChange in another component", smokeTestURN, imagePaths, "", nil, "11m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rpc := regs[c.urn].RegisterRPC
			assert.Equal(t, c.replaceOnChanges, nilIfEmpty(rpc.GetReplaceOnChanges()))
			assert.Equal(t, c.ignoreChanges, nilIfEmpty(rpc.GetIgnoreChanges()))
			if c.trigger == "" {
				assert.Nil(t, rpc.GetReplacementTrigger())
			} else {
				require.NotNil(t, rpc.GetReplacementTrigger())
				assert.Equal(t, c.trigger, rpc.GetReplacementTrigger().GetStringValue())
			}
			require.NotNil(t, rpc.GetCustomTimeouts())
			assert.Equal(t, c.timeout, rpc.GetCustomTimeouts().GetCreate())
			assert.Equal(t, c.timeout, rpc.GetCustomTimeouts().GetUpdate())
			assert.Empty(t, rpc.GetCustomTimeouts().GetDelete())
			assert.False(t, rpc.GetDeleteBeforeReplace(), "a new run is created before the previous one is deleted")
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// restrictedPod and restrictedContainer are Pod Security "restricted", as
// every pod template must carry it.
var (
	restrictedPod       = map[string]any{"runAsNonRoot": true, "seccompProfile": map[string]any{"type": "RuntimeDefault"}}
	restrictedContainer = map[string]any{
		"allowPrivilegeEscalation": false,
		"capabilities":             map[string]any{"drop": []any{"ALL"}},
		"readOnlyRootFilesystem":   true,
		"runAsNonRoot":             true,
		"seccompProfile":           map[string]any{"type": "RuntimeDefault"},
	}
	databaseURLEnv = map[string]any{"name": "DATABASE_URL", "valueFrom": map[string]any{
		"secretKeyRef": map[string]any{"key": "DATABASE_URL", "name": "shop-database"},
	}}
)

// TestJobInputs pins every input of the Jobs, defaults included, as literal property maps.
func TestJobInputs(t *testing.T) {
	regs := run(t, userProgram(nil, false))
	job := func(name, rerun, wave string, spec map[string]any) map[string]any {
		labels := map[string]any{
			"app.kubernetes.io/managed-by": "pulumi", "pulumi-jobs/job": name, "pulumi-jobs/rerun": rerun, "pulumi-jobs/wave": wave,
			"app.kubernetes.io/part-of": "shop", "pulumi-jobs/phase": "pre-deploy",
		}
		return map[string]any{
			"apiVersion": "batch/v1", "kind": "Job",
			"metadata": map[string]any{
				"namespace":   "shop",
				"labels":      labels,
				"annotations": map[string]any{"pulumi.com/replaceUnready": "true", "pulumi-jobs/owner": "pulumi-jobs/dev/migrations"},
			},
			"spec": spec,
		}
	}
	podTemplate := func(name string, annotations map[string]any, container map[string]any) map[string]any {
		return map[string]any{
			"metadata": map[string]any{
				"labels":      map[string]any{"pulumi-jobs/job": name, "app.kubernetes.io/part-of": "shop", "pulumi-jobs/phase": "pre-deploy"},
				"annotations": annotations,
			},
			"spec": map[string]any{
				"restartPolicy":                "Never",
				"automountServiceAccountToken": false,
				"enableServiceLinks":           false,
				"securityContext":              restrictedPod,
				"volumes":                      []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{}}},
				"containers":                   []any{container},
			},
		}
	}
	defaultResources := map[string]any{
		"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
		"limits":   map[string]any{"cpu": "500m", "memory": "256Mi"},
	}
	tmp := []any{map[string]any{"name": "tmp", "mountPath": "/tmp"}}

	cases := []struct {
		name string
		urn  string
		want map[string]any
	}{
		{"defaults, args, env sorted, annotations, database secret", migrateURN, job("migrate-schema", "onChange", "0", map[string]any{
			"backoffLimit": float64(2), "activeDeadlineSeconds": float64(600), "podReplacementPolicy": "Failed",
			"parallelism": float64(1), "completions": float64(1),
			"template": podTemplate("migrate-schema", map[string]any{"pod-complete.stage.kwok.x-k8s.io/delay": "1s"}, map[string]any{
				"name": "migrate-schema", "image": "ghcr.io/acme/shop:1.4.2",
				"command": []any{"/app/shop", "migrate"}, "args": []any{"up", "--verbose"},
				"env": []any{
					map[string]any{"name": "A", "value": "1"},
					map[string]any{"name": "LOG_LEVEL", "value": "debug"},
					databaseURLEnv,
				},
				"resources": defaultResources, "securityContext": restrictedContainer, "volumeMounts": tmp,
			}),
		})},
		{"own image and timeout", reindexURN, job("reindex", "onRelease", "0", map[string]any{
			"backoffLimit": float64(2), "activeDeadlineSeconds": float64(90), "podReplacementPolicy": "Failed",
			"parallelism": float64(1), "completions": float64(1),
			"template": podTemplate("reindex", map[string]any{}, map[string]any{
				"name": "reindex", "image": "ghcr.io/acme/search-tools:2.0.0", "command": []any{"/app/search", "reindex"},
				"env": []any{databaseURLEnv}, "resources": defaultResources, "securityContext": restrictedContainer, "volumeMounts": tmp,
			}),
		})},
		{"backoffLimit 0 and a memory limit of its own", seedURN, job("seed", "once", "1", map[string]any{
			"backoffLimit": float64(0), "activeDeadlineSeconds": float64(600), "podReplacementPolicy": "Failed",
			"parallelism": float64(1), "completions": float64(1),
			"template": podTemplate("seed", map[string]any{}, map[string]any{
				"name": "seed", "image": "ghcr.io/acme/shop:1.4.2", "command": []any{"/app/shop", "seed"},
				"env": []any{databaseURLEnv},
				"resources": map[string]any{
					"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
					"limits":   map[string]any{"cpu": "500m", "memory": "512Mi"},
				},
				"securityContext": restrictedContainer, "volumeMounts": tmp,
			}),
		})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, regs[c.urn].Inputs.Mappable())
		})
	}

	t.Run("no database secret, the component's resources as defaults, no phase or part-of", func(t *testing.T) {
		in := regs[smokeTestURN].Inputs
		assert.Equal(t, map[string]any{
			"app.kubernetes.io/managed-by": "pulumi", "pulumi-jobs/job": "smoke-test", "pulumi-jobs/rerun": "onChange", "pulumi-jobs/wave": "0",
		}, prop(t, in, "metadata.labels").Mappable())
		assert.Equal(t, map[string]any{"pulumi-jobs/job": "smoke-test"}, prop(t, in, "spec.template.metadata.labels").Mappable())
		container := prop(t, in, "spec.template.spec.containers[0]").ObjectValue()
		assert.Equal(t, []any{}, container["env"].Mappable())
		_, hasArgs := container["args"]
		assert.False(t, hasArgs, "no args when none are given")
		assert.Equal(t, map[string]any{
			"requests": map[string]any{"cpu": "50m", "memory": "128Mi"},
			"limits":   map[string]any{"cpu": "500m", "memory": "256Mi"},
		}, container["resources"].Mappable())
		assert.Equal(t, "5", prop(t, regs[reportURN].Inputs, `metadata.labels["pulumi-jobs/wave"]`).StringValue())
	})
}

func prop(t *testing.T, pm resource.PropertyMap, path string) resource.PropertyValue {
	t.Helper()
	p, err := resource.ParsePropertyPath(path)
	require.NoError(t, err)
	v, ok := p.Get(resource.NewProperty(pm))
	require.Truef(t, ok, "no property %s", path)
	return v
}

// TestAliases pins what a renamed component gives its Jobs: an alias by the
// bare job name, which (under the component's own aliases) finds the Jobs of
// pulumi-jobs before 0.2 in state. A component without aliases gives none.
func TestAliases(t *testing.T) {
	regs := run(t, func(ctx *pulumi.Context) error {
		_, err := jobs.New(ctx, "shop-pre-deploy", &jobs.Args{
			Namespace: pulumi.String("shop"), Image: pulumi.String("shop:1"),
			Jobs: []jobs.Job{{Name: "migrate", Command: []string{"m"}}},
		}, pulumi.Aliases([]pulumi.Alias{{Type: pulumi.String("pulumi-jobs:index:PreDeploy")}}))
		if err != nil {
			return err
		}
		_, err = jobs.New(ctx, "plain", &jobs.Args{
			Namespace: pulumi.String("shop"), Image: pulumi.String("shop:1"),
			Jobs: []jobs.Job{{Name: "migrate", Command: []string{"m"}}},
		})
		return err
	})
	aliased := regs["urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-pre-deploy-migrate"].RegisterRPC
	require.Len(t, aliased.GetAliases(), 1)
	assert.Equal(t, "migrate", aliased.GetAliases()[0].GetSpec().GetName())
	assert.Empty(t, aliased.GetAliases()[0].GetSpec().GetType())
	component := regs["urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs::shop-pre-deploy"].RegisterRPC
	require.Len(t, component.GetAliases(), 1)
	assert.Equal(t, "pulumi-jobs:index:PreDeploy", component.GetAliases()[0].GetSpec().GetType())
	assert.Empty(t, regs["urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::plain-migrate"].RegisterRPC.GetAliases())
}

// TestDependsOnInputs: dependencies given as inputs reach every Job too.
func TestDependsOnInputs(t *testing.T) {
	regs := run(t, func(ctx *pulumi.Context) error {
		db, err := appsv1.NewDeployment(ctx, "db", &appsv1.DeploymentArgs{})
		if err != nil {
			return err
		}
		_, err = jobs.New(ctx, "migrations", &jobs.Args{
			Namespace: pulumi.String("shop"), Image: pulumi.String("shop:1"),
			Jobs: []jobs.Job{{Name: "a", Command: []string{"m"}}, {Name: "b", Command: []string{"m"}, Wave: 1}},
		}, pulumi.DependsOnInputs(pulumi.ResourceArray{pulumi.NewResourceInput(db)}))
		return err
	})
	const dbURN = "urn:pulumi:dev::pulumi-jobs::kubernetes:apps/v1:Deployment::db"
	const aURN = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::migrations-a"
	assert.ElementsMatch(t, []string{dbURN}, regs[aURN].RegisterRPC.GetDependencies())
	assert.ElementsMatch(t, []string{dbURN, aURN},
		regs["urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::migrations-b"].RegisterRPC.GetDependencies())
}

// TestInvalidArgs triggers every refusal of jobs.New once: the literal key
// and a literal part of the message, exactly one problem, nothing registered.
func TestInvalidArgs(t *testing.T) {
	valid := func() *jobs.Args {
		return &jobs.Args{
			Namespace: pulumi.String("shop"), Image: pulumi.String("ghcr.io/acme/shop:1.4.2"), ReleaseID: pulumi.String("r42"),
			Jobs: []jobs.Job{{Name: "migrate", Command: []string{"./migrate", "up"}}},
		}
	}
	cases := []struct {
		name   string
		stack  string
		mutate func(a *jobs.Args)
		key    string
		msg    string
	}{
		// checkArgs
		{"namespace missing", "dev", func(a *jobs.Args) { a.Namespace = nil }, "namespace", "required; the namespace the Jobs run in"},
		{"namespace with capitals", "dev", func(a *jobs.Args) { a.Namespace = pulumi.String("Shop") }, "namespace", `"Shop" is not a valid name: a lowercase RFC 1123 label`},
		{"component image not a reference", "dev", func(a *jobs.Args) { a.Image = pulumi.String("shop:") }, "image", `"shop:" is not an image reference`},
		{"component image latest in prod", "prod", func(a *jobs.Args) { a.Image = pulumi.String("shop:latest") }, "image", `"shop:latest" uses the tag latest; stack "prod" is a production stack`},
		{"component resources", "dev", func(a *jobs.Args) { a.Resources = &pod.Resources{Requests: &pod.Quantities{CPU: "abc"}} },
			"resources.requests.cpu", `"abc" is not a Kubernetes quantity`},
		{"phase not a label value", "dev", func(a *jobs.Args) { a.Phase = "pre deploy" }, "phase", `"pre deploy" is not a valid label value`},
		{"partOf not a label value", "dev", func(a *jobs.Args) { a.PartOf = "-shop" }, "partOf", `"-shop" is not a valid label value`},

		// Plan
		{"name missing", "dev", func(a *jobs.Args) { a.Jobs[0].Name = "" }, "jobs[0].name", "required; a DNS-1123 label, e.g. migrate-schema"},
		{"name with capitals", "dev", func(a *jobs.Args) { a.Jobs[0].Name = "Migrate" }, "jobs[0].name", `"Migrate" is not a valid name`},
		{"name too long with the component's prefix", "dev", func(a *jobs.Args) { a.Jobs[0].Name = strings.Repeat("m", 44) },
			"jobs[0].name", `with the prefix "migrations-" it must be no more than 54 characters, got 55`},
		{"duplicate name", "dev", func(a *jobs.Args) { a.Jobs = append(a.Jobs, jobs.Job{Name: "migrate", Command: []string{"x"}}) },
			"jobs[1].name", `"migrate" is already the name of jobs[0]; job names must be unique`},
		{"command missing", "dev", func(a *jobs.Args) { a.Jobs[0].Command = nil }, "jobs[0].command", `required; a non-empty list, e.g. ["./migrate", "up"]`},
		{"command program blank", "dev", func(a *jobs.Args) { a.Jobs[0].Command = []string{" ", "up"} },
			"jobs[0].command[0]", `must not be empty: it is the program the Job runs, e.g. "./migrate"`},
		{"job image not a reference", "dev", func(a *jobs.Args) { a.Jobs[0].Image = "Tools:1" }, "jobs[0].image", `"Tools:1" is not an image reference`},
		{"job image untagged in prod", "prod", func(a *jobs.Args) { a.Jobs[0].Image = "ghcr.io/acme/tools" },
			"jobs[0].image", `"ghcr.io/acme/tools" has no tag; stack "prod" is a production stack`},
		{"no image anywhere", "dev", func(a *jobs.Args) { a.Image = nil },
			"jobs[0].image", "required when the component has no image; set image here or on the component"},
		{"wave -1", "dev", func(a *jobs.Args) { a.Jobs[0].Wave = -1 }, "jobs[0].wave", "must be a whole number between 0 and 2147483647, got -1"},
		{"rerun unknown", "dev", func(a *jobs.Args) { a.Jobs[0].Rerun = "always" },
			"jobs[0].rerun", `"always" is not a re-run policy; use onChange (the default), onRelease or once`},
		{"onRelease without a release", "dev", func(a *jobs.Args) { a.Jobs[0].Rerun = "onRelease"; a.ReleaseID = nil },
			"jobs[0].rerun", "onRelease needs a release id; set the release (stack config: pulumi config set release <build number or git SHA>)"},
		{"onRelease with an empty release", "dev", func(a *jobs.Args) { a.Jobs[0].Rerun = "onRelease"; a.ReleaseID = pulumi.String("") },
			"jobs[0].rerun", "onRelease needs a release id, but the release is empty; set it to a build number or git SHA"},
		{"timeout not a duration", "dev", func(a *jobs.Args) { a.Jobs[0].Timeout = "soon" }, "jobs[0].timeout", `"soon" is not a Go duration`},
		{"backoffLimit -1", "dev", func(a *jobs.Args) { a.Jobs[0].BackoffLimit = ptr(-1) },
			"jobs[0].backoffLimit", "(the Job's backoffLimit is an int32), got -1"},
		{"env DATABASE_URL", "dev", func(a *jobs.Args) { a.Jobs[0].Env = map[string]string{"DATABASE_URL": "x"} },
			"jobs[0].env.DATABASE_URL", "is reserved"},
		{"limit 0", "dev", func(a *jobs.Args) {
			a.Jobs[0].Resources = &pod.Resources{Requests: &pod.Quantities{CPU: "0"}, Limits: &pod.Quantities{CPU: "0"}}
		},
			"jobs[0].resources.limits.cpu", `"0" is no limit at all to the container runtime`},
		{"request above the limit", "dev", func(a *jobs.Args) { a.Jobs[0].Resources = &pod.Resources{Limits: &pod.Quantities{Memory: "64Mi"}} },
			"jobs[0].resources.requests.memory", "128Mi is more than the limit 64Mi; a request must not exceed its limit"},
		{"annotation key", "dev", func(a *jobs.Args) { a.Jobs[0].Annotations = map[string]string{"a/b/c": "x"} },
			`jobs[0].annotations["a/b/c"]`, "not a valid annotation key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := valid()
			c.mutate(args)
			var newErr error
			m, err := pulumitest.Run(func(ctx *pulumi.Context) error {
				_, newErr = jobs.New(ctx, "migrations", args)
				return nil
			}, c.stack, pulumitest.Config{})
			require.NoError(t, err)
			var argsErr *check.ArgsError
			require.True(t, errors.As(newErr, &argsErr), "%v", newErr)
			assert.Equal(t, "pulumi-jobs:index:Jobs migrations", argsErr.Resource)
			require.Len(t, argsErr.Problems, 1, "exactly one problem: %v", argsErr.Problems)
			assert.Equal(t, c.key, argsErr.Problems[0].Key)
			assert.Contains(t, argsErr.Problems[0].Message, c.msg)
			assert.Empty(t, m.Registrations(), "nothing is registered for invalid args")
		})
	}
}

func TestInvalidArgsAllAtOnce(t *testing.T) {
	var newErr error
	m, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		_, newErr = jobs.New(ctx, "migrations", &jobs.Args{Jobs: []jobs.Job{
			{Name: "a", Command: []string{"x"}},
			{Name: "a", Timeout: "0s"},
		}})
		return nil
	}, "dev", pulumitest.Config{})
	require.NoError(t, err)
	assert.Empty(t, m.Registrations())
	assert.EqualError(t, newErr, "pulumi-jobs:index:Jobs migrations: 6 invalid argument(s); nothing was registered:\n"+
		"  - namespace: required; the namespace the Jobs run in\n"+
		"  - jobs[0].image: required when the component has no image; set image here or on the component\n"+
		"  - jobs[1].command: required; a non-empty list, e.g. [\"./migrate\", \"up\"]\n"+
		"  - jobs[1].image: required when the component has no image; set image here or on the component\n"+
		"  - jobs[1].timeout: must be positive, got \"0s\"\n"+
		"  - jobs[1].name: \"a\" is already the name of jobs[0]; job names must be unique")
}

// TestPlan pins the defaults and the wave order of jobs.Plan.
func TestPlan(t *testing.T) {
	p := &check.Problems{}
	waves := jobs.Plan(p, "preDeploy", "shop-pre-deploy", vocab.Stack{Name: "dev"}, &jobs.Args{
		Namespace: pulumi.String("shop"), Image: pulumi.String("shop:1"),
		Resources: &pod.Resources{Limits: &pod.Quantities{CPU: "1"}},
		Jobs: []jobs.Job{
			{Name: "c", Command: []string{"x"}, Wave: 7},
			{Name: "a1", Command: []string{"x"}},
			{Name: "a2", Command: []string{"x"}, Image: "tools:2", Timeout: "1h30m", BackoffLimit: ptr(5), Rerun: "once"},
			{Name: "b", Command: []string{"x"}, Wave: 3},
		},
	})
	require.Empty(t, p.List)
	res := pod.Resources{
		Requests: &pod.Quantities{CPU: "100m", Memory: "128Mi"},
		Limits:   &pod.Quantities{CPU: "1", Memory: "256Mi"},
	}
	def := func(name, key string, wave int) jobs.Planned {
		return jobs.Planned{
			Name: name, Key: key, Command: []string{"x"}, Wave: wave, Rerun: "onChange",
			Timeout: 10 * time.Minute, BackoffLimit: 2, Resources: res,
		}
	}
	a2 := def("a2", "preDeploy[2].name", 0)
	a2.Image, a2.Timeout, a2.BackoffLimit, a2.Rerun = pulumi.String("tools:2"), 90*time.Minute, 5, "once"
	a2.TimeoutSet, a2.BackoffLimitSet = true, true
	assert.Equal(t, []jobs.Wave{
		{Number: 0, Jobs: []jobs.Planned{def("a1", "preDeploy[1].name", 0), a2}},
		{Number: 3, Jobs: []jobs.Planned{def("b", "preDeploy[3].name", 3)}},
		{Number: 7, Jobs: []jobs.Planned{def("c", "preDeploy[0].name", 7)}},
	}, waves)

	assert.Empty(t, jobs.Plan(p, "jobs", "x", vocab.Stack{Name: "dev"}, nil))
	assert.Empty(t, p.List)
}

func TestReruns(t *testing.T) {
	assert.Equal(t, []string{"onChange", "onRelease", "once"}, jobs.Reruns())
}

// TestManifestRefusals: a job's manifest must hold a batch/v1 Job, whose
// name the job takes when it has none of its own.
func TestManifestRefusals(t *testing.T) {
	dir := t.TempDir()
	job := func(apiVersion, name string) string {
		return "apiVersion: " + apiVersion + "\nkind: Job\nmetadata:\n  name: " + name + "\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n" +
			"      containers:\n        - name: m\n          image: ghcr.io/acme/tools:1.0.0\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "beta.yaml"), []byte(job("batch/v1beta1", "migrate")), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nameless.yaml"), []byte(job("batch/v1", `""`)), 0o644))
	for _, c := range []struct {
		file string
		want []check.Problem
	}{
		{"beta.yaml", []check.Problem{{Key: "preDeploy[0].manifest", Message: `Job/migrate (beta.yaml): the Job's apiVersion is "batch/v1beta1"; use batch/v1`}}},
		{"nameless.yaml", []check.Problem{{Key: "preDeploy[0].name", Message: "required: nameless.yaml has no metadata.name; set name here or in the file"}}},
	} {
		p := &check.Problems{}
		jobs.Plan(p, "preDeploy", "shop-pre-deploy", vocab.Stack{Name: "dev", Dir: dir}, &jobs.Args{
			Namespace: pulumi.String("shop"), Image: pulumi.String("ghcr.io/acme/shop:1.0.0"),
			Jobs: []jobs.Job{{Manifest: c.file}},
		})
		assert.Equal(t, c.want, p.List, c.file)
	}
}
