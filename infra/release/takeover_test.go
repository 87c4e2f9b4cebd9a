package release_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	helmchart "helm.sh/helm/v3/pkg/chart"
	helmrelease "helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// The URNs of the ledger chart's release "ledger" on stack dev that a take
// over of a Helm release decides about.
const (
	takeoverPre     = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs::ledger-pre-deploy"
	takeoverPost    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs::ledger-post-deploy"
	takeoverJob     = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::"
	takeoverMigrate = takeoverJob + "ledger-hook-ledger-migrate"
	takeoverBackup  = takeoverJob + "ledger-hook-ledger-backup"
	takeoverSeed    = takeoverJob + "ledger-hook-ledger-seed"
	takeoverRefresh = takeoverJob + "ledger-hook-ledger-refresh-materialized-views-5a012c9c"
	takeoverRecord  = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:ConfigMap::ledger-chart-record"
)

// helmRevision is revision rev of a Helm release of the ledger chart, with
// status status, whose hooks named in ran have a last run that succeeded.
type helmRevision struct {
	rev    int
	status helmrelease.Status
	ran    []string
}

// helmManifest is the ledger chart's objects as Helm records them in a
// release's manifest (hooks are kept apart).
const helmManifest = `---
# Source: ledger/templates/db-secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: ledger-db
---
# Source: ledger/templates/db.yaml
apiVersion: v1
kind: Service
metadata:
  name: ledger-db
---
# Source: ledger/templates/app.yaml
apiVersion: v1
kind: Service
metadata:
  name: ledger
---
# Source: ledger/templates/db.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ledger-db
---
# Source: ledger/templates/app.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ledger
`

// helmSecret is the Secret in which Helm's storage driver records r in
// namespace ledger: the release as JSON, gzipped, base64-encoded, under
// data.release (which the API server's JSON base64-encodes once more),
// labelled as Helm labels it.
func helmSecret(t *testing.T, r helmRevision) corev1.Secret {
	t.Helper()
	hooks := []*helmrelease.Hook{
		{Name: "ledger-backup", Kind: "Job", Path: "ledger/templates/backup-job.yaml", Weight: -5,
			Events: []helmrelease.HookEvent{helmrelease.HookPreUpgrade}},
		{Name: "ledger-migrate", Kind: "Job", Path: "ledger/templates/migrate-job.yaml",
			Events: []helmrelease.HookEvent{helmrelease.HookPostInstall, helmrelease.HookPreUpgrade}},
		{Name: "ledger-seed", Kind: "Job", Path: "ledger/templates/seed-job.yaml", Weight: 5,
			Events: []helmrelease.HookEvent{helmrelease.HookPostInstall}},
		{Name: refreshViews, Kind: "Job", Path: "ledger/templates/refresh-views-job.yaml", Weight: 10,
			Events: []helmrelease.HookEvent{helmrelease.HookPostInstall, helmrelease.HookPostUpgrade}},
	}
	for _, h := range hooks {
		h.Manifest = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: " + h.Name + "\n"
		if slices.Contains(r.ran, h.Name) {
			h.LastRun = helmrelease.HookExecution{Phase: helmrelease.HookPhaseSucceeded}
		}
	}
	rel := &helmrelease.Release{
		Name:      "ledger",
		Namespace: "ledger",
		Version:   r.rev,
		Info:      &helmrelease.Info{Status: r.status, Description: "Upgrade complete"},
		Chart: &helmchart.Chart{Metadata: &helmchart.Metadata{
			APIVersion: "v2", Name: "ledger", Version: "1.0.0", AppVersion: "1.0.0",
		}},
		Config:   map[string]any{"image": "ghcr.io/acme/ledger:1.0.0"},
		Manifest: helmManifest,
		Hooks:    hooks,
	}
	// As the driver's encodeRelease does.
	b, err := json.Marshal(rel)
	require.NoError(t, err)
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	_, err = w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("sh.helm.release.v1.ledger.v%d", r.rev),
			Namespace: "ledger",
			Labels:    map[string]string{"name": "ledger", "owner": "helm", "status": string(r.status), "version": fmt.Sprint(r.rev)},
		},
		Type: "helm.sh/release.v1",
		Data: map[string][]byte{"release": []byte(base64.StdEncoding.EncodeToString(buf.Bytes()))},
	}
}

