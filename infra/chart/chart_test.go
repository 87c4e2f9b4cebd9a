package chart_test

import (
	"io/fs"
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
	"helm.sh/helm/v3/pkg/repo"

	"github.com/pulumi-jobs/pulumi-jobs/infra/chart"
	"github.com/pulumi-jobs/pulumi-jobs/infra/hook"
)

// shop renders testdata/shop as release "shop" in namespace "shop", changed by edit.
func shop(t *testing.T, edit func(*chart.Args)) (chart.Rendered, error) {
	t.Helper()
	a := chart.Args{Root: "testdata", Path: "shop", ReleaseName: "shop", Namespace: "shop"}
	if edit != nil {
		edit(&a)
	}
	return chart.Render(a)
}

// obj is what a test compares of an app object.
type obj struct{ Source, Kind, Name string }

func objs(in []chart.Object) []obj {
	var out []obj
	for _, o := range in {
		meta := o.Obj["metadata"].(map[string]any)
		out = append(out, obj{o.Source, o.Obj["kind"].(string), meta["name"].(string)})
	}
	return out
}

// hookSeen is what a test compares of a hook: all but its object.
type hookSeen struct {
	Source, Kind, Name string
	Events             []string
	Weight             int
	DeletePolicies     []string
}

func hooks(hs []hook.Hook) []hookSeen {
	var out []hookSeen
	for _, h := range hs {
		out = append(out, hookSeen{h.Source, h.Kind, h.Name, h.Events, h.Weight, h.DeletePolicies})
	}
	return out
}

// The fixture's hooks, as they are expected.
var (
	migrateConfig = hookSeen{"shop/templates/migrate-config.yaml", "ConfigMap", "shop-migrate", []string{"pre-install", "pre-upgrade"}, -10, nil}
	migrateJob    = hookSeen{"shop/templates/migrate-job.yaml", "Job", "shop-migrate", []string{"pre-install", "pre-upgrade"}, -5, nil}
	initialSecret = hookSeen{"shop/templates/initial-secret.yaml", "Secret", "shop-initial-password", []string{"pre-install"}, 0, nil}
	backupJob     = hookSeen{"shop/templates/backup-job.yaml", "Job", "shop-backup", []string{"pre-upgrade"}, 0, nil}
	smokeJob      = hookSeen{"shop/templates/smoke-job.yaml", "Job", "shop-smoke-test", []string{"post-install", "post-upgrade"}, 5, []string{"before-hook-creation", "hook-succeeded"}}
	cleanupJob    = hookSeen{"shop/templates/cleanup-job.yaml", "Job", "shop-cleanup", []string{"post-delete"}, 0, []string{"hook-succeeded"}}
)

// The test Pod's name ends in 5 random lower-case letters or digits, new on every render.
var testPodName = regexp.MustCompile(`^shop-test-[a-z0-9]{5}$`)

func TestRenderSplitsAppAndHooksInOrder(t *testing.T) {
	r, err := shop(t, nil)
	require.NoError(t, err)

	// Helm's install order: ConfigMap, Service, Deployment. NOTES.txt and _helpers.tpl are no objects.
	assert.Equal(t, []obj{
		{"shop/templates/configmap.yaml", "ConfigMap", "shop-config"},
		{"shop/templates/service.yaml", "Service", "shop"},
		{"shop/templates/deployment.yaml", "Deployment", "shop"},
	}, objs(r.App))
	// By weight (-10, -5, 0), then kind (Secret before Job), then name. An
	// install runs the install hooks; the upgrade-only backup is idle.
	assert.Equal(t, []hookSeen{migrateConfig, migrateJob, initialSecret}, hooks(r.PreDeploy))
	assert.Equal(t, []hookSeen{smokeJob}, hooks(r.PostDeploy))
	assert.Equal(t, []hookSeen{backupJob}, hooks(r.Idle))
	// The post-delete cleanup is kept for the release's destroy.
	assert.Empty(t, r.PreDelete)
	assert.Equal(t, []hookSeen{cleanupJob}, hooks(r.PostDelete))
	assert.False(t, r.Lookup, "the fixture calls no lookup")

	require.Len(t, r.Skipped, 1)
	assert.Regexp(t, `^test hook Pod/shop-test-[a-z0-9]{5} \(shop/templates/tests/test-connection\.yaml\) is not run: test hooks run as post-deploy smoke tests only with tests: true$`, r.Skipped[0])
}

