package release_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/deletehook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// URNs of the Flux-style release below.
const (
	fluxPrefix     = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release"
	fluxMigration  = fluxPrefix + "$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::my-app-pre-deploy-db-migration"
	fluxDeployment = fluxPrefix + "$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::my-app-my-app/my-app"
	fluxService    = fluxPrefix + "$pulumi-jobs:index:AppPhase$kubernetes:core/v1:Service::my-app-my-app/my-app"
	fluxIngress    = fluxPrefix + "$pulumi-jobs:index:AppPhase$kubernetes:networking.k8s.io/v1:Ingress::my-app-my-app/my-app"
	fluxSmoke      = fluxPrefix + "$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::my-app-post-deploy-smoke"
)

// planned is a planned Job as the tests compare it: wave, name, re-run policy.
type planned struct {
	wave        int
	name, rerun string
}

// flat lists the Jobs of waves in order.
func flat(waves []jobs.Wave) []planned {
	var out []planned
	for _, w := range waves {
		for _, j := range w.Jobs {
			out = append(out, planned{w.Number, j.Name, j.Rerun})
		}
	}
	return out
}

// fluxArgs is the Flux seed's layout, released with a few lines of args.
func fluxArgs() *release.Args {
	return &release.Args{
		Namespace:  pulumi.String("my-app"),
		Image:      pulumi.String("ghcr.io/org/my-app:v1.0.0"),
		App:        release.App{Name: "my-app", Manifests: "../manifest/testdata/flux/deploy"},
		PreDeploy:  []jobs.Job{{Manifest: "../manifest/testdata/flux/pre-deploy/migration.job.yaml"}},
		PostDeploy: []jobs.Job{{Name: "smoke", Command: []string{"/app/smoke"}}},
	}
}

func TestAppFromManifests(t *testing.T) {
	regs := runProgram(t, "dev", newRelease("my-app", fluxArgs()))

	for _, urn := range []string{fluxDeployment, fluxService, fluxIngress} {
		assert.Equal(t, []string{fluxMigration}, regs.get(t, urn).RegisterRPC.GetDependencies(), "%s waits for the migration", urn)
	}
	assert.ElementsMatch(t, []string{fluxDeployment, fluxService, fluxIngress, fluxPrefix + "$kubernetes:core/v1:Namespace::my-app"},
		regs.get(t, fluxSmoke).RegisterRPC.GetDependencies())

	dep := regs.get(t, fluxDeployment).Inputs
	assert.Equal(t, "my-app", prop(t, dep, "metadata.namespace").StringValue(), "the release's namespace")
	assert.Equal(t, "ghcr.io/org/my-app:v1.0.0", prop(t, dep, "spec.template.spec.containers[0].image").StringValue(), "the release's image")
	assert.True(t, prop(t, dep, "spec.template.spec.securityContext.runAsNonRoot").BoolValue(), "restricted filled in")

	for _, urn := range []string{fluxDeployment, fluxService, fluxIngress, fluxMigration, fluxSmoke} {
		assert.Equal(t, "4.25.0", regs.get(t, urn).RegisterRPC.GetVersion(),
			"%s names the provider's version, as the SDK's typed constructors do: an unversioned default provider would be deleted by the next up", urn)
	}

	job := regs.get(t, fluxMigration).Inputs
	assert.False(t, prop(t, job, "metadata").ObjectValue().HasValue("name"), "the Job is auto-named")
	assert.Equal(t, "ghcr.io/org/my-app:v1.0.0", prop(t, job, "spec.template.spec.containers[0].image").StringValue())
	assert.Equal(t, `./migrate up && echo migrated`, prop(t, job, "spec.template.spec.containers[0].command[2]").StringValue(), "the file's command, unchanged")
	assert.Equal(t, "Never", prop(t, job, "spec.template.spec.restartPolicy").StringValue())
	assert.Equal(t, 1.0, prop(t, job, "spec.backoffLimit").NumberValue(), "the file's backoffLimit stands")
	assert.Equal(t, 600.0, prop(t, job, "spec.activeDeadlineSeconds").NumberValue())
	assert.Equal(t, "true", prop(t, job, "metadata.annotations").ObjectValue()["pulumi.com/replaceUnready"].StringValue())
	assert.False(t, prop(t, job, "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation").BoolValue())
}

