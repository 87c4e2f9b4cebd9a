package release_test

import (
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

const (
	podDeploymentURN = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::shop"
	podJobURN        = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-pre-deploy-migrate"
)

// podRelease is a release whose pod block every pod gets, the app's and
// the migration's merged over it.
func podRelease() *release.Args {
	return &release.Args{
		Namespace: pulumi.String("shop"), CreateNamespace: ptr(false), Image: pulumi.String("ghcr.io/acme/shop:1.4.2"),
		Pod: &pod.Settings{
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: ptr("registry")}},
			Annotations:      map[string]string{"sidecar.istio.io/inject": "false"},
		},
		App: release.App{
			Name:          "shop",
			LivenessProbe: &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: ptr("/livez"), Port: "http"}, PeriodSeconds: ptr(10)},
			StartupProbe:  &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: 8080}, FailureThreshold: ptr(30)},
			Pod: &pod.Settings{
				Labels:      map[string]string{"tier": "web"},
				Annotations: map[string]string{"prometheus.io/scrape": "true"},
				EnvFrom:     []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{Name: ptr("shop-env")}}},
			},
		},
		PreDeploy: []jobs.Job{{Name: "migrate", Command: []string{"./migrate"}, Pod: &pod.Settings{ServiceAccountName: "migrator"}}},
	}
}

// TestAppPodSettings: the app's Deployment with the release's block and
// its own merged, its probes, and no replicas: literals in, literals out.
func TestAppPodSettings(t *testing.T) {
	r := runProgram(t, "dev", newRelease("shop", podRelease()))
	dep := r.get(t, podDeploymentURN)
	assert.NotContains(t, dep.Inputs["spec"].ObjectValue(), resource.PropertyKey("replicas"))
	assert.Equal(t, map[string]any{
		"labels": map[string]any{"app.kubernetes.io/name": "shop", "app.kubernetes.io/part-of": "shop",
			"app.kubernetes.io/managed-by": "pulumi", "tier": "web"},
		"annotations": map[string]any{"sidecar.istio.io/inject": "false", "prometheus.io/scrape": "true"},
	}, prop(t, dep.Inputs, "spec.template.metadata").Mappable())
	assert.Equal(t, []any{map[string]any{"name": "registry"}}, prop(t, dep.Inputs, "spec.template.spec.imagePullSecrets").Mappable())
	container := prop(t, dep.Inputs, "spec.template.spec.containers[0]").ObjectValue()
	assert.Equal(t, []any{map[string]any{"secretRef": map[string]any{"name": "shop-env"}}}, container["envFrom"].Mappable())
	assert.Equal(t, map[string]any{"httpGet": map[string]any{"path": "/livez", "port": "http"}, "periodSeconds": float64(10)},
		container["livenessProbe"].Mappable())
	assert.Equal(t, map[string]any{"tcpSocket": map[string]any{"port": float64(8080)}, "failureThreshold": float64(30)},
		container["startupProbe"].Mappable())
	assert.Equal(t, map[string]any{"tcpSocket": map[string]any{"port": "http"}, "periodSeconds": float64(5), "failureThreshold": float64(3)},
		container["readinessProbe"].Mappable(), "the built-in readiness probe stays")

	job := r.get(t, podJobURN)
	assert.Equal(t, "migrator", prop(t, job.Inputs, "spec.template.spec.serviceAccountName").StringValue())
	assert.Equal(t, []any{map[string]any{"name": "registry"}}, prop(t, job.Inputs, "spec.template.spec.imagePullSecrets").Mappable(),
		"the release's block is the job's too")
	assert.Equal(t, map[string]any{"sidecar.istio.io/inject": "false"}, prop(t, job.Inputs, "spec.template.metadata.annotations").Mappable())
}

// TestAppPodSettingsRefused: the release's block and the app's, refused
// at their keys; app.pod and the probes have no effect with files.
func TestAppPodSettingsRefused(t *testing.T) {
	args := podRelease()
	args.CreateNamespace = ptr(true)
	args.Pod.Volumes = []corev1.Volume{{Name: "docker", HostPath: &corev1.HostPathVolumeSource{Path: "/var/run/docker.sock"}}}
	args.App.Pod.Labels["app.kubernetes.io/name"] = "other"
	args.App.ReadinessPath = "/healthz"
	args.App.ReadinessProbe = &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"true"}}}
	args.App.LivenessProbe = &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: ptr("/"), Port: "http", Host: ptr("example.com")}}
	p := &check.Problems{}
	release.NewPlan(p, "shop", vocab.Stack{Name: "dev"}, args)
	assert.Equal(t, []check.Problem{
		{Key: "pod.volumes[0].hostPath", Message: `restricted volume types (volume "docker" uses restricted volume type "hostPath"): use a volume type restricted allows: configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret; the namespace enforces Pod Security restricted`},
		{Key: `app.pod.labels["app.kubernetes.io/name"]`, Message: "is set by pulumi-jobs (it selects or identifies the pod); use another label key"},
		{Key: "app.readinessProbe", Message: "cannot be set with readinessPath, which makes a readiness probe of its own; keep one"},
		{Key: "app.livenessProbe.httpGet.host", Message: "a probe may only reach its own pod: remove it; the namespace enforces Pod Security restricted"},
	}, p.List)

	files := podRelease()
	files.App.Manifests = "app.yaml"
	p = &check.Problems{}
	release.NewPlan(p, "shop", vocab.Stack{Name: "dev", Dir: t.TempDir()}, files)
	assert.Subset(t, p.List, []check.Problem{
		{Key: "app.pod", Message: "has no effect with the app from files (app.manifests or app.chart); set it in the files, or remove it"},
		{Key: "app.livenessProbe", Message: "has no effect with the app from files (app.manifests or app.chart); set it in the files, or remove it"},
		{Key: "app.startupProbe", Message: "has no effect with the app from files (app.manifests or app.chart); set it in the files, or remove it"},
	})
}
