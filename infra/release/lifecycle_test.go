package release_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// hookJob is what a test compares of a chart's hook Job as a release plans it.
type hookJob struct {
	wave          int
	name, trigger string
	keep          bool
}

func hookJobs(waves []jobs.Wave) []hookJob {
	var out []hookJob
	for _, w := range waves {
		for _, j := range w.Jobs {
			out = append(out, hookJob{w.Number, j.Name, j.Trigger, j.Keep})
		}
	}
	return out
}

// ledgerPlan checks the args of the ledger fixture (a chart that bundles its
// database) released with image.
func ledgerPlan(t *testing.T, image string) release.Plan {
	t.Helper()
	p := &check.Problems{}
	plan := release.NewPlan(p, "ledger", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, &release.Args{
		Namespace: pulumi.String("ledger"),
		Image:     pulumi.String(image),
		App:       release.App{Name: "ledger", Chart: &release.Chart{Path: "../chart/testdata/ledger"}},
	})

	require.Empty(t, p.List)
	return plan
}

// apiServer answers the two requests a chart's lookup of the Secret
// ledger/ledger-db makes: the discovery of v1, and the Secret, whose
// password is password (none when empty).
func apiServer(t *testing.T, password string) *rest.Config {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1":
			fmt.Fprint(w, `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"secrets","singularName":"secret","namespaced":true,"kind":"Secret","verbs":["get","list"]}]}`)
		case "/api/v1/namespaces/ledger/secrets/ledger-db":
			if password == "" {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
				return
			}
			fmt.Fprintf(w, `{"kind":"Secret","apiVersion":"v1","metadata":{"name":"ledger-db","namespace":"ledger"},"data":{"password":%q}}`,
				base64.StdEncoding.EncodeToString([]byte(password)))
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}
}

// password is the ledger-db Secret's password as a plan renders it.
func password(t *testing.T, plan release.Plan) string {
	t.Helper()
	for _, o := range plan.App.Objects {
		if o.Obj["kind"] == "Secret" {
			b, err := base64.StdEncoding.DecodeString(o.Obj["data"].(map[string]any)["password"].(string))
			require.NoError(t, err)
			return string(b)
		}
	}
	t.Fatal("no Secret among the app's objects")
	return ""
}

const refreshViews = "ledger-refresh-materialized-views-after-every-schema-changes"

// TestChartLifecycle pins which hook runs where, on an install, on an up
// that changes nothing and on an image bump, as Helm runs them, once each.
func TestChartLifecycle(t *testing.T) {
	// Install: no record. The post-install,pre-upgrade migration runs after
	// the app (the database exists then), with the seed and the 60-character
	// hook; the pre-upgrade backup does not run at all.
	install := ledgerPlan(t, "ghcr.io/acme/ledger:1.0.0")
	require.NoError(t, install.RenderChart(nil, apiServer(t, ""), ""))
	generated := password(t, install)
	assert.Len(t, generated, 24, "no Secret yet: lookup finds none, the chart generates a password")
	assert.Empty(t, hookJobs(install.PreDeploy))
	assert.Equal(t, []hookJob{
		{0, "ledger-migrate", "1", false},
		{1, "ledger-seed", "1", false},
		{2, refreshViews, "1", false},
	}, hookJobs(install.PostDeploy))
	installed := install.Record()
	require.NotNil(t, installed)
	assert.Equal(t, 1, installed.Revision)
	assert.Len(t, installed.Digest, 64)
	assert.Equal(t, map[string]int{"Job/ledger-migrate": 1, "Job/ledger-seed": 1, "Job/" + refreshViews: 1}, installed.Hooks)

	// The same release again, now an upgrade from the record: nothing runs;
	// every hook that ran is kept as it ran, in the phase an upgrade puts
	// it (the migration moves before the app without a run); the backup,
	// which never ran, is not there.
	// The cluster now holds the password the install created: lookup keeps it.
	cluster := apiServer(t, generated)
	again := ledgerPlan(t, "ghcr.io/acme/ledger:1.0.0")
	require.NoError(t, again.RenderChart(installed, cluster, ""))
	assert.Equal(t, generated, password(t, again), "lookup keeps the password")
	assert.Equal(t, []hookJob{{0, "ledger-migrate", "1", true}}, hookJobs(again.PreDeploy))
	assert.Equal(t, []hookJob{
		{0, "ledger-seed", "1", true},
		{1, refreshViews, "1", true},
	}, hookJobs(again.PostDeploy))
	assert.Equal(t, installed, again.Record(), "an up that changes nothing leaves the record as it was")

	// Without lookup the password is new on every render, and so is the
	// release: the same up would run the upgrade hooks.
	blind := ledgerPlan(t, "ghcr.io/acme/ledger:1.0.0")
	require.NoError(t, blind.RenderChart(installed, nil, ""))
	assert.Equal(t, 2, blind.Record().Revision)

	// An image bump: revision 2. The backup (weight -5) then the migration
	// (0) before the app, the 60-character hook after it; the seed kept.
	bump := ledgerPlan(t, "ghcr.io/acme/ledger:1.1.0")
	require.NoError(t, bump.RenderChart(installed, cluster, ""))
	assert.Equal(t, generated, password(t, bump), "lookup keeps the password")
	assert.Equal(t, []hookJob{
		{0, "ledger-backup", "2", false},
		{1, "ledger-migrate", "2", false},
	}, hookJobs(bump.PreDeploy))
	assert.Equal(t, []hookJob{
		{0, "ledger-seed", "1", true},
		{1, refreshViews, "2", false},
	}, hookJobs(bump.PostDeploy))
	upgraded := bump.Record()
	assert.Equal(t, 2, upgraded.Revision)
	assert.NotEqual(t, installed.Digest, upgraded.Digest)
	assert.Equal(t, map[string]int{"Job/ledger-backup": 2, "Job/ledger-migrate": 2, "Job/ledger-seed": 1, "Job/" + refreshViews: 2}, upgraded.Hooks)

	// A release interrupted after the backup leaves the record at revision
	// 1: the next up plans revision 2 again, the same triggers, so what
	// completed does not run twice.
	retry := ledgerPlan(t, "ghcr.io/acme/ledger:1.1.0")
	require.NoError(t, retry.RenderChart(installed, cluster, ""))
	assert.Equal(t, hookJobs(bump.PreDeploy), hookJobs(retry.PreDeploy))
}

