package config_test

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
)

func ptr[T any](v T) *T { return &v }

// TestPodConfig: the release-wide pod block and the app's and a job's, as
// stack config, merged into the plan; probes; replicas left out.
func TestPodConfig(t *testing.T) {
	d := newDraft()
	d.app["pod"] = map[string]any{"labels": map[string]any{"tier": "web"}}
	d.app["livenessProbe"] = map[string]any{"httpGet": map[string]any{"path": "/livez", "port": "http"}, "periodSeconds": 10}
	d.pre[0]["pod"] = map[string]any{
		"serviceAccountName": "migrator",
		"env":                []any{map[string]any{"name": "DB_PASSWORD", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "shop-db", "key": "password"}}}},
		"sidecars":           []any{map[string]any{"name": "cloud-sql-proxy", "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0"}},
	}
	cfg := d.config(t)
	require.NoError(t, cfg.SetObject(config.Key(config.KeyPod), map[string]any{
		"serviceAccountName": "shop",
		"imagePullSecrets":   []any{map[string]any{"name": "registry"}},
		"annotations":        map[string]any{"sidecar.istio.io/inject": "false"},
	}))
	plan, err := config.Load(pulumitest.Source{Config: cfg, StackName: "dev"})
	require.NoError(t, err)

	assert.False(t, plan.App.ReplicasSet, "replicas left out: the cluster's")
	assert.Equal(t, &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: ptr("/livez"), Port: "http"}, PeriodSeconds: ptr(10)}, plan.App.LivenessProbe)
	assert.Equal(t, &pod.Settings{
		ServiceAccountName: "shop",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: ptr("registry")}},
		Labels:             map[string]string{"tier": "web"},
		Annotations:        map[string]string{"sidecar.istio.io/inject": "false"},
	}, plan.App.Pod)
	require.Len(t, plan.PreDeploy, 1)
	assert.Equal(t, &pod.Settings{
		ServiceAccountName: "migrator",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: ptr("registry")}},
		Annotations:        map[string]string{"sidecar.istio.io/inject": "false"},
		Env: []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{Name: ptr("shop-db"), Key: "password"}}}},
		Sidecars: []corev1.Container{{Name: "cloud-sql-proxy", Image: ptr("gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0")}},
	}, plan.PreDeploy[0].Jobs[0].Pod)
	require.Len(t, plan.PostDeploy, 1)
	assert.Equal(t, &pod.Settings{
		ServiceAccountName: "shop",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: ptr("registry")}},
		Annotations:        map[string]string{"sidecar.istio.io/inject": "false"},
	}, plan.PostDeploy[0].Jobs[0].Pod, "the release's block alone")
}