func TestRenderKeepsHookObjects(t *testing.T) {
	r, err := shop(t, nil)
	require.NoError(t, err)
	require.Len(t, r.PreDeploy, 3)

	job := r.PreDeploy[1].Object
	assert.Equal(t, map[string]any{
		"name": "shop-migrate",
		"annotations": map[string]any{
			"helm.sh/hook":        "pre-install,pre-upgrade",
			"helm.sh/hook-weight": "-5",
		},
	}, job["metadata"])
	assert.Equal(t, "batch/v1", job["apiVersion"])
	pod := job["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	assert.Equal(t, []any{map[string]any{
		"name":    "migrate",
		"image":   "ghcr.io/org/shop:v1.0.0",
		"command": []any{"shop", "migrate"},
		"envFrom": []any{map[string]any{"configMapRef": map[string]any{"name": "shop-migrate"}}},
	}}, pod["containers"])

	// The ConfigMap the Job reads is the hook before it.
	assert.Equal(t, map[string]any{"MIGRATIONS_DIR": "/migrations"}, r.PreDeploy[0].Object["data"])

	// Spaces around the events and several policies in one value.
	smoke := r.PostDeploy[0].Object["metadata"].(map[string]any)["annotations"]
	assert.Equal(t, map[string]any{
		"helm.sh/hook":               "post-install, post-upgrade",
		"helm.sh/hook-weight":        "5",
		"helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
	}, smoke)
}

func TestRenderTests(t *testing.T) {
	for _, tc := range []struct {
		name        string
		tests       bool
		wantPost    []string // kind/name; "Pod/shop-test-?????" for the random name
		wantSkipped int
	}{
		{"off: test hooks are skipped", false, []string{"Job/shop-smoke-test"}, 1},
		{"on: test hooks are post-deploy, by weight", true, []string{"Pod/shop-test-?????", "Job/shop-smoke-test"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := shop(t, func(a *chart.Args) { a.Tests = tc.tests })
			require.NoError(t, err)

			var post []string
			for _, h := range r.PostDeploy {
				name := h.Name
				if testPodName.MatchString(name) {
					name = "shop-test-?????"
				}
				post = append(post, h.Kind+"/"+name)
			}
			assert.Equal(t, tc.wantPost, post)
			assert.Len(t, r.Skipped, tc.wantSkipped)
			if tc.tests {
				assert.Equal(t, hookSeen{"shop/templates/tests/test-connection.yaml", "Pod", r.PostDeploy[0].Name, []string{"test"}, 0, nil}, hooks(r.PostDeploy)[0])
			}
		})
	}
}

func TestRenderValuesPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name         string
		files        []string
		values       map[string]any
		wantReplicas float64
		wantImage    string
	}{
		{"chart defaults", nil, nil, 1, "ghcr.io/org/shop:v1.0.0"},
		{"a values file", []string{"values/three-replicas.yaml"}, nil, 3, "registry.example.com/shop:v1.0.0"},
		{"later files win", []string{"values/three-replicas.yaml", "values/four-replicas.yaml"}, nil, 4, "registry.example.com/shop:v1.0.0"},
		{"in the order given", []string{"values/four-replicas.yaml", "values/three-replicas.yaml"}, nil, 3, "registry.example.com/shop:v1.0.0"},
		{"values on top of files", []string{"values/three-replicas.yaml"}, map[string]any{"replicaCount": 5}, 5, "registry.example.com/shop:v1.0.0"},
		{"values merge into nested tables", []string{"values/three-replicas.yaml"}, map[string]any{"image": map[string]any{"tag": "v2.0.0"}}, 3, "registry.example.com/shop:v2.0.0"},
		{"values alone", nil, map[string]any{"replicaCount": 2, "image": map[string]any{"tag": "v2.0.0"}}, 2, "ghcr.io/org/shop:v2.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := shop(t, func(a *chart.Args) { a.ValuesFiles, a.Values = tc.files, tc.values })
			require.NoError(t, err)
			deployment := r.App[2].Obj
			require.Equal(t, "Deployment", deployment["kind"])
			spec := deployment["spec"].(map[string]any)
			assert.Equal(t, tc.wantReplicas, spec["replicas"])
			containers := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
			assert.Equal(t, tc.wantImage, containers[0].(map[string]any)["image"])
			// The hooks see the same values.
			migrate := r.PreDeploy[1].Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
			assert.Equal(t, tc.wantImage, migrate[0].(map[string]any)["image"])
		})
	}
}

func TestRenderLeavesValuesAlone(t *testing.T) {
	values := map[string]any{"image": map[string]any{"tag": "v2.0.0"}}
	_, err := shop(t, func(a *chart.Args) {
		a.Values = values
		a.ValuesFiles = []string{"values/three-replicas.yaml"}
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"image": map[string]any{"tag": "v2.0.0"}}, values)
}

// annotations of the Deployment, where the fixture writes what .Capabilities and .Release say.
func annotations(t *testing.T, r chart.Rendered) map[string]any {
	t.Helper()
	require.Len(t, r.App, 3)
	return r.App[2].Obj["metadata"].(map[string]any)["annotations"].(map[string]any)
}

func TestRenderKubeVersion(t *testing.T) {
	for _, tc := range []struct {
		kubeVersion string
		want        string
	}{
		{"", "v1.36.3"},
		{"v1.30.0", "v1.30.0"},
		{"1.33.2", "v1.33.2"},
	} {
		t.Run(tc.kubeVersion, func(t *testing.T) {
			r, err := shop(t, func(a *chart.Args) { a.KubeVersion = tc.kubeVersion })
			require.NoError(t, err)
			assert.Equal(t, tc.want, annotations(t, r)["shop.example.com/kube-version"])
		})
	}
}

func TestRenderRelease(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		args                        chart.Args
		wantUpgrade, wantNamespace  string
		wantDeployment, wantMigrate string
	}{
		{"install by default", chart.Args{ReleaseName: "shop", Namespace: "shop"}, "false", "shop", "shop", "shop-migrate"},
		{"upgrade", chart.Args{ReleaseName: "shop", Namespace: "shop", IsUpgrade: true}, "true", "shop", "shop", "shop-migrate"},
		{"release name and namespace", chart.Args{ReleaseName: "web", Namespace: "prod"}, "false", "prod", "web", "web-migrate"},
		{"namespace defaults to default", chart.Args{ReleaseName: "web"}, "false", "default", "web", "web-migrate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.args
			a.Root, a.Path = "testdata", "shop"
			r, err := chart.Render(a)
			require.NoError(t, err)
			anns := annotations(t, r)
			assert.Equal(t, tc.wantUpgrade, anns["shop.example.com/is-upgrade"])
			assert.Equal(t, tc.wantNamespace, anns["shop.example.com/namespace"])
			assert.Equal(t, tc.wantDeployment, r.App[2].Obj["metadata"].(map[string]any)["name"])
			assert.Equal(t, tc.wantMigrate, r.PreDeploy[1].Name)
			// Helm writes no namespace into the objects.
			assert.NotContains(t, r.App[2].Obj["metadata"], "namespace")
		})
	}
}