// TestKeptObjects: an object the files ask to keep (Helm's resource-policy
// keep here) is retained on delete; the others are not.
func TestKeptObjects(t *testing.T) {
	args := fluxArgs()
	args.App.Manifests = "../manifest/testdata/keep"
	regs := runProgram(t, "dev", newRelease("my-app", args))
	const app = fluxPrefix + "$pulumi-jobs:index:AppPhase$kubernetes:core/v1:"
	assert.True(t, regs.get(t, app+"PersistentVolumeClaim::my-app-my-app/data").RegisterRPC.GetRetainOnDelete(), "the claim outlives the release")
	assert.False(t, regs.get(t, app+"ConfigMap::my-app-my-app/settings").RegisterRPC.GetRetainOnDelete())
	assert.Equal(t, []string{fluxMigration}, regs.get(t, app+"PersistentVolumeClaim::my-app-my-app/data").RegisterRPC.GetDependencies(),
		"a kept object still waits for the pre-deploy Jobs")
	assert.True(t, regs.get(t, fluxPrefix+"$kubernetes:core/v1:Namespace::my-app").RegisterRPC.GetRetainOnDelete(),
		"the namespace the release creates is kept too: deleting it would delete the claim")

	p := &check.Problems{}
	plan := release.NewPlan(p, "my-app", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, args)
	require.Empty(t, p.List)
	assert.Equal(t, []string{"image ghcr.io/org/my-app:v1.0.0 matches no container of app.manifests by repository, so the files' own images stand", `PersistentVolumeClaim/data (../manifest/testdata/keep/data.yaml) (helm.sh/resource-policy: keep) ask to be kept, ` +
		`so the namespace "my-app" that this release creates is kept on destroy too (deleting it would delete them); delete it yourself once they are no longer needed`},
		plan.Warnings)

	// Without kept objects the namespace goes with the release.
	regs = runProgram(t, "dev", newRelease("my-app", fluxArgs()))
	assert.False(t, regs.get(t, fluxPrefix+"$kubernetes:core/v1:Namespace::my-app").RegisterRPC.GetRetainOnDelete())
}

// TestArgoCDHooks: an Argo CD user's app directory, hooks included, is the
// app: PreSync hooks are pre-deploy waves by sync-wave (-1 → 0, 5 → 1), the
// PostSync smoke test (generateName'd) post-deploy, the SyncFail hook a
// warning; only the Service is an app object.
func TestArgoCDHooks(t *testing.T) {
	p := &check.Problems{}
	args := fluxArgs()
	args.App.Manifests = "../manifest/testdata/hooks/argo"
	args.PreDeploy, args.PostDeploy = nil, nil
	plan := release.NewPlan(p, "my-app", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, args)
	require.Empty(t, p.List)

	var app []string
	for _, o := range plan.App.Objects {
		app = append(app, o.String())
	}
	assert.Equal(t, []string{"Service/my-app (../manifest/testdata/hooks/argo/service.yaml)"}, app)
	assert.Equal(t, []planned{{0, "migrate", "onChange"}, {1, "seed", "onChange"}}, flat(plan.PreDeploy))
	assert.Equal(t, []planned{{0, "smoke-test", "onChange"}}, flat(plan.PostDeploy), "the generateName, without its dash")
	require.Len(t, plan.PreHooks.Objects, 1)
	hook := plan.PreHooks.Objects[0].Obj["metadata"].(map[string]any)
	assert.Equal(t, "migrate-settings", hook["name"])
	assert.Equal(t, "my-app", hook["namespace"])
	assert.Equal(t, map[string]any{"pulumi-jobs/hook": "argocd: PreSync", "pulumi-jobs/owner": "pulumi-jobs/dev/my-app"}, hook["annotations"],
		"Argo CD's annotations replaced, the release's mark added")
	smoke := plan.PostDeploy[0].Jobs[0].Object["metadata"].(map[string]any)
	assert.NotContains(t, smoke, "generateName", "our Jobs are auto-named")
	assert.Equal(t, []string{
		"Argo CD SyncFail hook Job/notify-failure (../manifest/testdata/hooks/argo/notify.yaml) is not run: pulumi-jobs runs PreSync and PostSync hooks only",
	}, plan.Warnings)

	// Registered: the Service waits for the last PreSync wave, the smoke
	// test for the Service, the migration for its ConfigMap.
	regs := runProgram(t, "dev", newRelease("my-app", args))
	const jobs = fluxPrefix + "$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::"
	service := fluxPrefix + "$pulumi-jobs:index:AppPhase$kubernetes:core/v1:Service::my-app-my-app/my-app"
	settings := fluxPrefix + "$kubernetes:core/v1:ConfigMap::my-app-hook-my-app/migrate-settings"
	assert.ElementsMatch(t, []string{jobs + "my-app-pre-deploy-migrate", jobs + "my-app-pre-deploy-seed"}, regs.get(t, service).RegisterRPC.GetDependencies())
	assert.Contains(t, regs.get(t, jobs+"my-app-post-deploy-smoke-test").RegisterRPC.GetDependencies(), service)
	assert.Contains(t, regs.get(t, jobs+"my-app-pre-deploy-migrate").RegisterRPC.GetDependencies(), settings)
	aliases := regs.get(t, settings).RegisterRPC.GetAliases()
	require.Len(t, aliases, 1)
	assert.Equal(t, "my-app-pre-deploy-my-app/migrate-settings", aliases[0].GetSpec().GetName(), "the name before 0.3, from the hook's phase")
}

