package chart_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/chart"
)

// cluster is what the fake API server of discoveryServer says.
type cluster struct {
	// gitVersion is the version /version answers; empty means v1.35.2.
	gitVersion string
	// failing is a path the server answers 503 Service Unavailable.
	failing string
}

// discoveryServer serves the discovery a render with a cluster asks: /version, /api and /apis
// in the legacy (unaggregated) JSON, which client-go accepts whatever it asked for in its Accept
// header, and the resource lists of v1 and monitoring.coreos.com/v1, which has ServiceMonitors.
// Any other request fails the test.
func discoveryServer(t *testing.T, c cluster) *rest.Config {
	t.Helper()
	gitVersion := "v1.35.2"
	if c.gitVersion != "" {
		gitVersion = c.gitVersion
	}
	answers := map[string]string{
		"/version": fmt.Sprintf(`{"major":"1","minor":"35","gitVersion":%q,"platform":"linux/amd64"}`, gitVersion),
		"/api":     `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"10.0.0.1:6443"}]}`,
		"/apis": `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"monitoring.coreos.com",` +
			`"versions":[{"groupVersion":"monitoring.coreos.com/v1","version":"v1"}],"preferredVersion":{"groupVersion":"monitoring.coreos.com/v1","version":"v1"}}]}`,
		"/api/v1": `{"kind":"APIResourceList","groupVersion":"v1","resources":[` +
			`{"name":"configmaps","singularName":"configmap","namespaced":true,"kind":"ConfigMap","verbs":["get","list"]},` +
			`{"name":"secrets","singularName":"secret","namespaced":true,"kind":"Secret","verbs":["get","list"]}]}`,
		"/apis/monitoring.coreos.com/v1": `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"monitoring.coreos.com/v1","resources":[` +
			`{"name":"servicemonitors","singularName":"servicemonitor","namespaced":true,"kind":"ServiceMonitor","verbs":["get","list"]}]}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		answer, ok := answers[r.URL.Path]
		switch {
		case r.URL.Path == c.failing:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"service unavailable","reason":"ServiceUnavailable","code":503}`)
		case ok && r.Method == http.MethodGet:
			fmt.Fprint(w, answer)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}
}

// capable renders testdata/capable as release "capable" in namespace "tools", changed by edit.
func capable(t *testing.T, edit func(*chart.Args)) (chart.Rendered, error) {
	t.Helper()
	a := chart.Args{Root: "testdata", Path: "capable", ReleaseName: "capable", Namespace: "tools"}
	if edit != nil {
		edit(&a)
	}
	return chart.Render(a)
}

// kind is the kind of a rendered object.
func kind(o chart.Object) string { return o.Obj["kind"].(string) }

// data is the data (or stringData) of the app's object of kind k, nil when there is none.
func data(t *testing.T, r chart.Rendered, k, field string) map[string]any {
	t.Helper()
	for _, o := range r.App {
		if kind(o) == k {
			return o.Obj[field].(map[string]any)
		}
	}
	return nil
}

// The CRDs of testdata/capable: its own, then its subchart's, two in one file, in their order.
var (
	widgets      = obj{"capable/crds/widgets.yaml", "CustomResourceDefinition", "widgets.example.com"}
	gizmos       = obj{"capable/charts/gizmo/crds/gizmos.yaml", "CustomResourceDefinition", "gizmos.example.com"}
	gizmoClasses = obj{"capable/charts/gizmo/crds/gizmos.yaml", "CustomResourceDefinition", "gizmoclasses.example.com"}
)