func TestRenderSubcharts(t *testing.T) {
	r, err := chart.Render(chart.Args{Root: "testdata", Path: "umbrella", ReleaseName: "u", Tests: true})
	require.NoError(t, err)

	// The crds/ files are apart from the app; extras is disabled by its condition; worker gets
	// the parent's values.
	assert.Equal(t, []obj{
		{"umbrella/crds/queue.yaml", "CustomResourceDefinition", "queues.example.com"},
	}, objs(r.CRDs))
	assert.Equal(t, []obj{
		{"umbrella/charts/worker/templates/deployment.yaml", "Deployment", "u-worker"},
	}, objs(r.App))
	args := r.App[0].Obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["args"]
	assert.Equal(t, []any{"--queue", "orders"}, args)

	// The drain Job is an upgrade hook: idle on an install.
	assert.Empty(t, r.PreDeploy)
	assert.Equal(t, []hookSeen{{"umbrella/charts/worker/templates/drain-job.yaml", "Job", "u-worker-drain", []string{"pre-upgrade", "pre-rollback"}, 1, nil}}, hooks(r.Idle))
	// Helm 2's test-success is read as test.
	assert.Equal(t, []hookSeen{{"umbrella/charts/worker/templates/test-queue.yaml", "Pod", "u-worker-test", []string{"test"}, 0, nil}}, hooks(r.PostDeploy))
	assert.Equal(t, []string{
		"hook Job/u-worker-drain (umbrella/charts/worker/templates/drain-job.yaml) runs for pre-upgrade but not for pre-rollback: pulumi-jobs runs install, upgrade and delete hooks only",
	}, r.Skipped)
}

// packageShop writes testdata/shop as dir/shop-0.1.0.tgz, as `helm package` does.
func packageShop(t *testing.T, dir string) string {
	t.Helper()
	ch, err := loader.Load("testdata/shop")
	require.NoError(t, err)
	file, err := chartutil.Save(ch, dir)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "shop-0.1.0.tgz"), file)
	return file
}

var shopApp = []obj{
	{"shop/templates/configmap.yaml", "ConfigMap", "shop-config"},
	{"shop/templates/service.yaml", "Service", "shop"},
	{"shop/templates/deployment.yaml", "Deployment", "shop"},
}

func TestRenderPackagedChart(t *testing.T) {
	archive := packageShop(t, t.TempDir())
	r, err := chart.Render(chart.Args{Root: "testdata", Path: archive, ReleaseName: "shop"})
	require.NoError(t, err)
	assert.Equal(t, shopApp, objs(r.App))
	assert.Equal(t, []hookSeen{migrateConfig, migrateJob, initialSecret}, hooks(r.PreDeploy))
}

// TestRenderUpgrade: an upgrade runs the upgrade hooks; the install-only
// Secret is idle, its home the phase an install creates it in.
func TestRenderUpgrade(t *testing.T) {
	r, err := chart.Render(chart.Args{Root: "testdata", Path: "shop", ReleaseName: "shop", Namespace: "shop", IsUpgrade: true})
	require.NoError(t, err)
	assert.Equal(t, shopApp, objs(r.App))
	assert.Equal(t, []hookSeen{migrateConfig, migrateJob, backupJob}, hooks(r.PreDeploy))
	assert.Equal(t, []hookSeen{smokeJob}, hooks(r.PostDeploy))
	assert.Equal(t, []hookSeen{initialSecret}, hooks(r.Idle))
	assert.Equal(t, hook.None, r.Idle[0].Runs)
	assert.Equal(t, hook.Pre, r.Idle[0].Home)
	assert.Equal(t, hook.Pre, r.PreDeploy[2].Runs)
}

// helmHome points Helm's cache, config and data at a fresh directory.
func helmHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HELM_CACHE_HOME", filepath.Join(home, "cache"))
	t.Setenv("HELM_CONFIG_HOME", filepath.Join(home, "config"))
	t.Setenv("HELM_DATA_HOME", filepath.Join(home, "data"))
	for _, k := range []string{"HELM_REPOSITORY_CACHE", "HELM_REPOSITORY_CONFIG", "HELM_REGISTRY_CONFIG"} {
		t.Setenv(k, "") // restored after the test
		require.NoError(t, os.Unsetenv(k))
	}
}

