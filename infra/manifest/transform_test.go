package manifest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSetNamespace(t *testing.T) {
	objs := objects(t, "app.yaml", `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: v1
kind: Secret
metadata: {name: token, namespace: other}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: empty-ns, namespace: ""}
---
apiVersion: v1
kind: Namespace
metadata: {name: my-app}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: global}
---
apiVersion: other.example.com/v1
kind: Widget
metadata: {name: namespaced-by-default}
---
apiVersion: v1
kind: Node
metadata: {name: core-node}
---
apiVersion: example.com/v1
kind: Node
metadata: {name: custom-node}
---
apiVersion: v1
kind: ConfigMap
`)
	SetNamespace(objs, "my-app")
	var got []string
	for _, o := range objs {
		ns, hasNS := o.Obj["metadata"].(map[string]any)["namespace"]
		if !hasNS {
			ns = "-"
		}
		got = append(got, o.Obj["apiVersion"].(string)+" "+Kind(o)+"/"+Name(o)+": "+ns.(string))
	}
	assert.Equal(t, []string{
		"v1 ConfigMap/settings: my-app",
		"v1 Secret/token: other",
		"v1 ServiceAccount/empty-ns: my-app",
		"v1 Namespace/my-app: -",
		"rbac.authorization.k8s.io/v1 ClusterRole/reader: -",
		"rbac.authorization.k8s.io/v1 Role/reader: my-app",
		"apiextensions.k8s.io/v1 CustomResourceDefinition/widgets.example.com: -",
		"example.com/v1 Widget/global: -",
		"other.example.com/v1 Widget/namespaced-by-default: my-app",
		"v1 Node/core-node: -",
		"example.com/v1 Node/custom-node: my-app",
		"v1 ConfigMap/: my-app", // metadata created
	}, got)
}