func TestRenderCRDsApartFromTheApp(t *testing.T) {
	r, err := capable(t, nil)
	require.NoError(t, err)

	assert.Equal(t, []obj{widgets, gizmos, gizmoClasses}, objs(r.CRDs))
	// The CustomResourceDefinition among the templates stays in the app, first of it by Helm's
	// install order after the Secret and ConfigMap; no crds/ file is in it.
	assert.Equal(t, []obj{
		{"capable/templates/token.yaml", "Secret", "capable-token"},
		{"capable/templates/capabilities.yaml", "ConfigMap", "capable-capabilities"},
		{"capable/templates/thing-crd.yaml", "CustomResourceDefinition", "things.example.com"},
	}, objs(r.App))
	assert.Equal(t, map[string]any{"app.kubernetes.io/instance": "capable"}, r.App[2].Obj["metadata"].(map[string]any)["labels"],
		"a template is templated")

	// crds/ files are not templated.
	assert.Equal(t, map[string]any{
		"name":        "widgets.example.com",
		"annotations": map[string]any{"example.com/note": "not templated: {{ .Release.Name }}"},
	}, r.CRDs[0].Obj["metadata"])
	assert.Equal(t, "apiextensions.k8s.io/v1", r.CRDs[0].Obj["apiVersion"])
	assert.Equal(t, "Cluster", r.CRDs[2].Obj["spec"].(map[string]any)["scope"])
}

func TestRenderCRDsOfEnabledSubchartsOnly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   []obj
	}{
		{"subchart enabled", nil, []obj{widgets, gizmos, gizmoClasses}},
		{"subchart disabled by its condition", map[string]any{"gizmo": map[string]any{"enabled": false}}, []obj{widgets}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := capable(t, func(a *chart.Args) { a.Values = tc.values })
			require.NoError(t, err)
			assert.Equal(t, tc.want, objs(r.CRDs))
		})
	}
}

func TestRenderCapabilities(t *testing.T) {
	serviceMonitor := obj{"capable/templates/servicemonitor.yaml", "ServiceMonitor", "capable"}
	app := []obj{
		{"capable/templates/token.yaml", "Secret", "capable-token"},
		{"capable/templates/capabilities.yaml", "ConfigMap", "capable-capabilities"},
		{"capable/templates/thing-crd.yaml", "CustomResourceDefinition", "things.example.com"},
	}
	for _, tc := range []struct {
		name             string
		cluster          bool
		kubeVersion      string
		wantApp          []obj
		wantKubeVersion  string
		wantCapabilities chart.CapabilitiesSource
	}{
		{"the cluster's", true, "", append(app, serviceMonitor), "v1.35.2", "cluster"},
		{"client defaults without a cluster", false, "", app, "v1.36.3", "client defaults"},
		{"a kube version given wins over the cluster's", true, "v1.34.1", append(app, serviceMonitor), "v1.34.1", "cluster"},
		{"a kube version given without a cluster", false, "1.33.0", app, "v1.33.0", "client defaults"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := capable(t, func(a *chart.Args) {
				a.KubeVersion = tc.kubeVersion
				if tc.cluster {
					a.Cluster = discoveryServer(t, cluster{})
				}
			})
			require.NoError(t, err)
			assert.Equal(t, tc.wantApp, objs(r.App))
			assert.Equal(t, tc.wantKubeVersion, data(t, r, "ConfigMap", "data")["kubeVersion"])
			assert.Equal(t, tc.wantCapabilities, r.Capabilities)
			assert.Equal(t, []obj{widgets, gizmos, gizmoClasses}, objs(r.CRDs))
		})
	}
}

