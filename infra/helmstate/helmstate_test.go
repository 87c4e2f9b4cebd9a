package helmstate

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

// manifest is a release's manifest as Helm renders it: two objects, each
// after the "# Source:" header naming its template.
const manifest = `---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  ports:
  - port: 80
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
spec:
  replicas: 1
`

// record is revision rev of release name in namespace ns, with status
// status and chart web at chartVersion, as Helm records it: the manifest
// above and three hooks, a pre-install/pre-upgrade Job that succeeded, a
// post-upgrade Job that failed and a test Pod never run.
func record(ns, name string, rev int, status release.Status, chartVersion string) *release.Release {
	return &release.Release{
		Name:      name,
		Namespace: ns,
		Version:   rev,
		Info:      &release.Info{Status: status, Description: "Upgrade complete"},
		Chart: &chart.Chart{Metadata: &chart.Metadata{
			APIVersion: "v2",
			Name:       "web",
			Version:    chartVersion,
			AppVersion: "2.0.0",
		}},
		Config:   map[string]any{"replicas": 1},
		Manifest: manifest,
		Hooks: []*release.Hook{
			{
				Name:     "web-migrate",
				Kind:     "Job",
				Path:     "web/templates/migrate.yaml",
				Manifest: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: web-migrate\n",
				Events:   []release.HookEvent{release.HookPreInstall, release.HookPreUpgrade},
				LastRun:  release.HookExecution{Phase: release.HookPhaseSucceeded},
			},
			{
				Name:     "web-smoke",
				Kind:     "Job",
				Path:     "web/templates/smoke.yaml",
				Manifest: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: web-smoke\n",
				Events:   []release.HookEvent{release.HookPostUpgrade},
				LastRun:  release.HookExecution{Phase: release.HookPhaseFailed},
			},
			{
				Name:     "web-test",
				Kind:     "Pod",
				Path:     "web/templates/tests/test.yaml",
				Manifest: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-test\n",
				Events:   []release.HookEvent{release.HookTest},
			},
		},
	}
}

// store writes records into client through Helm's own Secrets storage
// driver, under the key Helm gives them.
func store(t *testing.T, client *fake.Clientset, records ...*release.Release) {
	t.Helper()
	for _, r := range records {
		key := fmt.Sprintf("sh.helm.release.v1.%s.v%d", r.Name, r.Version)
		require.NoError(t, driver.NewSecrets(client.CoreV1().Secrets(r.Namespace)).Create(key, r))
	}
}

// wantHooks and wantObjects are what Latest reports of record's hooks and manifest.
var (
	wantHooks = []Hook{
		{Kind: "Job", Name: "web-migrate", Events: []string{"pre-install", "pre-upgrade"}, LastRun: "Succeeded"},
		{Kind: "Job", Name: "web-smoke", Events: []string{"post-upgrade"}, LastRun: "Failed"},
		{Kind: "Pod", Name: "web-test", Events: []string{"test"}, LastRun: ""},
	}
	wantObjects = []Object{
		{APIVersion: "v1", Kind: "Service", Namespace: "", Name: "web"},
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "apps", Name: "web"},
	}
)

