package manifest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// objects decodes manifests written in a test, as if read from source.
func objects(t *testing.T, source, yaml string) []Object {
	t.Helper()
	objs, err := decode([]byte(yaml), source)
	require.NoError(t, err)
	return objs
}

// names renders objs as their String, in order.
func names(objs []Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.String()
	}
	return out
}

// writeFiles writes files (path → content) under a new directory and
// returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	return dir
}

func TestLoad(t *testing.T) {
	abs, err := filepath.Abs("testdata/flux/deploy/service.yaml")
	require.NoError(t, err)
	tests := []struct {
		name       string
		root, path string
		want       []string
	}{
		{
			name: "Flux layout: a directory of files, by file name",
			root: "testdata/flux", path: "deploy",
			want: []string{
				"Deployment/my-app (deploy/deployment.yaml)",
				"Ingress/my-app (deploy/ingress.yaml)",
				"Service/my-app (deploy/service.yaml)",
			},
		},
		{
			name: "Flux layout: one Job file",
			root: "testdata/flux", path: "pre-deploy/migration.job.yaml",
			want: []string{"Job/db-migration (pre-deploy/migration.job.yaml)"},
		},
		{
			name: "path with ./ and a trailing slash",
			root: "testdata/flux", path: "./deploy/",
			want: []string{
				"Deployment/my-app (deploy/deployment.yaml)",
				"Ingress/my-app (deploy/ingress.yaml)",
				"Service/my-app (deploy/service.yaml)",
			},
		},
		{
			name: "absolute path inside the project: named relative to it",
			root: "testdata/flux", path: abs,
			want: []string{"Service/my-app (deploy/service.yaml)"},
		},
		{
			name: "kustomization directory: built by kustomize (namePrefix)",
			root: "testdata/kustomize", path: "overlay",
			want: []string{
				"Deployment/staging-my-app (overlay (kustomization))",
				"Service/staging-my-app (overlay (kustomization))",
			},
		},
		{
			name: "a kustomization.yaml itself: its directory is built",
			root: "testdata/kustomize", path: "base/kustomization.yaml",
			want: []string{
				"Deployment/my-app (base (kustomization))",
				"Service/my-app (base (kustomization))",
			},
		},
		{
			name: "multi-document file with empty documents and a List, then a JSON file; other files ignored",
			root: "testdata", path: "multi",
			want: []string{
				"ConfigMap/settings (multi/all.yaml)",
				"ServiceAccount/my-app (multi/all.yaml)",
				"ClusterRole/my-app-reader (multi/all.yaml)",
				"Secret/token (multi/all.yaml)",
				"ConfigMap/retries (multi/retries.json)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Load(tt.root, tt.path)
			require.NoError(t, err)
			assert.Equal(t, tt.want, names(objs))
		})
	}
}

func TestLoadDecodesObjects(t *testing.T) {
	objs, err := Load("testdata/flux", "pre-deploy/migration.job.yaml")
	require.NoError(t, err)
	require.Len(t, objs, 1)
	assert.Equal(t, "Job", Kind(objs[0]))
	assert.Equal(t, "db-migration", Name(objs[0]))
	assert.Equal(t, map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": "db-migration"},
		"spec": map[string]any{
			"backoffLimit": int64(1),
			"template": map[string]any{
				"spec": map[string]any{
					"restartPolicy": "Never",
					"containers": []any{
						map[string]any{
							"name":    "migrate",
							"image":   "ghcr.io/org/my-app:v0.9.0",
							"command": []any{"sh", "-c", "./migrate up && echo migrated"},
						},
					},
				},
			},
		},
	}, objs[0].Obj)
}

func TestLoadNumbersAndStrings(t *testing.T) {
	objs := objects(t, "x.yaml", `
apiVersion: v1
kind: ConfigMap
metadata: {name: n}
spec: {count: 3, ratio: 0.5, quoted: "4", flag: true, none: null}
`)
	assert.Equal(t, map[string]any{"count": int64(3), "ratio": 0.5, "quoted": "4", "flag": true, "none": nil}, objs[0].Obj["spec"])
}