func TestRenderFromRepository(t *testing.T) {
	helmHome(t)
	dir := t.TempDir()
	packageShop(t, dir)
	server := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(server.Close)
	index, err := repo.IndexDirectory(dir, server.URL)
	require.NoError(t, err)
	require.NoError(t, index.WriteFile(filepath.Join(dir, "index.yaml"), 0o644))

	for _, version := range []string{"0.1.0", ""} {
		t.Run("version "+version, func(t *testing.T) {
			r, err := chart.Render(chart.Args{Repo: server.URL, Chart: "shop", Version: version, ReleaseName: "shop"})
			require.NoError(t, err)
			assert.Equal(t, shopApp, objs(r.App))
			assert.Equal(t, []hookSeen{smokeJob}, hooks(r.PostDeploy))
		})
	}

	_, err = chart.Render(chart.Args{Repo: server.URL, Chart: "shop", Version: "9.9.9", ReleaseName: "shop"})
	assert.ErrorContains(t, err, "chart shop 9.9.9 from "+server.URL+": cannot find it in repository "+server.URL+": ")
	assert.ErrorContains(t, err, "check that the repository is reachable from here and holds that chart and version, or vendor the chart and give its path")
}

func TestRenderUnreachableRepository(t *testing.T) {
	helmHome(t)
	server := httptest.NewServer(http.NotFoundHandler())
	url := server.URL
	server.Close() // nothing listens there any more

	_, err := chart.Render(chart.Args{Repo: url, Chart: "shop", Version: "0.1.0", ReleaseName: "shop"})
	require.Error(t, err)
	assert.Regexp(t, `^chart shop 0\.1\.0 from `+regexp.QuoteMeta(url)+`: cannot find it in repository `+regexp.QuoteMeta(url)+`: .*connection refused.*: check that the repository is reachable from here`, err.Error())
}

func TestRenderOnceOnlyOfTheFixture(t *testing.T) {
	r, err := shop(t, nil)
	require.NoError(t, err)
	var once []string
	for _, h := range append(r.PreDeploy, r.PostDeploy...) {
		if hook.OnceOnly(h) {
			once = append(once, h.Kind+"/"+h.Name)
		}
	}
	assert.Equal(t, []string{"Secret/shop-initial-password"}, once)
}