// TestPodConfigRefused: each refusal of a pod block in stack config, under
// its full key.
func TestPodConfigRefused(t *testing.T) {
	setPod := func(v string) func(d *draft) {
		return func(d *draft) { d.raw[config.Key(config.KeyPod)] = v }
	}
	refuseAll(t, []badConfig{
		{"pod not an object", "dev", setPod(`["shop"]`), "pulumi-jobs:pod",
			"must be a pod block: an object with the keys affinity, annotations, automountServiceAccountToken, containerSecurityContext, env, envFrom, imagePullSecrets, labels, nodeSelector, podSecurityContext, priorityClassName, serviceAccountName, sidecars, tolerations, volumeMounts, volumes; Pulumi.dev.yaml sets it to a list"},
		{"pod unknown key", "dev", setPod(`{"serviceAccount": "shop"}`), "pulumi-jobs:pod.serviceAccount",
			"unknown key of a pod block; did you mean serviceAccountName?"},
		{"pod toleration of the wrong kind", "dev", setPod(`{"tolerations": [{"key": "a", "operator": "Exists", "tolerationSeconds": "30"}]}`),
			"pulumi-jobs:pod.tolerations[0].tolerationSeconds", `must be a whole number, got the string "30"`},
		{"a hostPath volume in a job's pod", "dev", preField("pod", map[string]any{"volumes": []any{map[string]any{"name": "docker", "hostPath": map[string]any{"path": "/var/run/docker.sock"}}}}),
			"pulumi-jobs:preDeploy[0].pod.volumes[0].hostPath",
			`restricted volume types (volume "docker" uses restricted volume type "hostPath"): use a volume type restricted allows: configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret; the namespace enforces Pod Security restricted`},
		{"a privileged sidecar in the app's pod", "dev", appField("pod", map[string]any{"sidecars": []any{map[string]any{"name": "p", "image": "p:1", "securityContext": map[string]any{"privileged": true}}}}),
			"pulumi-jobs:app.pod.sidecars[0].securityContext.privileged",
			`privileged (container "p" must not set securityContext.privileged=true): remove it or set it to false; the namespace enforces Pod Security restricted`},
		{"a secretKeyRef without its key", "dev", postField("pod", map[string]any{"env": []any{map[string]any{"name": "P", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "db"}}}}}),
			"pulumi-jobs:postDeploy[0].pod.env[0].valueFrom.secretKeyRef.key", "required; the key of the Secret whose value the variable gets"},
		{"a probe with two handlers", "dev", appField("livenessProbe", map[string]any{"httpGet": map[string]any{"path": "/", "port": 8080}, "tcpSocket": map[string]any{"port": 8080}}),
			"pulumi-jobs:app.livenessProbe", "must have exactly one of httpGet, tcpSocket, exec, grpc, has 2; e.g. {httpGet: {path: /livez, port: http}}"},
		{"readinessProbe with readinessPath", "dev", func(d *draft) {
			d.app["readinessPath"] = "/healthz"
			d.app["readinessProbe"] = map[string]any{"exec": map[string]any{"command": []any{"true"}}}
		}, "pulumi-jobs:app.readinessProbe", "cannot be set with readinessPath, which makes a readiness probe of its own; keep one"},
	})
}

// TestPodConfigNotRestricted: a namespace the release does not create
// (createNamespace false) is not known to enforce restricted: what only
// restricted forbids is the team's to decide.
func TestPodConfigNotRestricted(t *testing.T) {
	acceptAll(t, []edgeConfig{{"hostPath with createNamespace false", "dev", func(d *draft) {
		d.values[config.Key(config.KeyCreateNamespace)] = "false"
		d.pre[0]["pod"] = map[string]any{"volumes": []any{map[string]any{"name": "docker", "hostPath": map[string]any{"path": "/var/run/docker.sock"}}}}
	}}})
}

// TestShippedStacks: Pulumi.dev.yaml and Pulumi.prod.yaml load, and show the
// real-cluster setup: a private registry for every pod, the migration's
// password from a Secret by reference, and (prod) its service account.
func TestShippedStacks(t *testing.T) {
	for _, c := range []struct {
		stack          string
		serviceAccount string
		optional       *bool
	}{{"dev", "", ptr(true)}, {"prod", "shop-migrator", nil}} {
		t.Run(c.stack, func(t *testing.T) {
			var file struct {
				Config map[string]any `yaml:"config"`
			}
			data, err := os.ReadFile(filepath.Join("..", "..", config.StackFile(c.stack)))
			require.NoError(t, err)
			require.NoError(t, yaml.Unmarshal(data, &file))
			cfg := pulumitest.Config{Values: map[string]string{}}
			for k, v := range file.Config {
				if s, ok := v.(string); ok {
					cfg.Set(k, s)
					continue
				}
				require.NoError(t, cfg.SetObject(k, v))
			}
			plan, err := config.Load(pulumitest.Source{Config: cfg, StackName: c.stack})
			require.NoError(t, err)
			migrate := plan.PreDeploy[0].Jobs[0]
			require.Equal(t, "migrate-schema", migrate.Name)
			assert.Equal(t, &pod.Settings{
				ServiceAccountName: c.serviceAccount,
				ImagePullSecrets:   []corev1.LocalObjectReference{{Name: ptr("registry-credentials")}},
				Annotations:        map[string]string{"sidecar.istio.io/inject": "false"},
				Env: []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
					SecretKeyRef: &corev1.SecretKeySelector{Name: ptr("shop-db"), Key: "password", Optional: c.optional}}}},
			}, migrate.Pod)
			assert.Equal(t, []corev1.LocalObjectReference{{Name: ptr("registry-credentials")}}, plan.App.Pod.ImagePullSecrets)
		})
	}
}