func TestLatest(t *testing.T) {
	tests := []struct {
		name     string
		records  []*release.Release
		want     *Release
		wantNext int
	}{
		{
			name: "no record",
			want: nil,
		},
		{
			name: "only another release's records",
			records: []*release.Release{
				record("apps", "api", 1, release.StatusDeployed, "1.0.0"),
			},
			want: nil,
		},
		{
			name: "only records in another namespace",
			records: []*release.Release{
				record("staging", "web", 1, release.StatusDeployed, "1.0.0"),
			},
			want: nil,
		},
		{
			name: "installed: revision 1 deployed",
			records: []*release.Release{
				record("apps", "web", 1, release.StatusDeployed, "1.0.0"),
			},
			want: &Release{
				Name: "web", Namespace: "apps", Revision: 1,
				Chart: "web", ChartVersion: "1.0.0", AppVersion: "2.0.0",
				Hooks: wantHooks, Objects: wantObjects,
			},
			wantNext: 2,
		},
		{
			name: "upgraded: revision 1 superseded, revision 2 deployed",
			records: []*release.Release{
				record("apps", "web", 1, release.StatusSuperseded, "1.0.0"),
				record("apps", "web", 2, release.StatusDeployed, "1.1.0"),
			},
			want: &Release{
				Name: "web", Namespace: "apps", Revision: 2,
				Chart: "web", ChartVersion: "1.1.0", AppVersion: "2.0.0",
				Hooks: wantHooks, Objects: wantObjects,
			},
			wantNext: 3,
		},
		{
			name: "revision 3 failed after revision 2 deployed",
			records: []*release.Release{
				record("apps", "web", 1, release.StatusSuperseded, "1.0.0"),
				record("apps", "web", 2, release.StatusDeployed, "1.1.0"),
				record("apps", "web", 3, release.StatusFailed, "1.2.0"),
			},
			want: &Release{
				Name: "web", Namespace: "apps", Revision: 2,
				Chart: "web", ChartVersion: "1.1.0", AppVersion: "2.0.0",
				Hooks: wantHooks, Objects: wantObjects,
				Pending: &Pending{Revision: 3, Status: "failed"},
			},
			wantNext: 4,
		},
		{
			name: "revisions 3 failed and 4 pending-upgrade after revision 2 deployed",
			records: []*release.Release{
				record("apps", "web", 2, release.StatusDeployed, "1.1.0"),
				record("apps", "web", 3, release.StatusFailed, "1.2.0"),
				record("apps", "web", 4, release.StatusPendingUpgrade, "1.2.1"),
			},
			want: &Release{
				Name: "web", Namespace: "apps", Revision: 2,
				Chart: "web", ChartVersion: "1.1.0", AppVersion: "2.0.0",
				Hooks: wantHooks, Objects: wantObjects,
				Pending: &Pending{Revision: 4, Status: "pending-upgrade"},
			},
			wantNext: 5,
		},
		{
			name: "rolled back: revision 3 deployed is a rollback to revision 1",
			records: []*release.Release{
				record("apps", "web", 1, release.StatusSuperseded, "1.0.0"),
				record("apps", "web", 2, release.StatusSuperseded, "1.1.0"),
				record("apps", "web", 3, release.StatusDeployed, "1.0.0"),
			},
			want: &Release{
				Name: "web", Namespace: "apps", Revision: 3,
				Chart: "web", ChartVersion: "1.0.0", AppVersion: "2.0.0",
				Hooks: wantHooks, Objects: wantObjects,
			},
			wantNext: 4,
		},
		{
			name: "another release's and another namespace's records are ignored",
			records: []*release.Release{
				record("apps", "api", 1, release.StatusSuperseded, "3.0.0"),
				record("apps", "api", 2, release.StatusDeployed, "3.1.0"),
				record("apps", "api", 3, release.StatusFailed, "3.2.0"),
				record("apps", "web-canary", 7, release.StatusDeployed, "9.0.0"),
				record("staging", "web", 5, release.StatusDeployed, "5.0.0"),
				record("apps", "web", 1, release.StatusDeployed, "1.0.0"),
			},
			want: &Release{
				Name: "web", Namespace: "apps", Revision: 1,
				Chart: "web", ChartVersion: "1.0.0", AppVersion: "2.0.0",
				Hooks: wantHooks, Objects: wantObjects,
			},
			wantNext: 2,
		},
		{
			name: "install failed: no revision deployed",
			records: []*release.Release{
				record("apps", "web", 1, release.StatusFailed, "1.0.0"),
			},
			want: nil,
		},
		{
			name: "uninstalled with --keep-history: no revision deployed",
			records: []*release.Release{
				record("apps", "web", 1, release.StatusSuperseded, "1.0.0"),
				record("apps", "web", 2, release.StatusUninstalled, "1.1.0"),
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			store(t, client, tt.records...)

			got, err := Latest(context.Background(), client.CoreV1().Secrets("apps"), "web")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			if got != nil {
				assert.Equal(t, tt.wantNext, got.Next())
			}
		})
	}
}