func TestLoadKustomization(t *testing.T) {
	objs, err := Load("testdata/kustomize", "overlay")
	require.NoError(t, err)
	require.Len(t, objs, 2)
	// namePrefix, labels and images of the overlay, over the base.
	assert.Equal(t, map[string]any{"name": "staging-my-app", "labels": map[string]any{"app": "my-app", "env": "staging"}}, objs[0].Obj["metadata"])
	assert.Equal(t, []any{map[string]any{
		"name":  "web",
		"image": "ghcr.io/org/my-app:v1.2.3",
		"ports": []any{map[string]any{"containerPort": int64(8080)}},
	}}, objs[0].Obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"])
	assert.Equal(t, map[string]any{"name": "staging-my-app", "labels": map[string]any{"env": "staging"}}, objs[1].Obj["metadata"])
}

func TestLoadList(t *testing.T) {
	objs, err := Load("testdata", "multi/all.yaml")
	require.NoError(t, err)
	require.Len(t, objs, 4)
	assert.Equal(t, map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "ClusterRole",
		"metadata":   map[string]any{"name": "my-app-reader"},
		"rules":      []any{},
	}, objs[2].Obj)
	// A document may start on the line of its "---".
	assert.Equal(t, map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": "token", "namespace": "other"},
		"stringData": map[string]any{"port": "5432"},
	}, objs[3].Obj)
}