// TestCustomResourcesAfterTheirDefinitions: the files' objects wait for
// their CustomResourceDefinitions (and, like those, for the pre-deploy
// Jobs), whatever the files' order.
func TestCustomResourcesAfterTheirDefinitions(t *testing.T) {
	args := fluxArgs()
	args.App.Manifests = "../manifest/testdata/crd"
	regs := runProgram(t, "dev", newRelease("my-app", args))
	const app = fluxPrefix + "$pulumi-jobs:index:AppPhase$kubernetes:"
	crd := app + "apiextensions.k8s.io/v1:CustomResourceDefinition::my-app-backups.example.com"
	assert.Equal(t, []string{fluxMigration}, regs.get(t, crd).RegisterRPC.GetDependencies())
	for _, urn := range []string{app + "example.com/v1:Backup::my-app-my-app/nightly", app + "core/v1:ConfigMap::my-app-my-app/settings"} {
		assert.ElementsMatch(t, []string{fluxMigration, crd}, regs.get(t, urn).RegisterRPC.GetDependencies(), urn)
	}
}

func TestAppFromFilesRefusals(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	nsDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(nsDir, "namespace.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: my-app\n"), 0o644))
	for _, c := range []struct {
		name   string
		mutate func(a *release.Args)
		key    string
		msg    string
	}{
		{"replicas with files", func(a *release.Args) { a.App.Replicas = ptr(2) }, "app.replicas", "has no effect with the app from files (app.manifests or app.chart); set it in the files, or remove it"},
		{"missing directory", func(a *release.Args) { a.App.Manifests = "nowhere" }, "app.manifests", "nowhere is not a file or directory (stat nowhere: no such file or directory); give a YAML file, a directory of YAML files or a directory with a kustomization.yaml, relative to the project directory " + wd},
		{"manifest and command", func(a *release.Args) { a.PreDeploy[0].Command = []string{"x"} }, "preDeploy[0].command", "cannot be set with manifest: the Job's command comes from ../manifest/testdata/flux/pre-deploy/migration.job.yaml; set it there, or remove manifest"},
		{"manifest not a Job", func(a *release.Args) { a.PreDeploy[0].Manifest = "../manifest/testdata/flux/deploy/service.yaml" }, "preDeploy[0].manifest", "../manifest/testdata/flux/deploy/service.yaml must hold exactly one Job (batch/v1); it holds Service/my-app (../manifest/testdata/flux/deploy/service.yaml)"},
		{"two Argo CD hooks of one generateName", func(a *release.Args) {
			a.App.Manifests = "../manifest/testdata/hooks/argo-dup"
			a.PostDeploy = nil
		}, "app.manifests",
			`two hooks of ../manifest/testdata/hooks/argo-dup/smoke.yaml run as a Job named "smoke"; job names must be unique: rename one`},
		{"Argo CD hook named as a job of the args", func(a *release.Args) {
			a.App.Manifests = "../manifest/testdata/hooks/argo"
			a.PostDeploy = []jobs.Job{{Name: "smoke-test", Command: []string{"/app/smoke"}}}
		}, "app.manifests", `a hook of ../manifest/testdata/hooks/argo/smoke.yaml runs as a Job named "smoke-test", as postDeploy[0] does; job names must be unique: rename one`},
		{"Argo CD hook named as a job of the other phase", func(a *release.Args) {
			a.App.Manifests = "../manifest/testdata/hooks/argo"
			a.PostDeploy = nil
			a.PreDeploy = []jobs.Job{{Name: "smoke-test", Command: []string{"/app/smoke"}}}
		}, "app.manifests", `a hook of ../manifest/testdata/hooks/argo/smoke.yaml runs as a Job named "smoke-test", as preDeploy[0] does; job names must be unique: rename one`},
		{"Helm hook among the app's objects", func(a *release.Args) { a.App.Manifests = "../manifest/testdata/hooks/helm" }, "app.manifests",
			"Job/smoke (../manifest/testdata/hooks/helm/smoke.yaml) is a Helm post-upgrade hook; release the chart with app.chart (its hooks run as phases), or list the file as preDeploy or postDeploy with manifest: <its file>"},
		{"output namespace", func(a *release.Args) { a.Namespace = pulumi.String("my-app").ToStringOutput() }, "namespace", "must be a plain string when the app comes from files: it is written into every object before the engine runs"},
		{"output image", func(a *release.Args) { a.Image = pulumi.String("ghcr.io/org/my-app:v1.0.1").ToStringOutput() }, "image",
			"must be a plain string when the app comes from files: it is written into the files' containers before the engine runs"},
		{"manifests and chart", func(a *release.Args) { a.App.Chart = &release.Chart{Path: "../chart/testdata/shop"} }, "app.manifests",
			"set either app.manifests or app.chart, not both"},
		{"a Namespace among the files", func(a *release.Args) { a.App.Manifests = nsDir }, "app.manifests",
			"Namespace/my-app (" + nsDir + "/namespace.yaml): the release's namespace is \"my-app\" (namespace, createNamespace); remove the Namespace from the files"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := fluxArgs()
			c.mutate(args)
			p := &check.Problems{}
			release.NewPlan(p, "my-app", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, args)
			assert.Equal(t, []check.Problem{{Key: c.key, Message: c.msg}}, p.List)
		})
	}
}