func TestRenderClusterErrors(t *testing.T) {
	const fixIt = "the cluster must answer discovery (/version, /api, /apis and each API group's resource list) to the credentials given; " +
		"check that it is reachable from here and that its API services are available (kubectl get apiservices)"
	closed := httptest.NewServer(http.NotFoundHandler())
	unreachable := closed.URL
	closed.Close() // nothing listens there any more

	for _, tc := range []struct {
		name  string
		path  string
		kube  func(t *testing.T) *rest.Config
		want  string // the whole message, or a regular expression when wantR is set
		wantR bool
	}{
		{
			name:  "unreachable",
			path:  "capable",
			kube:  func(*testing.T) *rest.Config { return &rest.Config{Host: unreachable} },
			want:  `^chart capable: cannot read the cluster's capabilities: server version: Get "` + regexp.QuoteMeta(unreachable) + `/version[^"]*": dial tcp .*connection refused: ` + regexp.QuoteMeta(fixIt) + `$`,
			wantR: true,
		},
		{
			name: "version unavailable",
			path: "capable",
			kube: func(t *testing.T) *rest.Config { return discoveryServer(t, cluster{failing: "/version"}) },
			want: "chart capable: cannot read the cluster's capabilities: server version: the server is currently unable to handle the request: " + fixIt,
		},
		{
			name: "an API group unavailable",
			path: "capable",
			kube: func(t *testing.T) *rest.Config {
				return discoveryServer(t, cluster{failing: "/apis/monitoring.coreos.com/v1"})
			},
			want: "chart capable: cannot read the cluster's capabilities: API versions: unable to retrieve the complete list of server APIs: monitoring.coreos.com/v1: service unavailable: " + fixIt,
		},
		{
			name: "not a version",
			path: "capable",
			kube: func(t *testing.T) *rest.Config { return discoveryServer(t, cluster{gitVersion: "latest"}) },
			want: `chart capable: cannot read the cluster's capabilities: server version: /version says gitVersion "latest": could not parse "latest" as version: ` + fixIt,
		},
		{
			name: "the cluster's version not the chart's",
			path: "shop",
			kube: func(t *testing.T) *rest.Config { return discoveryServer(t, cluster{gitVersion: "v1.29.4"}) },
			want: "chart shop: cannot render it: chart requires kubeVersion: >= 1.30.0-0 which is incompatible with Kubernetes v1.29.4: the cluster runs v1.29.4: use a version of the chart made for it",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chart.Render(chart.Args{Root: "testdata", Path: tc.path, ReleaseName: "capable", Cluster: tc.kube(t)})
			require.Error(t, err)
			if tc.wantR {
				assert.Regexp(t, tc.want, err.Error())
			} else {
				assert.EqualError(t, err, tc.want)
			}
		})
	}
}

// capableDigest is the input digest of testdata/capable released as "capable" in "tools":
// when a change of what the digest covers changes it, every release would upgrade once.
const capableDigest = "81d8295dbefcc7caaf5618317c46b4bb563f06c2f4526648bae926d6ac7ddfcb"

// copyCapable copies testdata/capable into a new directory and returns its path.
func copyCapable(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "capable")
	require.NoError(t, os.CopyFS(dir, os.DirFS("testdata/capable")))
	return dir
}

// appendTo appends text to the file name of the chart in dir.
func appendTo(t *testing.T, dir, name, text string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(text)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestRenderInputDigestIgnoresRandomValues(t *testing.T) {
	first, err := capable(t, nil)
	require.NoError(t, err)
	second, err := capable(t, nil)
	require.NoError(t, err)

	token := func(r chart.Rendered) any { return data(t, r, "Secret", "stringData")["token"] }
	assert.Len(t, token(first), 24)
	assert.NotEqual(t, token(first), token(second), "the render differs: the token is random")
	assert.Equal(t, capableDigest, first.InputDigest)
	assert.Equal(t, capableDigest, second.InputDigest)
}

// TestRenderInputDigestOfTheSameInputs: what the digest does not cover (where the chart is,
// how it is packaged, install or upgrade, the cluster and what it answers) leaves it as it is.
func TestRenderInputDigestOfTheSameInputs(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, a *chart.Args)
	}{
		{"as it is", func(*testing.T, *chart.Args) {}},
		{"an upgrade", func(_ *testing.T, a *chart.Args) { a.IsUpgrade = true }},
		{"with a cluster", func(t *testing.T, a *chart.Args) { a.Cluster = discoveryServer(t, cluster{}) }},
		{"a kube version", func(_ *testing.T, a *chart.Args) { a.KubeVersion = "v1.31.0" }},
		{"a copy elsewhere", func(t *testing.T, a *chart.Args) { a.Path = copyCapable(t) }},
		{"packaged by helm package", func(t *testing.T, a *chart.Args) {
			ch, err := loader.Load("testdata/capable")
			require.NoError(t, err)
			a.Path, err = chartutil.Save(ch, t.TempDir())
			require.NoError(t, err)
		}},
		{"the subchart packaged in charts/", func(t *testing.T, a *chart.Args) {
			dir := copyCapable(t)
			sub, err := loader.Load(filepath.Join(dir, "charts", "gizmo"))
			require.NoError(t, err)
			archive, err := chartutil.Save(sub, filepath.Join(dir, "charts"))
			require.NoError(t, err)
			require.Equal(t, filepath.Join(dir, "charts", "gizmo-0.1.0.tgz"), archive)
			require.NoError(t, os.RemoveAll(filepath.Join(dir, "charts", "gizmo")))
			a.Path = dir
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := capable(t, func(a *chart.Args) { tc.edit(t, a) })
			require.NoError(t, err)
			assert.Equal(t, capableDigest, r.InputDigest)
		})
	}
}

