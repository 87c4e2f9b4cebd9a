package manifest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
)

// dropAll is what a filled container's capabilities are.
func dropAll() map[string]any { return map[string]any{"drop": []any{"ALL"}} }

func TestFillPodSecurityFluxJob(t *testing.T) {
	objs, err := Load("testdata/flux", "pre-deploy/migration.job.yaml")
	require.NoError(t, err)
	assert.Empty(t, FillPodSecurity(objs))
	assert.Equal(t, map[string]any{
		"restartPolicy": "Never",
		"securityContext": map[string]any{
			"runAsNonRoot":   true,
			"seccompProfile": map[string]any{"type": "RuntimeDefault"},
		},
		"containers": []any{
			map[string]any{
				"name":    "migrate",
				"image":   "ghcr.io/org/my-app:v0.9.0",
				"command": []any{"sh", "-c", "./migrate up && echo migrated"},
				"securityContext": map[string]any{
					"allowPrivilegeEscalation": false,
					"capabilities":             dropAll(),
				},
			},
		},
	}, objs[0].Obj["spec"].(map[string]any)["template"].(map[string]any)["spec"])
}

// podSpecOf returns the pod template spec of a test object by its kind.
func podSpecOf(o Object) any {
	spec := o.Obj["spec"].(map[string]any)
	switch Kind(o) {
	case "Pod":
		return spec
	case "CronJob":
		spec = spec["jobTemplate"].(map[string]any)["spec"].(map[string]any)
	}
	return spec["template"].(map[string]any)["spec"]
}