func TestLoadErrors(t *testing.T) {
	tmp := writeFiles(t, map[string]string{
		"scalar.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\njust a string\n",
		"nothing.yaml":            "metadata:\n  name: lost\n",
		"listitem.yaml":           "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n  - {apiVersion: v1, metadata: {name: b}}\n",
		"badlater.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# comment\napiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n   c: d\n",
		"kust/kustomization.yaml": "resources:\n  - missing.yaml\n",
	})
	require.NoError(t, os.Mkdir(filepath.Join(tmp, "empty"), 0o755))
	tests := []struct {
		name       string
		root, path string
		want       string
	}{
		{
			name: "no path: not the whole project directory",
			root: "testdata/flux", path: " ",
			want: "no path given; give a YAML file, a directory of YAML files or a directory with a kustomization.yaml, relative to the project directory",
		},
		{
			name: "empty directory",
			root: tmp, path: "empty",
			want: "empty has no Kubernetes objects: it holds no *.yaml, *.yml or *.json file and no kustomization.yaml (subdirectories are not read); put the app's manifests there or give another path",
		},
		{
			name: "directory with only subdirectories",
			root: "testdata", path: "errors",
			want: "errors has no Kubernetes objects: it holds no *.yaml, *.yml or *.json file and no kustomization.yaml (subdirectories are not read); put the app's manifests there or give another path",
		},
		{
			name: "only comments and empty documents",
			root: "testdata/errors", path: "comments",
			want: "comments has no Kubernetes objects: every document in it is empty; put the app's manifests there or give another path",
		},
		{
			name: "document without kind",
			root: "testdata/errors", path: "nokind/two.yaml",
			want: "nokind/two.yaml: document 2 (line 7) has no kind; every Kubernetes object needs apiVersion and kind (e.g. apiVersion: apps/v1, kind: Deployment)",
		},
		{
			name: "document without apiVersion and kind",
			root: tmp, path: "nothing.yaml",
			want: "nothing.yaml: document 1 (line 1) has no apiVersion and no kind; every Kubernetes object needs apiVersion and kind (e.g. apiVersion: apps/v1, kind: Deployment)",
		},
		{
			name: "List item without kind",
			root: tmp, path: "listitem.yaml",
			want: "listitem.yaml: document 1 (line 1), items[1] has no kind; every Kubernetes object needs apiVersion and kind (e.g. apiVersion: apps/v1, kind: Deployment)",
		},
		{
			name: "bad YAML",
			root: "testdata/errors", path: "bad",
			want: "decoding bad/bad.yaml: document 1 (line 1): error converting YAML to JSON: yaml: line 6: did not find expected ',' or ']'",
		},
		{
			name: "bad YAML in a later document: the file's line numbers",
			root: tmp, path: "badlater.yaml",
			want: "decoding badlater.yaml: document 2 (line 6): error converting YAML to JSON: yaml: line 10: mapping values are not allowed in this context",
		},
		{
			name: "document that is not a mapping",
			root: tmp, path: "scalar.yaml",
			want: "decoding scalar.yaml: document 2 (line 5): a Kubernetes object is a mapping with apiVersion and kind, not a string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Load(tt.root, tt.path)
			assert.Nil(t, objs)
			assert.EqualError(t, err, tt.want)
		})
	}

	t.Run("missing path", func(t *testing.T) {
		_, err := Load("testdata", "nope")
		absRoot, _ := filepath.Abs("testdata")
		assert.EqualError(t, err, "nope is not a file or directory (stat testdata/nope: no such file or directory); give a YAML file, a directory of YAML files or a directory with a kustomization.yaml, relative to the project directory "+absRoot)
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
	t.Run("kustomization that does not build", func(t *testing.T) {
		_, err := Load(tmp, "kust")
		require.Error(t, err)
		assert.Regexp(t, `^building the kustomization kust: .*missing\.yaml.*; `+"`kustomize build kust`"+` shows the same$`, err.Error())
	})
}

func TestObjectHelpers(t *testing.T) {
	o := Object{Source: "deploy/deployment.yaml", Obj: map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": "shop"}}}
	assert.Equal(t, "Deployment", Kind(o))
	assert.Equal(t, "shop", Name(o))
	assert.Equal(t, "Deployment/shop (deploy/deployment.yaml)", o.String())
	empty := Object{Source: "x.yaml", Obj: map[string]any{"metadata": "not a mapping"}}
	assert.Equal(t, "", Kind(empty))
	assert.Equal(t, "", Name(empty))
}

func TestKept(t *testing.T) {
	for _, tc := range []struct {
		annotations map[string]any
		want        string
	}{
		{map[string]any{"helm.sh/resource-policy": "keep"}, "helm.sh/resource-policy: keep"},
		{map[string]any{"helm.sh/resource-policy": " keep "}, "helm.sh/resource-policy: keep"},
		{map[string]any{"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}, "argocd.argoproj.io/sync-options: Delete=false"},
		{map[string]any{"argocd.argoproj.io/sync-options": "Delete=false"}, "argocd.argoproj.io/sync-options: Delete=false"},
		{map[string]any{"kustomize.toolkit.fluxcd.io/prune": "disabled"}, "kustomize.toolkit.fluxcd.io/prune: disabled"},
		{map[string]any{"kustomize.toolkit.fluxcd.io/prune": "Disabled"}, "kustomize.toolkit.fluxcd.io/prune: disabled"},
		{map[string]any{"helm.sh/resource-policy": "delete"}, ""},
		{map[string]any{"argocd.argoproj.io/sync-options": "Prune=false"}, ""},
		{map[string]any{"kustomize.toolkit.fluxcd.io/prune": "enabled"}, ""},
		{nil, ""},
	} {
		o := Object{Source: "x.yaml", Obj: map[string]any{"kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "data", "annotations": tc.annotations}}}
		got, kept := Kept(o)
		assert.Equal(t, tc.want, got, "%v", tc.annotations)
		assert.Equal(t, tc.want != "", kept, "%v", tc.annotations)
	}
	got, kept := Kept(Object{Source: "x.yaml", Obj: map[string]any{"metadata": "not a mapping"}})
	assert.Empty(t, got)
	assert.False(t, kept)
}