func TestPodSpecPath(t *testing.T) {
	tests := []struct {
		kind   string
		want   []string
		wantOK bool
	}{
		{"Deployment", []string{"spec", "template", "spec"}, true},
		{"StatefulSet", []string{"spec", "template", "spec"}, true},
		{"DaemonSet", []string{"spec", "template", "spec"}, true},
		{"ReplicaSet", []string{"spec", "template", "spec"}, true},
		{"Job", []string{"spec", "template", "spec"}, true},
		{"ReplicationController", []string{"spec", "template", "spec"}, true},
		{"CronJob", []string{"spec", "jobTemplate", "spec", "template", "spec"}, true},
		{"Pod", []string{"spec"}, true},
		{"PodTemplate", nil, false},
		{"Service", nil, false},
		{"deployment", nil, false},
		{"", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			got, ok := PodSpecPath(tt.kind)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// images lists every container's image as "Kind/name list[i]=image", with
// each kind's pod template path spelled out here.
func images(objs []Object) []string {
	paths := map[string][]string{
		"Deployment": {"spec", "template", "spec"},
		"Job":        {"spec", "template", "spec"},
		"CronJob":    {"spec", "jobTemplate", "spec", "template", "spec"},
		"Pod":        {"spec"},
	}
	var out []string
	for _, o := range objs {
		path, ok := paths[Kind(o)]
		if !ok {
			continue
		}
		spec := o.Obj
		for _, key := range path {
			spec = spec[key].(map[string]any)
		}
		for _, list := range []string{"initContainers", "containers"} {
			items, _ := spec[list].([]any)
			for _, item := range items {
				c := item.(map[string]any)
				out = append(out, Kind(o)+"/"+Name(o)+" "+list+"."+c["name"].(string)+"="+c["image"].(string))
			}
		}
	}
	return out
}

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestSetImage(t *testing.T) {
	deployment := func(containers string) string {
		return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  template:
    spec:
` + containers
	}
	tests := []struct {
		name     string
		manifest string
		image    string
		want     int
		images   []string
	}{
		{
			name:     "tag change",
			manifest: deployment("      containers: [{name: web, image: ghcr.io/org/my-app:v0.9.0}]"),
			image:    "ghcr.io/org/my-app:v1.0.0",
			want:     1,
			images:   []string{"Deployment/app containers.web=ghcr.io/org/my-app:v1.0.0"},
		},
		{
			name:     "untagged image gets the tag",
			manifest: deployment("      containers: [{name: web, image: ghcr.io/org/my-app}]"),
			image:    "ghcr.io/org/my-app:v1.0.0",
			want:     1,
			images:   []string{"Deployment/app containers.web=ghcr.io/org/my-app:v1.0.0"},
		},
		{
			name:     "digest in the file is replaced by a tag",
			manifest: deployment("      containers: [{name: web, image: ghcr.io/org/my-app@" + digest + "}]"),
			image:    "ghcr.io/org/my-app:v2",
			want:     1,
			images:   []string{"Deployment/app containers.web=ghcr.io/org/my-app:v2"},
		},
		{
			name:     "release image with a digest",
			manifest: deployment("      containers: [{name: web, image: ghcr.io/org/my-app:v1}]"),
			image:    "ghcr.io/org/my-app@" + digest,
			want:     1,
			images:   []string{"Deployment/app containers.web=ghcr.io/org/my-app@" + digest},
		},
		{
			name: "other repositories untouched: other name, longer name, other registry, other namespace",
			manifest: deployment(`      containers:
        - {name: web, image: ghcr.io/org/my-app:v1}
        - {name: other, image: ghcr.io/org/other:v1}
        - {name: worker, image: ghcr.io/org/my-app-worker:v1}
        - {name: hub, image: docker.io/org/my-app:v1}
        - {name: fork, image: ghcr.io/fork/my-app:v1}
`),
			image: "ghcr.io/org/my-app:v2",
			want:  1,
			images: []string{
				"Deployment/app containers.web=ghcr.io/org/my-app:v2",
				"Deployment/app containers.other=ghcr.io/org/other:v1",
				"Deployment/app containers.worker=ghcr.io/org/my-app-worker:v1",
				"Deployment/app containers.hub=docker.io/org/my-app:v1",
				"Deployment/app containers.fork=ghcr.io/fork/my-app:v1",
			},
		},
		{
			name: "docker.io normalization both ways",
			manifest: deployment(`      containers:
        - {name: short, image: "nginx:1.25"}
        - {name: library, image: "library/nginx"}
        - {name: full, image: "docker.io/library/nginx:1.24"}
        - {name: index, image: "index.docker.io/library/nginx:1.23"}
`),
			image: "nginx:1.27",
			want:  4,
			images: []string{
				"Deployment/app containers.short=nginx:1.27",
				"Deployment/app containers.library=nginx:1.27",
				"Deployment/app containers.full=nginx:1.27",
				"Deployment/app containers.index=nginx:1.27",
			},
		},
		{
			name:     "short file image, full release image",
			manifest: deployment("      containers: [{name: web, image: nginx}]"),
			image:    "docker.io/library/nginx:1.27",
			want:     1,
			images:   []string{"Deployment/app containers.web=docker.io/library/nginx:1.27"},
		},
		{
			name: "init containers too",
			manifest: deployment(`      initContainers:
        - {name: migrate, image: ghcr.io/org/my-app:v1}
        - {name: wait, image: busybox:1.36}
      containers:
        - {name: web, image: ghcr.io/org/my-app:v1}
`),
			image: "ghcr.io/org/my-app:v2",
			want:  2,
			images: []string{
				"Deployment/app initContainers.migrate=ghcr.io/org/my-app:v2",
				"Deployment/app initContainers.wait=busybox:1.36",
				"Deployment/app containers.web=ghcr.io/org/my-app:v2",
			},
		},
		{
			name: "CronJob, Job and Pod; other kinds untouched",
			manifest: `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: report, image: ghcr.io/org/my-app:v1}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: db-migration}
spec:
  template:
    spec:
      containers: [{name: migrate, image: ghcr.io/org/my-app:v1}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  containers: [{name: shell, image: ghcr.io/org/my-app:v1}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: images}
data: {image: ghcr.io/org/my-app:v1}
`,
			image: "ghcr.io/org/my-app:v2",
			want:  3,
			images: []string{
				"CronJob/nightly containers.report=ghcr.io/org/my-app:v2",
				"Job/db-migration containers.migrate=ghcr.io/org/my-app:v2",
				"Pod/debug containers.shell=ghcr.io/org/my-app:v2",
			},
		},
		{
			name:     "already the release image: counted, unchanged",
			manifest: deployment("      containers: [{name: web, image: ghcr.io/org/my-app:v1}]"),
			image:    "ghcr.io/org/my-app:v1",
			want:     1,
			images:   []string{"Deployment/app containers.web=ghcr.io/org/my-app:v1"},
		},
		{
			name:     "no match: the file's images stand",
			manifest: deployment("      containers: [{name: web, image: ghcr.io/org/web:v1}]"),
			image:    "ghcr.io/org/my-app:v2",
			want:     0,
			images:   []string{"Deployment/app containers.web=ghcr.io/org/web:v1"},
		},
		{
			name:     "unparsable images match nothing",
			manifest: deployment("      containers: [{name: web, image: \"$(IMAGE)\"}, {name: up, image: \"UPPER/case\"}]"),
			image:    "$(IMAGE)",
			want:     0,
			images:   []string{"Deployment/app containers.web=$(IMAGE)", "Deployment/app containers.up=UPPER/case"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := objects(t, "app.yaml", tt.manifest)
			assert.Equal(t, tt.want, SetImage(objs, tt.image))
			assert.Equal(t, tt.images, images(objs))
		})
	}
}