func TestFillPodSecurity(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     any // the pod template spec after filling
		problems []check.Problem
	}{
		{
			name: "empty and null security contexts are filled",
			manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      securityContext: {}
      initContainers:
        - {name: init, image: app, securityContext: null}
      containers:
        - {name: web, image: app, securityContext: {}}
        - {name: sidecar, image: proxy, securityContext: {allowPrivilegeEscalation: null, capabilities: {drop: null}}}
`,
			want: map[string]any{
				"securityContext": map[string]any{
					"runAsNonRoot":   true,
					"seccompProfile": map[string]any{"type": "RuntimeDefault"},
				},
				"initContainers": []any{
					map[string]any{"name": "init", "image": "app", "securityContext": map[string]any{"allowPrivilegeEscalation": false, "capabilities": dropAll()}},
				},
				"containers": []any{
					map[string]any{"name": "web", "image": "app", "securityContext": map[string]any{"allowPrivilegeEscalation": false, "capabilities": dropAll()}},
					map[string]any{"name": "sidecar", "image": "proxy", "securityContext": map[string]any{"allowPrivilegeEscalation": false, "capabilities": dropAll()}},
				},
			},
		},
		{
			name: "fields the file sets are kept; a drop without ALL is a problem",
			manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      securityContext: {runAsUser: 1000, fsGroup: 2000, seccompProfile: {type: Localhost, localhostProfile: app.json}}
      containers:
        - name: web
          image: app
          securityContext:
            readOnlyRootFilesystem: true
            capabilities: {add: [NET_BIND_SERVICE], drop: [NET_RAW]}
`,
			want: map[string]any{
				"securityContext": map[string]any{
					"runAsUser":      int64(1000),
					"fsGroup":        int64(2000),
					"runAsNonRoot":   true,
					"seccompProfile": map[string]any{"type": "Localhost", "localhostProfile": "app.json"},
				},
				"containers": []any{
					map[string]any{"name": "web", "image": "app", "securityContext": map[string]any{
						"readOnlyRootFilesystem":   true,
						"allowPrivilegeEscalation": false,
						"capabilities":             map[string]any{"add": []any{"NET_BIND_SERVICE"}, "drop": []any{"NET_RAW"}},
					}},
				},
			},
			problems: []check.Problem{{
				Key:     "deploy/app.yaml: Deployment/web: spec.template.spec.containers[0].securityContext.capabilities.drop",
				Message: `unrestricted capabilities (container "web" must set securityContext.capabilities.drop=["ALL"]): add "ALL" to it, e.g. drop: ["ALL"]; the namespace enforces Pod Security restricted`,
			}},
		},
		{
			name: "every container sets runAsNonRoot and seccompProfile: the pod gets neither",
			manifest: `
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: a
      image: app
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`,
			want: map[string]any{
				"containers": []any{
					map[string]any{"name": "a", "image": "app", "securityContext": map[string]any{
						"runAsNonRoot":             true,
						"seccompProfile":           map[string]any{"type": "RuntimeDefault"},
						"allowPrivilegeEscalation": false,
						"capabilities":             dropAll(),
					}},
				},
			},
		},
		{
			name: "one container sets them, the other does not: the pod gets both",
			manifest: `
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - {name: a, image: app, securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}}
    - {name: b, image: app}
`,
			want: map[string]any{
				"securityContext": map[string]any{
					"runAsNonRoot":   true,
					"seccompProfile": map[string]any{"type": "RuntimeDefault"},
				},
				"containers": []any{
					map[string]any{"name": "a", "image": "app", "securityContext": map[string]any{
						"runAsNonRoot":             true,
						"seccompProfile":           map[string]any{"type": "RuntimeDefault"},
						"allowPrivilegeEscalation": false,
						"capabilities":             dropAll(),
					}},
					map[string]any{"name": "b", "image": "app", "securityContext": map[string]any{
						"allowPrivilegeEscalation": false,
						"capabilities":             dropAll(),
					}},
				},
			},
		},
		{
			name: "Windows pod: only runAsNonRoot",
			manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: win}
spec:
  template:
    spec:
      os: {name: windows}
      containers: [{name: iis, image: mcr.microsoft.com/windows/servercore/iis}]
`,
			want: map[string]any{
				"os":              map[string]any{"name": "windows"},
				"securityContext": map[string]any{"runAsNonRoot": true},
				"containers":      []any{map[string]any{"name": "iis", "image": "mcr.microsoft.com/windows/servercore/iis"}},
			},
		},
		{
			name: "violations: each refused field, named precisely",
			manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  template:
    spec:
      hostNetwork: true
      securityContext: {runAsNonRoot: false}
      volumes:
        - {name: host, hostPath: {path: /var/run}}
        - {name: tmp, emptyDir: {}}
      containers:
        - name: app
          image: app
          ports: [{containerPort: 80, hostPort: 80}]
          securityContext:
            privileged: true
            runAsUser: 0
            capabilities: {add: [SYS_ADMIN]}
`,
			want: map[string]any{
				"hostNetwork": true,
				"securityContext": map[string]any{
					"runAsNonRoot":   false,
					"seccompProfile": map[string]any{"type": "RuntimeDefault"},
				},
				"volumes": []any{
					map[string]any{"name": "host", "hostPath": map[string]any{"path": "/var/run"}},
					map[string]any{"name": "tmp", "emptyDir": map[string]any{}},
				},
				"containers": []any{
					map[string]any{
						"name":  "app",
						"image": "app",
						"ports": []any{map[string]any{"containerPort": int64(80), "hostPort": int64(80)}},
						"securityContext": map[string]any{
							"privileged":               true,
							"runAsUser":                int64(0),
							"allowPrivilegeEscalation": false,
							"capabilities":             map[string]any{"add": []any{"SYS_ADMIN"}, "drop": []any{"ALL"}},
						},
					},
				},
			},
			problems: []check.Problem{
				{
					Key:     "deploy/app.yaml: Deployment/bad: spec.template.spec.hostNetwork",
					Message: "host namespaces (hostNetwork=true): remove it or set it to false; the namespace enforces Pod Security restricted",
				},
				{
					Key:     "deploy/app.yaml: Deployment/bad: spec.template.spec.containers[0].ports[0].hostPort",
					Message: `hostPort (container "app" uses hostPort 80): remove it; reach the pod through a Service; the namespace enforces Pod Security restricted`,
				},
				{
					Key:     "deploy/app.yaml: Deployment/bad: spec.template.spec.containers[0].securityContext.privileged",
					Message: `privileged (container "app" must not set securityContext.privileged=true): remove it or set it to false; the namespace enforces Pod Security restricted`,
				},
				{
					Key:     "deploy/app.yaml: Deployment/bad: spec.template.spec.containers[0].securityContext.capabilities.add",
					Message: `unrestricted capabilities (container "app" must not include "SYS_ADMIN" in securityContext.capabilities.add): remove it; restricted allows adding only NET_BIND_SERVICE; the namespace enforces Pod Security restricted`,
				},
				{
					Key:     "deploy/app.yaml: Deployment/bad: spec.template.spec.volumes[0].hostPath",
					Message: `restricted volume types (volume "host" uses restricted volume type "hostPath"): use a volume type restricted allows: configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret; the namespace enforces Pod Security restricted`,
				},
				{
					Key:     "deploy/app.yaml: Deployment/bad: spec.template.spec.securityContext.runAsNonRoot",
					Message: "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false): remove it or set it to true; the namespace enforces Pod Security restricted",
				},
				{
					Key:     "deploy/app.yaml: Deployment/bad: spec.template.spec.containers[0].securityContext.runAsUser",
					Message: `runAsUser=0 (container "app" must not set runAsUser=0): remove it or set a user ID other than 0, e.g. 1000 (and use an image that runs as that user); the namespace enforces Pod Security restricted`,
				},
			},
		},
		{
			name: "CronJob: an Unconfined seccomp profile in a container, escalation allowed",
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
          restartPolicy: Never
          containers:
            - name: report
              image: app
              securityContext: {seccompProfile: {type: Unconfined}, allowPrivilegeEscalation: true}
`,
			want: map[string]any{
				"restartPolicy":   "Never",
				"securityContext": map[string]any{"runAsNonRoot": true},
				"containers": []any{
					map[string]any{"name": "report", "image": "app", "securityContext": map[string]any{
						"seccompProfile":           map[string]any{"type": "Unconfined"},
						"allowPrivilegeEscalation": true,
						"capabilities":             dropAll(),
					}},
				},
			},
			problems: []check.Problem{
				{
					Key:     "deploy/app.yaml: CronJob/nightly: spec.jobTemplate.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
					Message: `allowPrivilegeEscalation != false (container "report" must set securityContext.allowPrivilegeEscalation=false): remove it or set it to false; the namespace enforces Pod Security restricted`,
				},
				{
					Key:     "deploy/app.yaml: CronJob/nightly: spec.jobTemplate.spec.template.spec.containers[0].securityContext.seccompProfile.type",
					Message: `seccompProfile (container "report" must not set securityContext.seccompProfile.type to "Unconfined"): set it to RuntimeDefault or Localhost, or remove it; the namespace enforces Pod Security restricted`,
				},
			},
		},
		{
			name: "a value Kubernetes cannot read is a problem at the pod spec",
			manifest: `
apiVersion: v1
kind: Pod
metadata: {name: typo}
spec:
  containers: [{name: a, image: app, securityContext: {privileged: "yes"}}]
`,
			want: map[string]any{
				"securityContext": map[string]any{
					"runAsNonRoot":   true,
					"seccompProfile": map[string]any{"type": "RuntimeDefault"},
				},
				"containers": []any{
					map[string]any{"name": "a", "image": "app", "securityContext": map[string]any{
						"privileged":               "yes",
						"allowPrivilegeEscalation": false,
						"capabilities":             dropAll(),
					}},
				},
			},
			problems: []check.Problem{{
				Key:     "deploy/app.yaml: Pod/typo: spec",
				Message: `is not a pod spec Kubernetes can read: json: cannot unmarshal string into Go struct field SecurityContext.containers.securityContext.privileged of type bool; fix the field it names`,
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := objects(t, "deploy/app.yaml", tt.manifest)
			problems := FillPodSecurity(objs)
			assert.Equal(t, tt.want, podSpecOf(objs[0]))
			assert.Equal(t, tt.problems, problems)
		})
	}
}

func TestFillPodSecurityLeavesOtherKindsAlone(t *testing.T) {
	objs := objects(t, "deploy/app.yaml", `
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: PodTemplate
metadata: {name: t}
template:
  spec:
    containers: [{name: a, image: app}]
`)
	assert.Empty(t, FillPodSecurity(objs))
	assert.Equal(t, map[string]any{"ports": []any{map[string]any{"port": int64(80)}}}, objs[0].Obj["spec"])
	assert.Equal(t, map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "a", "image": "app"}}}}, objs[1].Obj["template"])
}

// TestRestrictedChecksAsTheEvaluator guards restrictedChecks, the selection
// of checks made here so that each result has its check's ID: for pods that
// fail in many ways, it must fail exactly as the library's own evaluator for
// restricted, latest.
func TestRestrictedChecksAsTheEvaluator(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	objs := objects(t, "pods.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: empty}
spec:
  containers: [{name: a, image: app}]
---
apiVersion: v1
kind: Pod
metadata:
  name: everything
  annotations: {container.apparmor.security.beta.kubernetes.io/a: unconfined}
spec:
  hostPID: true
  hostIPC: true
  securityContext:
    seLinuxOptions: {type: spc_t}
    sysctls: [{name: kernel.msgmax, value: "1"}]
    windowsOptions: {hostProcess: true}
    appArmorProfile: {type: Unconfined}
  volumes: [{name: share, nfs: {server: nfs.example.com, path: /}}]
  containers:
    - name: a
      image: app
      securityContext: {procMount: Unmasked, seccompProfile: {type: Unconfined}, capabilities: {add: [NET_RAW]}, runAsNonRoot: false}
      livenessProbe: {httpGet: {host: example.com, port: 80}}
`)
	for _, o := range objs {
		var pod corev1.PodSpec
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Obj["spec"].(map[string]any), &pod))
		var meta metav1.ObjectMeta
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Obj["metadata"].(map[string]any), &meta))
		var want, got []policy.CheckResult
		for _, r := range evaluator.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, &meta, &pod) {
			if !r.Allowed {
				want = append(want, r)
			}
		}
		for _, c := range restrictedChecks() {
			if r := c.pod(&meta, &pod); !r.Allowed {
				got = append(got, r)
			}
		}
		assert.NotEmpty(t, want, Name(o))
		assert.Equal(t, want, got, Name(o))
	}
}