// TestRenderInputDigestOfChangedInputs: every input the digest covers changes it.
func TestRenderInputDigestOfChangedInputs(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, a *chart.Args)
	}{
		{"a value", func(_ *testing.T, a *chart.Args) { a.Values = map[string]any{"greeting": "hi"} }},
		{"a values file", func(_ *testing.T, a *chart.Args) { a.ValuesFiles = []string{"values/three-replicas.yaml"} }},
		{"the release name", func(_ *testing.T, a *chart.Args) { a.ReleaseName = "able" }},
		{"the namespace", func(_ *testing.T, a *chart.Args) { a.Namespace = "default" }},
		{"tests", func(_ *testing.T, a *chart.Args) { a.Tests = true }},
		{"a template", func(t *testing.T, a *chart.Args) {
			a.Path = copyCapable(t)
			appendTo(t, a.Path, "templates/capabilities.yaml", "  extra: \"1\"\n")
		}},
		{"a crds/ file", func(t *testing.T, a *chart.Args) {
			a.Path = copyCapable(t)
			appendTo(t, a.Path, "crds/widgets.yaml", "# a comment\n")
		}},
		{"the chart's values.yaml", func(t *testing.T, a *chart.Args) {
			a.Path = copyCapable(t)
			appendTo(t, a.Path, "values.yaml", "extra: 1\n")
		}},
		{"the chart's metadata", func(t *testing.T, a *chart.Args) {
			a.Path = copyCapable(t)
			appendTo(t, a.Path, "Chart.yaml", "appVersion: \"2.0.0\"\n")
		}},
		{"a subchart's file", func(t *testing.T, a *chart.Args) {
			a.Path = copyCapable(t)
			require.NoError(t, os.WriteFile(filepath.Join(a.Path, "charts/gizmo/README.md"), []byte("# gizmo\n"), 0o644))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := capable(t, func(a *chart.Args) { tc.edit(t, a) })
			require.NoError(t, err)
			assert.Regexp(t, `^[0-9a-f]{64}$`, r.InputDigest)
			assert.NotEqual(t, capableDigest, r.InputDigest)
		})
	}
}

// TestRenderInputDigestOfMergedValues: the digest covers the values as merged, not how they
// were given.
func TestRenderInputDigestOfMergedValues(t *testing.T) {
	fromFile, err := shop(t, func(a *chart.Args) { a.ValuesFiles = []string{"values/three-replicas.yaml"} })
	require.NoError(t, err)
	fromValues, err := shop(t, func(a *chart.Args) {
		a.Values = map[string]any{"replicaCount": 3, "image": map[string]any{"repository": "registry.example.com/shop"}}
	})
	require.NoError(t, err)
	assert.Equal(t, fromFile.InputDigest, fromValues.InputDigest)
}