// TestLatestHandWrittenRecord decodes a Secret written by hand exactly as
// Helm stores a release: data.release is the base64 text of the gzipped
// JSON of the release, in a Secret of type helm.sh/release.v1 with Helm's
// labels and name.
func TestLatestHandWrittenRecord(t *testing.T) {
	const releaseJSON = `{
  "name": "web",
  "namespace": "apps",
  "version": 4,
  "info": {
    "first_deployed": "2026-01-02T03:04:05Z",
    "last_deployed": "2026-02-03T04:05:06Z",
    "deleted": "",
    "description": "Upgrade complete",
    "status": "deployed"
  },
  "chart": {
    "metadata": {"name": "web", "version": "1.3.0", "appVersion": "2.1.0", "apiVersion": "v2"},
    "templates": [],
    "values": {}
  },
  "config": {"replicas": 2},
  "manifest": "---\n# Source: web/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\n# Source: web/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: apps\n",
  "hooks": [
    {
      "name": "web-migrate",
      "kind": "Job",
      "path": "web/templates/migrate.yaml",
      "manifest": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: web-migrate\n",
      "events": ["pre-upgrade"],
      "last_run": {"started_at": "2026-02-03T04:05:00Z", "completed_at": "2026-02-03T04:05:05Z", "phase": "Succeeded"}
    }
  ]
}`
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, err := w.Write([]byte(releaseJSON))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	client := fake.NewClientset()
	_, err = client.CoreV1().Secrets("apps").Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "sh.helm.release.v1.web.v4",
			Namespace: "apps",
			Labels:    map[string]string{"owner": "helm", "name": "web", "status": "deployed", "version": "4"},
		},
		Type: "helm.sh/release.v1",
		Data: map[string][]byte{"release": []byte(base64.StdEncoding.EncodeToString(gz.Bytes()))},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	got, err := Latest(context.Background(), client.CoreV1().Secrets("apps"), "web")
	require.NoError(t, err)
	assert.Equal(t, &Release{
		Name: "web", Namespace: "apps", Revision: 4,
		Chart: "web", ChartVersion: "1.3.0", AppVersion: "2.1.0",
		Hooks: []Hook{
			{Kind: "Job", Name: "web-migrate", Events: []string{"pre-upgrade"}, LastRun: "Succeeded"},
		},
		Objects: []Object{
			{APIVersion: "v1", Kind: "Service", Namespace: "", Name: "web"},
			{APIVersion: "v1", Kind: "ConfigMap", Namespace: "apps", Name: "web-config"},
		},
	}, got)
}

// gzipped is s gzipped.
func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func TestLatestErrors(t *testing.T) {
	tests := []struct {
		name    string
		version string // the version label
		data    string // data.release
		wantErr string
	}{
		{
			name:    "data not base64",
			version: "1",
			data:    "%%% not base64 %%%",
			wantErr: "helmstate: decode Secret apps/sh.helm.release.v1.web.v1, Helm's record of release \"web\" revision 1: query: failed to decode release: illegal base64 data at input byte 0; fix: check that `helm history web -n apps` can read it",
		},
		{
			name:    "gzip cut short",
			version: "1",
			data:    base64.StdEncoding.EncodeToString(gzipped(t, `{"name":"web","version":1}`)[:12]),
			wantErr: "helmstate: decode Secret apps/sh.helm.release.v1.web.v1, Helm's record of release \"web\" revision 1: query: failed to decode release: unexpected EOF; fix:",
		},
		{
			name:    "not JSON",
			version: "1",
			data:    base64.StdEncoding.EncodeToString(gzipped(t, `name: web`)),
			wantErr: "helmstate: decode Secret apps/sh.helm.release.v1.web.v1, Helm's record of release \"web\" revision 1: query: failed to decode release: invalid character 'a' in literal null (expecting 'u'); fix:",
		},
		{
			name:    "record of another revision than its labels say",
			version: "1",
			data:    base64.StdEncoding.EncodeToString(gzipped(t, `{"name":"web","namespace":"apps","version":2,"info":{"status":"deployed"}}`)),
			wantErr: "helmstate: Secret apps/sh.helm.release.v1.web.v1 records release \"web\" revision 2, but its labels say release \"web\" revision 1; fix: repair or delete that Secret",
		},
		{
			name:    "version label not a number",
			version: "one",
			data:    base64.StdEncoding.EncodeToString(gzipped(t, `{"name":"web","version":1}`)),
			wantErr: "helmstate: Secret apps/sh.helm.release.v1.web.v1, a record of Helm release \"web\", has label version=\"one\" where Helm writes the revision number; fix: repair or delete that Secret",
		},
		{
			name:    "manifest not YAML",
			version: "1",
			data:    base64.StdEncoding.EncodeToString(gzipped(t, `{"name":"web","version":1,"info":{"status":"deployed"},"manifest":"kind: [Service\n"}`)),
			wantErr: "helmstate: read the manifest of Helm release \"web\" revision 1 (Secret apps/sh.helm.release.v1.web.v1): document 1: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			_, err := client.CoreV1().Secrets("apps").Create(context.Background(), &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{
					Name:      "sh.helm.release.v1.web.v1",
					Namespace: "apps",
					Labels:    map[string]string{"owner": "helm", "name": "web", "status": "deployed", "version": tt.version},
				},
				Type: "helm.sh/release.v1",
				Data: map[string][]byte{"release": []byte(tt.data)},
			}, metav1.CreateOptions{})
			require.NoError(t, err)

			got, err := Latest(context.Background(), client.CoreV1().Secrets("apps"), "web")
			assert.Nil(t, got)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestLatestDamagedOlderRevision: only the deployed revision is decoded, so