// TestChartOnChange: with rerun onChange, a hook of an upgrade is planned
// without a trigger, so only a change of its own spec runs it again.
func TestChartOnChange(t *testing.T) {
	p := &check.Problems{}
	plan := release.NewPlan(p, "ledger", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, &release.Args{
		Namespace: pulumi.String("ledger"),
		Image:     pulumi.String("ghcr.io/acme/ledger:1.1.0"),
		App:       release.App{Name: "ledger", Chart: &release.Chart{Path: "../chart/testdata/ledger", Rerun: "onChange"}},
	})

	require.Empty(t, p.List)
	require.NoError(t, plan.RenderChart(&release.Record{Revision: 1, Digest: "before", Hooks: map[string]int{"Job/ledger-migrate": 1, "Job/ledger-seed": 1}}, apiServer(t, "kept"), ""))
	assert.Equal(t, []hookJob{{0, "ledger-backup", "", false}, {1, "ledger-migrate", "", false}}, hookJobs(plan.PreDeploy))
	assert.Equal(t, []hookJob{{0, "ledger-seed", "", true}, {1, refreshViews, "", false}}, hookJobs(plan.PostDeploy))

	bad := &check.Problems{}
	release.NewPlan(bad, "ledger", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, &release.Args{
		Namespace: pulumi.String("ledger"), Image: pulumi.String("ghcr.io/acme/ledger:1.1.0"),
		App: release.App{Name: "ledger", Chart: &release.Chart{Path: "../chart/testdata/ledger", Rerun: "always"}},
	})

	assert.Equal(t, []check.Problem{{Key: "app.chart.rerun", Message: `"always" is not a rerun policy of a chart's hooks; use onUpgrade (the default: every hook of an upgrade runs once per up that changes the release) or onChange (a hook runs again only when its own spec changes)`}}, bad.List)
}