func TestFillPodSecurityEveryCheckNamesAField(t *testing.T) {
	objs := objects(t, "pods.yaml", `
apiVersion: v1
kind: Pod
metadata:
  name: everything
  annotations: {container.apparmor.security.beta.kubernetes.io/a: unconfined}
spec:
  hostPID: true
  hostIPC: true
  securityContext:
    seLinuxOptions: {type: spc_t}
    sysctls: [{name: net.ipv4.tcp_syncookies, value: "1"}, {name: kernel.msgmax, value: "1"}]
    appArmorProfile: {type: Unconfined}
  volumes: [{name: cm, configMap: {name: c}}, {name: share, nfs: {server: nfs.example.com, path: /}}]
  initContainers:
    - name: i
      image: app
      securityContext: {procMount: Unmasked, runAsNonRoot: false, windowsOptions: {hostProcess: true}}
      lifecycle: {preStop: {tcpSocket: {host: example.com, port: 80}}}
  containers:
    - name: a
      image: app
      livenessProbe: {httpGet: {host: example.com, port: 80}}
`)
	var keys []string
	for _, p := range FillPodSecurity(objs) {
		keys = append(keys, p.Key)
	}
	assert.Equal(t, []string{
		"pods.yaml: Pod/everything: spec.securityContext.appArmorProfile.type",
		`pods.yaml: Pod/everything: metadata.annotations["container.apparmor.security.beta.kubernetes.io/a"]`,
		"pods.yaml: Pod/everything: spec.hostPID",
		"pods.yaml: Pod/everything: spec.hostIPC",
		"pods.yaml: Pod/everything: spec.initContainers[0].lifecycle.preStop.tcpSocket.host",
		"pods.yaml: Pod/everything: spec.containers[0].livenessProbe.httpGet.host",
		"pods.yaml: Pod/everything: spec.securityContext.seLinuxOptions",
		"pods.yaml: Pod/everything: spec.securityContext.sysctls[1]",
		"pods.yaml: Pod/everything: spec.initContainers[0].securityContext.windowsOptions.hostProcess",
		"pods.yaml: Pod/everything: spec.initContainers[0].securityContext.procMount",
		"pods.yaml: Pod/everything: spec.volumes[1].nfs",
		"pods.yaml: Pod/everything: spec.initContainers[0].securityContext.runAsNonRoot",
	}, keys)
}