// helmServer answers what apiServer answers for a release of the ledger
// chart (discovery, no Secret ledger-db, no run of its hook Jobs) and the
// list of Helm's records of release ledger in namespace ledger, revisions;
// lists counts those lists.
func helmServer(t *testing.T, revisions []helmRevision) (cfg *rest.Config, lists *atomic.Int32) {
	t.Helper()
	list := corev1.SecretList{TypeMeta: metav1.TypeMeta{Kind: "SecretList", APIVersion: "v1"}, Items: []corev1.Secret{}}
	for _, r := range revisions {
		list.Items = append(list.Items, helmSecret(t, r))
	}
	secrets, err := json.Marshal(list)
	require.NoError(t, err)
	lists = &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/namespaces/ledger/secrets":
			assert.Equal(t, http.MethodGet, r.Method)
			assert.Equal(t, "name=ledger,owner=helm", r.URL.Query().Get("labelSelector"))
			lists.Add(1)
			_, _ = w.Write(secrets)
		case "/apis/batch/v1/namespaces/ledger/jobs":
			assert.Equal(t, "app.kubernetes.io/part-of=ledger,pulumi-jobs/job", r.URL.Query().Get("labelSelector"))
			fmt.Fprint(w, `{"kind":"JobList","apiVersion":"batch/v1","items":[]}`)
		case "/version":
			fmt.Fprint(w, `{"major":"1","minor":"36","gitVersion":"v1.36.3","platform":"linux/amd64"}`)
		case "/api":
			fmt.Fprint(w, `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"10.0.0.1:6443"}]}`)
		case "/apis":
			fmt.Fprint(w, `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`)
		case "/api/v1":
			fmt.Fprint(w, `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"secrets","singularName":"secret","namespaced":true,"kind":"Secret","verbs":["get","list"]}]}`)
		case "/api/v1/namespaces/ledger/secrets/ledger-db":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}, lists
}

// takeoverArgs is a release of the ledger chart into namespace ledger on cluster.
func takeoverArgs(cluster *fakeCluster, adopt bool) *release.Args {
	return &release.Args{
		Namespace: pulumi.String("ledger"), Image: pulumi.String("ghcr.io/acme/ledger:1.0.0"),
		App:     release.App{Name: "ledger", Chart: &release.Chart{Path: "../chart/testdata/ledger"}},
		Cluster: cluster,
		Adopt:   ptr(adopt),
	}
}

// TestTakeOverHelm: a release of a chart with no record of its own in the
// cluster continues Helm's latest deployed release of the app's name when
// it adopts, as an upgrade numbered as Helm numbers it: the upgrade hooks
// run, the install-only seed does not (its Job, Helm's, is not the
// release's: gone), and the record keeps what Helm ran at Helm's revision.
// Without adopt, or without a Helm release, it is an install.
func TestTakeOverHelm(t *testing.T) {
	// hookReg is a hook Job as registered: the phase that runs it and its
	// replacement trigger.
	type hookReg struct{ parent, trigger string }
	cases := []struct {
		name  string
		adopt bool
		helm  []helmRevision
		// lists is how many times the release lists Helm's records.
		lists    int32
		revision string
		hooks    string
		// jobs are the hook Jobs registered, by URN; the others are not.
		jobs map[string]hookReg
	}{
		{
			name:  "Helm's revision 3 deployed: an upgrade to revision 4",
			adopt: true,
			helm: []helmRevision{
				{1, helmrelease.StatusSuperseded, []string{"ledger-migrate", "ledger-seed", refreshViews}},
				{2, helmrelease.StatusSuperseded, []string{"ledger-backup", "ledger-migrate", refreshViews}},
				{3, helmrelease.StatusDeployed, []string{"ledger-migrate", "ledger-seed"}},
			},
			lists:    1,
			revision: "4",
			hooks:    `{"Job/ledger-backup":4,"Job/ledger-migrate":4,"Job/ledger-refresh-materialized-views-after-every-schema-changes":4,"Job/ledger-seed":3}`,
			jobs: map[string]hookReg{
				takeoverBackup:  {takeoverPre, "4"},
				takeoverMigrate: {takeoverPre, "4"},
				takeoverRefresh: {takeoverPost, "4"},
			},
		},
		{
			name:  "Helm's revision 4 failed after revision 3 deployed: an upgrade to revision 5",
			adopt: true,
			helm: []helmRevision{
				{3, helmrelease.StatusDeployed, []string{"ledger-migrate", "ledger-seed"}},
				{4, helmrelease.StatusFailed, []string{"ledger-backup"}},
			},
			lists:    1,
			revision: "5",
			hooks:    `{"Job/ledger-backup":5,"Job/ledger-migrate":5,"Job/ledger-refresh-materialized-views-after-every-schema-changes":5,"Job/ledger-seed":3}`,
			jobs: map[string]hookReg{
				takeoverBackup:  {takeoverPre, "5"},
				takeoverMigrate: {takeoverPre, "5"},
				takeoverRefresh: {takeoverPost, "5"},
			},
		},
		{
			name:  "without adopt: an install, Helm's records unread",
			adopt: false,
			helm: []helmRevision{
				{1, helmrelease.StatusSuperseded, []string{"ledger-migrate", "ledger-seed", refreshViews}},
				{2, helmrelease.StatusSuperseded, []string{"ledger-backup", "ledger-migrate", refreshViews}},
				{3, helmrelease.StatusDeployed, []string{"ledger-migrate", "ledger-seed"}},
			},
			lists:    0,
			revision: "1",
			hooks:    `{"Job/ledger-migrate":1,"Job/ledger-refresh-materialized-views-after-every-schema-changes":1,"Job/ledger-seed":1}`,
			jobs: map[string]hookReg{
				takeoverMigrate: {takeoverPost, "1"},
				takeoverSeed:    {takeoverPost, "1"},
				takeoverRefresh: {takeoverPost, "1"},
			},
		},
		{
			name:     "no Helm release: an install",
			adopt:    true,
			lists:    1,
			revision: "1",
			hooks:    `{"Job/ledger-migrate":1,"Job/ledger-refresh-materialized-views-after-every-schema-changes":1,"Job/ledger-seed":1}`,
			jobs: map[string]hookReg{
				takeoverMigrate: {takeoverPost, "1"},
				takeoverSeed:    {takeoverPost, "1"},
				takeoverRefresh: {takeoverPost, "1"},
			},
		},
		{
			name:  "only an uninstalled Helm release: an install",
			adopt: true,
			helm: []helmRevision{
				{1, helmrelease.StatusSuperseded, []string{"ledger-migrate", "ledger-seed", refreshViews}},
				{2, helmrelease.StatusUninstalled, []string{"ledger-backup", "ledger-migrate", refreshViews}},
			},
			lists:    1,
			revision: "1",
			hooks:    `{"Job/ledger-migrate":1,"Job/ledger-refresh-materialized-views-after-every-schema-changes":1,"Job/ledger-seed":1}`,
			jobs: map[string]hookReg{
				takeoverMigrate: {takeoverPost, "1"},
				takeoverSeed:    {takeoverPost, "1"},
				takeoverRefresh: {takeoverPost, "1"},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			config, lists := helmServer(t, c.helm)
			run := runProgram(t, "dev", newRelease("ledger", takeoverArgs(&fakeCluster{config: config}, c.adopt)))
			assert.Equal(t, c.lists, lists.Load(), "lists of Helm's records")

			rec := run.get(t, takeoverRecord)
			assert.Equal(t, "pulumi-jobs.chart.ledger", prop(t, rec.Inputs, "metadata.name").StringValue())
			ann := prop(t, rec.Inputs, "metadata.annotations").ObjectValue()
			assert.Equal(t, c.revision, ann["pulumi-jobs/revision"].StringValue())
			assert.Equal(t, c.hooks, ann["pulumi-jobs/hooks"].StringValue())

			for _, urn := range []string{takeoverBackup, takeoverMigrate, takeoverSeed, takeoverRefresh} {
				want, wanted := c.jobs[urn]
				got, registered := run.byURN[urn]
				if !assert.Equal(t, wanted, registered, "%s registered", urn) || !wanted {
					continue
				}
				assert.Equal(t, want.parent, got.RegisterRPC.GetParent(), urn)
				assert.Equal(t, want.trigger, got.RegisterRPC.GetReplacementTrigger().GetStringValue(), urn)
				assert.Empty(t, got.RegisterRPC.GetIgnoreChanges(), "%s runs", urn)
			}
		})
	}
}