func TestAppFromChart(t *testing.T) {
	p := &check.Problems{}
	plan := release.NewPlan(p, "shop", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, &release.Args{
		Namespace: pulumi.String("shop"),
		Image:     pulumi.String("ghcr.io/acme/shop:2.0.0"),
		ReleaseID: pulumi.String("build-7"),
		App:       release.App{Name: "shop", Chart: &release.Chart{Path: "../chart/testdata/shop", Tests: true}},
	})

	require.Empty(t, p.List)
	assert.Empty(t, plan.App.Objects, "a chart is rendered once its release has asked its cluster")
	require.NoError(t, plan.RenderChart(nil, nil, ""))

	assert.NotEmpty(t, plan.App.Objects, "the chart's non-hook objects are the app")
	// An install: weight -5 is pre-deploy wave 0 (the pre-upgrade backup
	// does not run on an install); test hooks join the post-deploy phase
	// when asked, after its other hooks.
	assert.Equal(t, []planned{{0, "shop-migrate", "onUpgrade"}}, flat(plan.PreDeploy))
	assert.Equal(t, []planned{{0, "shop-smoke-test", "onUpgrade"}, {1, "test-connection", "onUpgrade"}}, flat(plan.PostDeploy),
		"the test hook (weight 0) after the post-upgrade smoke test (weight 5), as helm test runs after the release")
	for _, w := range plan.PostDeploy {
		for _, j := range w.Jobs {
			if j.Name == "test-connection" {
				assert.Equal(t, map[string]any{"pulumi-jobs/hook": "test"}, j.Object["metadata"].(map[string]any)["annotations"],
					"the helm.sh/hook annotations of a hook we run are replaced (the provider would warn that it does not run it)")
			}
		}
	}
	assert.Equal(t, map[string]any{"pulumi-jobs/hook": "pre-install,pre-upgrade", "pulumi-jobs/owner": "pulumi-jobs/dev/shop"},
		plan.PreHooks.Objects[0].Obj["metadata"].(map[string]any)["annotations"])
	assert.Equal(t, []bool{false, true}, plan.PreHooks.Once, "the migration ConfigMap (weight -10) follows the chart; the pre-install Secret (weight 0) is created once")
	// The post-delete cleanup runs on destroy, transformed as the phases'
	// hooks are (Pod Security fields filled in, the owner mark, our
	// backoffLimit), deleted once it succeeded (hook-succeeded).
	assert.Equal(t, release.DeleteEvent{Event: "pre-delete"}, plan.PreDelete)
	assert.Equal(t, release.DeleteEvent{Event: "post-delete", Hooks: []deletehook.Hook{{
		Kind: "Job", Name: "shop-cleanup", Source: "shop/templates/cleanup-job.yaml", DeleteOnSuccess: true,
		Manifest: `{"apiVersion":"batch/v1","kind":"Job","metadata":{"annotations":{"pulumi-jobs/hook":"post-delete","pulumi-jobs/owner":"pulumi-jobs/dev/shop"}},` +
			`"spec":{"backoffLimit":2,"template":{"spec":{"containers":[{"command":["shop","cleanup"],"image":"ghcr.io/org/shop:v1.0.0","name":"cleanup",` +
			`"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}],"restartPolicy":"Never",` +
			`"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}}}}}}`,
	}}}, plan.PostDelete)
	assert.Equal(t, []string{"post-delete"}, plan.Record().DeleteEvents)
	assert.Equal(t, []string{
		"chart shop is rendered with Helm's client-side capabilities (Kubernetes v1.36.3 and the API versions Helm knows), not the cluster's: objects it gates on an API the cluster serves (a CRD's) are left out here; up reads the cluster's",
		"image ghcr.io/acme/shop:2.0.0 matches no container of app.chart by repository, so the files' own images stand",
	}, plan.Warnings)
}