// a damaged record of an older one does not stop Latest, as it does not stop Helm.
func TestLatestDamagedOlderRevision(t *testing.T) {
	client := fake.NewClientset()
	_, err := client.CoreV1().Secrets("apps").Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "sh.helm.release.v1.web.v1",
			Namespace: "apps",
			Labels:    map[string]string{"owner": "helm", "name": "web", "status": "superseded", "version": "1"},
		},
		Type: "helm.sh/release.v1",
		Data: map[string][]byte{"release": []byte("%%% not base64 %%%")},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	store(t, client, record("apps", "web", 2, release.StatusDeployed, "1.1.0"))

	got, err := Latest(context.Background(), client.CoreV1().Secrets("apps"), "web")
	require.NoError(t, err)
	assert.Equal(t, &Release{
		Name: "web", Namespace: "apps", Revision: 2,
		Chart: "web", ChartVersion: "1.1.0", AppVersion: "2.0.0",
		Hooks: wantHooks, Objects: wantObjects,
	}, got)
}

func TestLatestListFails(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New(`secrets is forbidden: User "deployer" cannot list resource "secrets"`)
	})

	got, err := Latest(context.Background(), client.CoreV1().Secrets("apps"), "web")
	assert.Nil(t, got)
	assert.EqualError(t, err, `helmstate: list the Secrets that record Helm release "web" (labels name=web,owner=helm): secrets is forbidden: User "deployer" cannot list resource "secrets"; fix: check the cluster is reachable and that the deployer may list Secrets in the release's namespace`)
}

func TestLatestBadName(t *testing.T) {
	for _, name := range []string{"", "Web App"} {
		t.Run(name, func(t *testing.T) {
			got, err := Latest(context.Background(), fake.NewClientset().CoreV1().Secrets("apps"), name)
			assert.Nil(t, got)
			assert.EqualError(t, err, fmt.Sprintf("helmstate: %q is not a Helm release name; fix: pass the name the release was installed with (helm list shows it)", name))
		})
	}
}

// TestForConfig serves, over HTTP, the Secret Helm's driver writes, as the
// API server returns it (data base64-encoded once more), and reads it back.
func TestForConfig(t *testing.T) {
	written := fake.NewClientset()
	store(t, written, record("apps", "web", 1, release.StatusDeployed, "1.0.0"))
	secret, err := written.CoreV1().Secrets("apps").Get(context.Background(), "sh.helm.release.v1.web.v1", metav1.GetOptions{})
	require.NoError(t, err)
	body, err := json.Marshal(&corev1.SecretList{
		TypeMeta: metav1.TypeMeta{Kind: "SecretList", APIVersion: "v1"},
		Items:    []corev1.Secret{*secret},
	})
	require.NoError(t, err)

	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/namespaces/apps/secrets" || r.URL.Query().Get("labelSelector") != "name=web,owner=helm" {
			http.Error(w, "unexpected request "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer server.Close()

	got, err := ForConfig(context.Background(), &rest.Config{Host: server.URL}, "apps", "web")
	require.NoError(t, err)
	assert.Equal(t, &Release{
		Name: "web", Namespace: "apps", Revision: 1,
		Chart: "web", ChartVersion: "1.0.0", AppVersion: "2.0.0",
		Hooks: wantHooks, Objects: wantObjects,
	}, got)
}