// TestTakeOverHelmRefusesPending: a Helm release whose latest revision is
// an operation Helm has not finished (pending-*) is not taken over, as Helm
// itself does not upgrade it, and nothing of the release is registered.
func TestTakeOverHelmRefusesPending(t *testing.T) {
	cases := []struct {
		name string
		helm []helmRevision
		want string
	}{
		{
			name: "pending-upgrade",
			helm: []helmRevision{
				{2, helmrelease.StatusSuperseded, []string{"ledger-backup", "ledger-migrate", refreshViews}},
				{3, helmrelease.StatusDeployed, []string{"ledger-migrate", "ledger-seed"}},
				{4, helmrelease.StatusPendingUpgrade, []string{"ledger-backup"}},
			},
			want: `release "ledger" would take over Helm release ledger/ledger, whose revision 4 is pending-upgrade (nothing was changed): ` +
				`Helm refuses to upgrade it too; finish or roll back that Helm operation (helm rollback ledger 3 -n ledger), then release again`,
		},
		{
			name: "pending-rollback",
			helm: []helmRevision{
				{3, helmrelease.StatusSuperseded, []string{"ledger-migrate", "ledger-seed"}},
				{4, helmrelease.StatusDeployed, []string{"ledger-backup", "ledger-migrate", refreshViews}},
				{5, helmrelease.StatusPendingRollback, nil},
			},
			want: `release "ledger" would take over Helm release ledger/ledger, whose revision 5 is pending-rollback (nothing was changed): ` +
				`Helm refuses to upgrade it too; finish or roll back that Helm operation (helm rollback ledger 4 -n ledger), then release again`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			config, lists := helmServer(t, c.helm)
			m, err := pulumitest.Run(newRelease("ledger", takeoverArgs(&fakeCluster{config: config}, true)), "dev", pulumitest.Config{})
			require.ErrorContains(t, err, c.want)
			assert.Equal(t, int32(1), lists.Load(), "lists of Helm's records")
			for _, reg := range m.Registrations() {
				assert.NotContains(t, []string{takeoverRecord, takeoverBackup, takeoverMigrate, takeoverSeed, takeoverRefresh}, reg.URN,
					"nothing of the release runs or is recorded")
			}
		})
	}
}