func TestRenderErrors(t *testing.T) {
	library := filepath.Join(t.TempDir(), "lib")
	require.NoError(t, os.MkdirAll(library, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(library, "Chart.yaml"), []byte("apiVersion: v2\nname: lib\nversion: 1.0.0\ntype: library\n"), 0o644))

	for _, tc := range []struct {
		name   string
		args   chart.Args
		want   string // the whole message, or its start when wantIs is set
		wantIs error
	}{
		{
			name:   "missing chart path",
			args:   chart.Args{Root: "testdata", Path: "charts/none", ReleaseName: "shop"},
			want:   "chart charts/none: stat testdata/charts/none: no such file or directory: the path is relative to the project directory and must be a chart directory or a .tgz",
			wantIs: fs.ErrNotExist,
		},
		{
			name:   "missing values file",
			args:   chart.Args{Root: "testdata", Path: "shop", ReleaseName: "shop", ValuesFiles: []string{"values/four-replicas.yaml", "values/none.yaml"}},
			want:   "chart shop: values files [values/four-replicas.yaml values/none.yaml]: open testdata/values/none.yaml: no such file or directory: values files are YAML files relative to the project directory",
			wantIs: fs.ErrNotExist,
		},
		{
			name: "bad values file",
			args: chart.Args{Root: "testdata", Path: "shop", ReleaseName: "shop", ValuesFiles: []string{"values/broken.yaml"}},
			want: "chart shop: values files [values/broken.yaml]: failed to parse testdata/values/broken.yaml: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']': values files are YAML files relative to the project directory",
		},
		{
			name: "not a chart",
			args: chart.Args{Root: "testdata", Path: "values", ReleaseName: "shop"},
			want: "chart values: cannot load it: Chart.yaml file is missing: the path must be a chart directory with a Chart.yaml, or a .tgz made by `helm package`",
		},
		{
			name: "library chart",
			args: chart.Args{Path: library, ReleaseName: "shop"},
			want: "chart lib (" + library + "): it is a library chart, which cannot be installed: give an application chart",
		},
		{
			name: "kubeVersion not satisfied",
			args: chart.Args{Root: "testdata", Path: "shop", ReleaseName: "shop", KubeVersion: "v1.29.9"},
			want: "chart shop: cannot render it: chart requires kubeVersion: >= 1.30.0-0 which is incompatible with Kubernetes v1.29.9: set the Kubernetes version the chart is rendered for to the cluster's (it is v1.29.9)",
		},
		{
			name: "template fails",
			args: chart.Args{Root: "testdata", Path: "shop", ReleaseName: "shop", Values: map[string]any{"image": map[string]any{"tag": nil}}},
			want: "chart shop: cannot render it: execution error at (shop/templates/smoke-job.yaml:15:20): image.tag is required: the release sets it",
		},
		{
			name: "kube version not a version",
			args: chart.Args{Root: "testdata", Path: "shop", ReleaseName: "shop", KubeVersion: "latest"},
			want: `chart shop: kube version "latest": could not parse "latest" as version: write a version such as "v1.36.3"`,
		},
		{
			name: "dependency not in charts/",
			args: chart.Args{Root: "testdata", Path: "missing-dependency", ReleaseName: "shop"},
			want: "chart missing-dependency: found in Chart.yaml, but missing in charts/ directory: postgresql: run `helm dependency build` in the chart's directory so that its charts/ folder holds them",
		},
		{
			name: "hook weight not a number",
			args: chart.Args{Root: "testdata", Path: "bad-weight", ReleaseName: "shop"},
			want: `chart bad-weight: hook Job/shop-migrate (bad-weight/templates/job.yaml): helm.sh/hook-weight "first" is not a whole number: write one such as "-5" (Helm would run it at weight 0)`,
		},
		{
			name: "no release name",
			args: chart.Args{Root: "testdata", Path: "shop"},
			want: "chart shop: no release name: set the app's name",
		},
		{
			name: "release name Helm refuses",
			args: chart.Args{Root: "testdata", Path: "shop", ReleaseName: "Shop_1"},
			want: "chart shop: cannot render it: release name \"Shop_1\": invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53",
		},
		{
			name: "no chart",
			args: chart.Args{ReleaseName: "shop"},
			want: "no chart: give a path, or a repo, chart and version",
		},
		{
			name: "path and repository",
			args: chart.Args{Path: "charts/shop", Repo: "https://charts.example.com", Chart: "shop", Version: "1.0.0", ReleaseName: "shop"},
			want: "chart charts/shop: both a path and a repository chart (shop from https://charts.example.com): give one of them",
		},
		{
			name: "repository without chart",
			args: chart.Args{Repo: "https://charts.example.com", ReleaseName: "shop"},
			want: "chart repository https://charts.example.com: no chart: give the name of the chart in it",
		},
		{
			name: "chart without repository",
			args: chart.Args{Chart: "shop", Version: "1.0.0", ReleaseName: "shop"},
			want: "chart shop: no repo: give the repository's URL (https://… or oci://…), or the chart's path",
		},
		{
			name: "repository not a URL",
			args: chart.Args{Repo: "charts.example.com", Chart: "shop", Version: "1.0.0", ReleaseName: "shop"},
			want: `chart shop 1.0.0 from charts.example.com: repo "charts.example.com" is not a URL: write it as https://… or oci://…`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chart.Render(tc.args)
			assert.EqualError(t, err, tc.want)
			if tc.wantIs != nil {
				assert.ErrorIs(t, err, tc.wantIs)
			}
		})
	}
}