// TestChartHookNames: a chart's hook Job needs a name a Job can have, and
// the Jobs of its hooks, a hook the install does not run included, and the
// jobs of the args need names of their own.
func TestChartHookNames(t *testing.T) {
	dir := t.TempDir()
	hook := func(events, name string) string {
		return "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: " + name + "\n  annotations:\n    helm.sh/hook: " + events + "\n" +
			"spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: x\n          image: ghcr.io/acme/tools:1.0.0\n"
	}
	for file, text := range map[string]string{
		"Chart.yaml":               "apiVersion: v2\nname: twins\nversion: 0.1.0\n",
		"templates/migrate.yaml":   hook("pre-install", "migrate"),
		"templates/upgrade.yaml":   hook("pre-upgrade", "migrate"),
		"templates/smoke.yaml":     hook("post-install", "smoke"),
		"templates/report.yaml":    hook("post-install", "Report_Data"),
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: twins\n",
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, file)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644))
	}
	p := &check.Problems{}
	plan := release.NewPlan(p, "twins", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, &release.Args{
		Namespace: pulumi.String("twins"), Image: pulumi.String("ghcr.io/acme/twins:1.0.0"),
		App:       release.App{Name: "twins", Chart: &release.Chart{Path: dir}},
		PreDeploy: []jobs.Job{{Name: "smoke", Command: []string{"./smoke"}}},
	})
	require.Empty(t, p.List)

	err := plan.RenderChart(nil, nil, "")
	var refused *check.ArgsError
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, []check.Problem{
		{Key: "app.chart", Message: `hook Job/Report_Data (twins/templates/report.yaml): "Report_Data" cannot name a Job: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{Key: "app.chart", Message: "a hook of twins/templates/smoke.yaml runs as a Job named \"smoke\", as preDeploy[0] does; job names must be unique: rename one"},
		{Key: "app.chart", Message: "a hook of twins/templates/upgrade.yaml runs as a Job named \"migrate\", as a hook of twins/templates/migrate.yaml does; job names must be unique: rename one"},
	}, refused.Problems)
}

// TestChartLookupNeedsACluster: a chart that calls lookup is not rendered
// without its cluster, where lookup would answer nothing and the password
// would differ from the one up keeps.
func TestChartLookupNeedsACluster(t *testing.T) {
	plan := ledgerPlan(t, "ghcr.io/acme/ledger:1.0.0")
	err := plan.RenderChart(nil, nil, "no cluster is configured")
	var refused *check.ArgsError
	require.ErrorAs(t, err, &refused)
	require.Len(t, refused.Problems, 1)
	assert.Equal(t, "app.chart", refused.Problems[0].Key)
	assert.Equal(t, "the chart calls lookup, which reads the release's cluster, and no cluster is configured: nothing is rendered without it "+
		"(its objects would differ from the ones up renders); give the release its cluster (kubeconfig, context, or the stack's kubernetes:kubeconfig)",
		refused.Problems[0].Message)
}

// TestChartRegistrations: what the engine is asked to do for the ledger
// chart's hooks on an install and on the same release again. A hook Job is
// one resource in either phase (its URN has no phase), parented to the
// phase that runs it; it runs when its trigger (the revision) is new, and a
// kept one ignores every change of its spec and metadata. The record is
// written after everything else of the release.
func TestChartRegistrations(t *testing.T) {
	const (
		jobs    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::"
		pre     = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs::ledger-pre-deploy"
		post    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs::ledger-post-deploy"
		migrate = jobs + "ledger-hook-ledger-migrate"
		backup  = jobs + "ledger-hook-ledger-backup"
		seed    = jobs + "ledger-hook-ledger-seed"
		record  = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:ConfigMap::ledger-chart-record"
	)
	args := func(cluster *fakeCluster) *release.Args {
		return &release.Args{
			Namespace: pulumi.String("ledger"), Image: pulumi.String("ghcr.io/acme/ledger:1.0.0"),
			App:     release.App{Name: "ledger", Chart: &release.Chart{Path: "../chart/testdata/ledger"}},
			Cluster: cluster,
		}
	}
	recordRef := ownership.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ledger", Name: "pulumi-jobs.chart.ledger"}

	install := runProgram(t, "dev", newRelease("ledger", args(&fakeCluster{config: apiServer(t, "")})))
	m := install.get(t, migrate)
	assert.Equal(t, post, m.RegisterRPC.GetParent(), "on an install the migration runs after the app")
	assert.Equal(t, "1", m.RegisterRPC.GetReplacementTrigger().GetStringValue())
	assert.Empty(t, m.RegisterRPC.GetIgnoreChanges())
	_, registered := install.byURN[backup]
	assert.False(t, registered, "the upgrade-only backup is not there on an install")
	rec := install.get(t, record)
	assert.Subset(t, rec.RegisterRPC.GetDependencies(), []string{migrate, seed}, "the record is written after the post-deploy hooks")
	ann := prop(t, rec.Inputs, "metadata.annotations").ObjectValue()
	assert.Equal(t, "1", ann["pulumi-jobs/revision"].StringValue())
	assert.Equal(t, `{"Job/ledger-migrate":1,"Job/ledger-refresh-materialized-views-after-every-schema-changes":1,"Job/ledger-seed":1}`,
		ann["pulumi-jobs/hooks"].StringValue())
	assert.Equal(t, "pulumi-jobs.chart.ledger", prop(t, rec.Inputs, "metadata.name").StringValue())

	// The cluster now holds the record and the password the install created.
	secret := install.get(t, "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:core/v1:Secret::ledger-ledger/ledger-db")
	data := secret.Inputs["data"]
	require.True(t, data.IsSecret(), "the password is a secret in state")
	encoded := data.SecretValue().Element.ObjectValue()["password"].StringValue()
	generated, err := base64.StdEncoding.DecodeString(encoded)
	require.NoError(t, err)
	live := &ownership.Live{Annotations: map[string]string{"pulumi-jobs/owner": "pulumi-jobs/dev/ledger"}}
	for k, v := range ann {
		live.Annotations[string(k)] = v.StringValue()
	}
	again := runProgram(t, "dev", newRelease("ledger", args(&fakeCluster{
		config:  apiServer(t, string(generated)),
		objects: map[ownership.Ref]*ownership.Live{recordRef: live},
	})))
	m = again.get(t, migrate)
	assert.Equal(t, pre, m.RegisterRPC.GetParent(), "on an upgrade the migration is in the pre-deploy phase: the same resource, no run")
	assert.Equal(t, "1", m.RegisterRPC.GetReplacementTrigger().GetStringValue(), "the trigger it ran with")
	assert.Equal(t, []string{"spec", "metadata"}, m.RegisterRPC.GetIgnoreChanges())
	assert.Equal(t, "1", again.get(t, seed).RegisterRPC.GetReplacementTrigger().GetStringValue())
	_, registered = again.byURN[backup]
	assert.False(t, registered, "nothing changed: the backup does not run")
}
