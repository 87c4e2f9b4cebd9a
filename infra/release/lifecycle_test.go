package release_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
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
	// imported is the live Job a kept one is (jobs.Planned.Import).
	imported string
}

func hookJobs(waves []jobs.Wave) []hookJob {
	var out []hookJob
	for _, w := range waves {
		for _, j := range w.Jobs {
			out = append(out, hookJob{w.Number, j.Name, j.Trigger, j.Keep, j.Import})
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

// apiServer answers the discovery a render with a cluster reads for
// .Capabilities (/version says v1.36.3; /api and /apis, in the legacy JSON,
// list the core v1 group only) and the requests a chart's lookup of the
// Secret ledger/ledger-db makes: the discovery of v1, and the Secret, whose
// password is password (none when empty); and the list of the release's
// hook Jobs, runs, each "<job name>=<cluster name>" with the ledger
// release's owner mark.
func apiServer(t *testing.T, password string, runs ...string) *rest.Config {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/apis/batch/v1/namespaces/ledger/jobs":
			assert.Equal(t, "app.kubernetes.io/part-of=ledger,pulumi-jobs/job", r.URL.Query().Get("labelSelector"))
			var items []string
			for _, run := range runs {
				job, name, _ := strings.Cut(run, "=")
				items = append(items, fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"ledger","labels":{"pulumi-jobs/job":%q},"annotations":{"pulumi-jobs/owner":"pulumi-jobs/dev/ledger"}}}`, name, job))
			}
			fmt.Fprintf(w, `{"kind":"JobList","apiVersion":"batch/v1","items":[%s]}`, strings.Join(items, ","))
		case "/version":
			fmt.Fprint(w, `{"major":"1","minor":"36","gitVersion":"v1.36.3","platform":"linux/amd64"}`)
		case "/api":
			fmt.Fprint(w, `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"10.0.0.1:6443"}]}`)
		case "/apis":
			fmt.Fprint(w, `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`)
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
		{0, "ledger-migrate", "1", false, ""},
		{1, "ledger-seed", "1", false, ""},
		{2, refreshViews, "1", false, ""},
	}, hookJobs(install.PostDeploy))
	installed := install.Record()
	require.NotNil(t, installed)
	assert.Equal(t, 1, installed.Revision)
	assert.Len(t, installed.Digest, 64)
	assert.Equal(t, map[string]int{"Job/ledger-migrate": 1, "Job/ledger-seed": 1, "Job/" + refreshViews: 1}, installed.Hooks)

	// The same release again, now an upgrade from the record: nothing runs;
	// every hook that ran is kept as it ran, as the live Job the cluster
	// holds (imported should the state lack it), in the phase an upgrade
	// puts it (the migration moves before the app without a run); the
	// backup, which never ran, is not there.
	// The cluster now holds the password the install created: lookup keeps it.
	runs := []string{"ledger-migrate=ledger-hook-ledger-migrate-1a2b3c4d", "ledger-seed=ledger-hook-ledger-seed-5e6f7a8b",
		refreshViews + "=ledger-hook-ledger-refresh-materialized-views-5a012c9c-0c1d2e3f"}
	cluster := apiServer(t, generated, runs...)
	again := ledgerPlan(t, "ghcr.io/acme/ledger:1.0.0")
	require.NoError(t, again.RenderChart(installed, cluster, ""))
	assert.Equal(t, generated, password(t, again), "lookup keeps the password")
	assert.Equal(t, []hookJob{{0, "ledger-migrate", "1", true, "ledger/ledger-hook-ledger-migrate-1a2b3c4d"}}, hookJobs(again.PreDeploy))
	assert.Equal(t, []hookJob{
		{0, "ledger-seed", "1", true, "ledger/ledger-hook-ledger-seed-5e6f7a8b"},
		{1, refreshViews, "1", true, "ledger/ledger-hook-ledger-refresh-materialized-views-5a012c9c-0c1d2e3f"},
	}, hookJobs(again.PostDeploy))
	assert.Equal(t, installed, again.Record(), "an up that changes nothing leaves the record as it was")
	assert.True(t, again.App.Unchanged, "the chart's objects keep what the install applied")

	// The seed's Job is gone (its TTL, a person, a refresh): the record says
	// it ran, so it is not registered at all, and nothing runs it again.
	gone := ledgerPlan(t, "ghcr.io/acme/ledger:1.0.0")
	require.NoError(t, gone.RenderChart(installed, apiServer(t, generated, runs[0], runs[2]), ""))
	assert.Equal(t, []hookJob{
		{0, refreshViews, "1", true, "ledger/ledger-hook-ledger-refresh-materialized-views-5a012c9c-0c1d2e3f"},
	}, hookJobs(gone.PostDeploy))
	assert.Equal(t, []release.RanHook{
		{Key: "Job/ledger-migrate", Job: "ledger-migrate", Revision: 1},
		{Key: "Job/" + refreshViews, Job: refreshViews, Revision: 1},
		{Key: "Job/ledger-seed", Job: "ledger-seed", Revision: 1, Gone: true},
	}, gone.Ran)
	assert.Equal(t, installed, gone.Record(), "the record keeps the seed's run")

	// Without lookup the password is new on every render, but the release's
	// inputs (chart, values, image) are the same: not an upgrade, and its
	// objects keep what was applied.
	blind := ledgerPlan(t, "ghcr.io/acme/ledger:1.0.0")
	require.NoError(t, blind.RenderChart(installed, nil, ""))
	assert.Equal(t, 1, blind.Record().Revision)
	assert.True(t, blind.App.Unchanged)

	// An image bump: revision 2. The backup (weight -5) then the migration
	// (0) before the app, the 60-character hook after it; the seed kept.
	bump := ledgerPlan(t, "ghcr.io/acme/ledger:1.1.0")
	require.NoError(t, bump.RenderChart(installed, cluster, ""))
	assert.Equal(t, generated, password(t, bump), "lookup keeps the password")
	assert.Equal(t, []hookJob{
		{0, "ledger-backup", "2", false, ""},
		{1, "ledger-migrate", "2", false, ""},
	}, hookJobs(bump.PreDeploy))
	assert.Equal(t, []hookJob{
		{0, "ledger-seed", "1", true, "ledger/ledger-hook-ledger-seed-5e6f7a8b"},
		{1, refreshViews, "2", false, ""},
	}, hookJobs(bump.PostDeploy))
	assert.False(t, bump.App.Unchanged)
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

// TestChartOnChange: with rerun onChange, an upgrade runs a hook that ran
// only when its own spec differs from the one the record holds of its last
// run (a record of 0.3, without specs, counts as the same); a hook that
// never ran runs.
func TestChartOnChange(t *testing.T) {
	p := &check.Problems{}
	plan := release.NewPlan(p, "ledger", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, &release.Args{
		Namespace: pulumi.String("ledger"),
		Image:     pulumi.String("ghcr.io/acme/ledger:1.1.0"),
		App:       release.App{Name: "ledger", Chart: &release.Chart{Path: "../chart/testdata/ledger", Rerun: "onChange"}},
	})

	require.Empty(t, p.List)
	rec := &release.Record{Revision: 1, Digest: "before",
		Hooks: map[string]int{"Job/ledger-migrate": 1, "Job/ledger-seed": 1},
		Specs: map[string]string{"Job/ledger-migrate": "0123456789abcdef"}}
	require.NoError(t, plan.RenderChart(rec, apiServer(t, "kept", "ledger-seed=ledger-hook-ledger-seed-5e6f7a8b"), ""))
	assert.Equal(t, []hookJob{{0, "ledger-backup", "2", false, ""}, {1, "ledger-migrate", "2", false, ""}}, hookJobs(plan.PreDeploy))
	assert.Equal(t, []hookJob{{0, "ledger-seed", "1", true, "ledger/ledger-hook-ledger-seed-5e6f7a8b"}, {1, refreshViews, "2", false, ""}}, hookJobs(plan.PostDeploy))
	next := plan.Record()
	assert.Equal(t, map[string]int{"Job/ledger-backup": 2, "Job/ledger-migrate": 2, "Job/ledger-seed": 1, "Job/" + refreshViews: 2}, next.Hooks)
	assert.NotEqual(t, "0123456789abcdef", next.Specs["Job/ledger-migrate"], "the migration's spec as it ran now")
	assert.Len(t, next.Specs["Job/ledger-seed"], 16, "the seed's spec, taken as today's")

	// The same release again: every spec is as it ran, nothing runs.
	again := release.NewPlan(p, "ledger", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, plan.Args)
	rec2 := *next
	rec2.Digest = "changed"
	require.NoError(t, again.RenderChart(&rec2, apiServer(t, "kept"), ""))
	assert.Empty(t, hookJobs(again.PreDeploy), "no spec changed: nothing runs, and the Jobs that are gone stay gone")
	assert.Empty(t, hookJobs(again.PostDeploy))

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
	assert.Equal(t, "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:Namespace::ledger", rec.RegisterRPC.GetDeletedWith(),
		"destroy removes the record with the namespace, after everything else, not first")
	ann := prop(t, rec.Inputs, "metadata.annotations").ObjectValue()
	assert.Equal(t, "1", ann["pulumi-jobs/revision"].StringValue())
	assert.Equal(t, `{"Job/ledger-migrate":1,"Job/ledger-refresh-materialized-views-after-every-schema-changes":1,"Job/ledger-seed":1}`,
		ann["pulumi-jobs/hooks"].StringValue())
	assert.Equal(t, "pulumi-jobs.chart.ledger", prop(t, rec.Inputs, "metadata.name").StringValue())

	// The cluster now holds the record and the password the install created.
	secret := secretOf(t, install)
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
		config:  apiServer(t, string(generated), "ledger-migrate=ledger-hook-ledger-migrate-1a2b3c4d"),
		objects: map[ownership.Ref]*ownership.Live{recordRef: live},
	})))
	m = again.get(t, migrate)
	assert.Equal(t, pre, m.RegisterRPC.GetParent(), "on an upgrade the migration is in the pre-deploy phase: the same resource, no run")
	assert.Equal(t, "1", m.RegisterRPC.GetReplacementTrigger().GetStringValue(), "the trigger it ran with")
	assert.Equal(t, []string{"spec", "metadata"}, m.RegisterRPC.GetIgnoreChanges())
	assert.Equal(t, "ledger/ledger-hook-ledger-migrate-1a2b3c4d", m.RegisterRPC.GetImportId(), "a state without it imports the live run")
	_, registered = again.byURN[seed]
	assert.False(t, registered, "the seed's Job is gone: it ran (the record says so), it is not created again")
	_, registered = again.byURN[backup]
	assert.False(t, registered, "nothing changed: the backup does not run")
	assert.Equal(t, []string{"data", "stringData", "binaryData", "spec", "rules", "subjects", "roleRef", "webhooks", "aggregationRule", "metadata"},
		secretOf(t, again).RegisterRPC.GetIgnoreChanges(), "an unchanged chart's objects keep what was applied")
	assert.Empty(t, secretOf(t, install).RegisterRPC.GetIgnoreChanges())
}

// secretOf is the ledger-db Secret as a run of the ledger chart registered it.
func secretOf(t *testing.T, run registered) pulumitest.Registration {
	t.Helper()
	return run.get(t, "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:core/v1:Secret::ledger-ledger/ledger-db")
}
