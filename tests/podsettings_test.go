package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
)

// setStackValue sets one top-level pulumi-jobs key of r's stack file to v,
// an object (stack config that write does not know, as the release-wide pod).
func setStackValue(t *testing.T, r *testStack, key string, v any) {
	t.Helper()
	path := filepath.Join(r.workDir, "Pulumi."+r.name+".yaml")
	doc := map[string]any{}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &doc))
	cfg, _ := doc["config"].(map[string]any)
	require.NotNil(t, cfg, "the stack file has a config")
	cfg[config.Key(key)] = v
	out, err := json.MarshalIndent(doc, "", "  ") // JSON is YAML
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, out, 0o644))
}

// jobOf returns the one Job of the release's phase labelled with job.
func jobOf(t *testing.T, e *env, ns, job string) batchv1.Job {
	t.Helper()
	list, err := e.cluster.Client.BatchV1().Jobs(ns).List(context.Background(), listOpts("pulumi-jobs/job="+job))
	require.NoError(t, err)
	require.Len(t, list.Items, 1, "one Job %s", job)
	return list.Items[0]
}

// TestPodSettings releases, on the real provider, what a company cluster
// asks of pods, from stack config: a private registry for every pod (the
// release-wide pod), a migration that reads its password from a Secret
// that already exists (secretKeyRef) under a service account of its own,
// a Job with a native sidecar (an init container with restartPolicy
// Always) that completes, and an app without replicas whose count an
// HPA-like scale sets and the next up leaves alone.
//
// The nodes are kwok's, simulated: the specs reach the API server (which
// admits the pods under Pod Security restricted and the ServiceAccount
// admission plugin, and the Job controller completes the Jobs), but no
// container runs, so that the password reaches the process and that the
// sidecar is stopped once the main container exits are for a real node to
// prove (docs/pod-settings.md).
func TestPodSettings(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	client := e.cluster.Client
	r := newStack(t, e, "dev")

	// What the platform team provides, in a namespace that enforces
	// restricted: the Secret External Secrets wrote, the service account
	// workload identity binds.
	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   r.namespace,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"},
	}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), r.namespace, metav1.DeleteOptions{})
	})
	_, err = client.CoreV1().Secrets(r.namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-db"}, StringData: map[string]string{"password": "s3cret"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = client.CoreV1().ServiceAccounts(r.namespace).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-migrator", Annotations: map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/shop-migrator"}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	delay := map[string]any{"pod-complete.stage.kwok.x-k8s.io/delay": "1s"}
	createNamespace := false
	shop := map[string]any{"name": "shop", "image": "ghcr.io/acme/shop:1.0.0",
		"pod":           map[string]any{"labels": map[string]any{"tier": "web"}},
		"livenessProbe": map[string]any{"httpGet": map[string]any{"path": "/livez", "port": "http"}, "periodSeconds": 10},
	}
	cfg := stackConfig{
		App: shop, CreateNamespace: &createNamespace,
		PreDeploy: []map[string]any{
			{"name": "migrate", "command": []string{"/app/shop", "migrate"}, "annotations": delay, "pod": map[string]any{
				"serviceAccountName": "shop-migrator",
				"env": []any{map[string]any{"name": "DB_PASSWORD", "valueFrom": map[string]any{
					"secretKeyRef": map[string]any{"name": "shop-db", "key": "password"}}}},
			}},
			{"name": "migrate-via-proxy", "command": []string{"/app/shop", "migrate"}, "annotations": delay, "pod": map[string]any{
				"sidecars": []any{map[string]any{"name": "cloud-sql-proxy", "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0",
					"args": []string{"--port=5432", "acme:europe-west1:shop"}}},
			}},
		},
	}
	r.write(t, cfg)
	setStackValue(t, r, config.KeyPod, map[string]any{
		"imagePullSecrets": []any{map[string]any{"name": "registry-credentials"}},
		"annotations":      map[string]any{"sidecar.istio.io/inject": "false"},
	})
	_, err = r.Up(ctx)
	require.NoError(t, err)

	// The migration: its password by reference, its service account, the
	// registry's pull secret; it completed, and its pod was admitted.
	migrate := jobOf(t, e, r.namespace, "migrate")
	assert.True(t, complete(migrate), "the migration completed")
	spec := migrate.Spec.Template.Spec
	assert.Equal(t, "shop-migrator", spec.ServiceAccountName)
	assert.Equal(t, []corev1.LocalObjectReference{{Name: "registry-credentials"}}, spec.ImagePullSecrets)
	assert.Equal(t, "false", migrate.Spec.Template.Annotations["sidecar.istio.io/inject"])
	require.Len(t, spec.Containers, 1)
	assert.Contains(t, spec.Containers[0].Env, corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "shop-db"}, Key: "password"}}})
	pods, err := client.CoreV1().Pods(r.namespace).List(ctx, listOpts("pulumi-jobs/job=migrate"))
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items, "the migration's pod was admitted")
	assert.Equal(t, "shop-migrator", pods.Items[0].Spec.ServiceAccountName)

	// The native sidecar: an init container with restartPolicy Always,
	// restricted's fields filled in; the Job completed.
	proxy := jobOf(t, e, r.namespace, "migrate-via-proxy")
	assert.True(t, complete(proxy), "the Job with a sidecar completed")
	require.Len(t, proxy.Spec.Template.Spec.InitContainers, 1)
	sc := proxy.Spec.Template.Spec.InitContainers[0]
	assert.Equal(t, "cloud-sql-proxy", sc.Name)
	require.NotNil(t, sc.RestartPolicy)
	assert.Equal(t, corev1.ContainerRestartPolicyAlways, *sc.RestartPolicy)
	require.NotNil(t, sc.SecurityContext)
	assert.Equal(t, false, *sc.SecurityContext.AllowPrivilegeEscalation)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.SecurityContext.Capabilities.Drop)

	// The app: the release-wide pull secret, its own label and liveness
	// probe; no replicas in what the release applies.
	dep, err := client.AppsV1().Deployments(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []corev1.LocalObjectReference{{Name: "registry-credentials"}}, dep.Spec.Template.Spec.ImagePullSecrets)
	assert.Equal(t, "web", dep.Spec.Template.Labels["tier"])
	require.NotNil(t, dep.Spec.Template.Spec.Containers[0].LivenessProbe)
	assert.Equal(t, "/livez", dep.Spec.Template.Spec.Containers[0].LivenessProbe.HTTPGet.Path)
	require.NotNil(t, dep.Spec.Replicas)
	assert.Equal(t, int32(1), *dep.Spec.Replicas, "Kubernetes' default")

	// An HPA-like scale, then an up that changes the app's pod template:
	// the Deployment rolls, and keeps the scaled count.
	_, err = client.AppsV1().Deployments(r.namespace).UpdateScale(ctx, "shop", &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: r.namespace, ResourceVersion: ""},
		Spec:       autoscalingv1.ScaleSpec{Replicas: 3},
	}, metav1.UpdateOptions{FieldManager: "hpa-like"})
	require.NoError(t, err)
	shop["env"] = map[string]any{"LOG_LEVEL": "info"}
	r.write(t, cfg)
	setStackValue(t, r, config.KeyPod, map[string]any{
		"imagePullSecrets": []any{map[string]any{"name": "registry-credentials"}},
		"annotations":      map[string]any{"sidecar.istio.io/inject": "false"},
	})
	res, err := r.Up(ctx)
	require.NoError(t, err)
	assert.Equal(t, apitype.OpUpdate, changed(res.Events)["kubernetes:apps/v1:Deployment::shop"], "the Deployment was updated: %v", changed(res.Events))
	dep, err = client.AppsV1().Deployments(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	require.NotNil(t, dep.Spec.Replicas)
	assert.Equal(t, int32(3), *dep.Spec.Replicas, "the up left the HPA's count alone")
	assert.Equal(t, "LOG_LEVEL", dep.Spec.Template.Spec.Containers[0].Env[0].Name, "the up did change the template")

	// With replicas set again, the count is the release's.
	shop["replicas"] = 2
	r.write(t, cfg)
	_, err = r.Up(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		dep, err = client.AppsV1().Deployments(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
		return err == nil && dep.Spec.Replicas != nil && *dep.Spec.Replicas == 2
	}, 30*time.Second, time.Second, "replicas set: the release's count")
}

// podSettingsYAML is a Pulumi YAML program whose Release sets pod blocks:
// the component provider reads them into Kubernetes' own types, which the
// schema refers to in pulumi-kubernetes' (its project name is the example
// whose stack newCLIStack initialised).
const podSettingsYAML = `name: release-yaml
runtime: yaml
config:
  namespace:
    type: string
resources:
  shop:
    type: pulumi-jobs:index:Release
    properties:
      namespace: ${namespace}
      image: ghcr.io/acme/shop:1.4.2
      pod:
        imagePullSecrets:
          - name: registry-credentials
        tolerations:
          - key: dedicated
            operator: Equal
            value: batch
            effect: NoSchedule
        volumes:
          - name: ca
            configMap:
              name: ca-bundle
              optional: true
      app:
        name: shop
        livenessProbe:
          httpGet:
            path: /livez
            port: http
          periodSeconds: 10
      preDeploy:
        - name: migrate
          command: ["/app/shop", "migrate"]
          annotations:
            pod-complete.stage.kwok.x-k8s.io/delay: 1s
          pod:
            env:
              - name: DB_PASSWORD
                valueFrom:
                  secretKeyRef:
                    name: shop-db
                    key: password
                    optional: true
            volumeMounts:
              - name: ca
                mountPath: /etc/ssl/custom
                readOnly: true
            podSecurityContext:
              runAsUser: 1000
            sidecars:
              - name: cloud-sql-proxy
                image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0
                args: ["--port=5432"]
`

// TestPodSettingsFromYAML: a Pulumi YAML program sets pod blocks on the
// component through the component provider (Kubernetes' types from
// pulumi-kubernetes' schema), and they reach the cluster.
func TestPodSettingsFromYAML(t *testing.T) {
	e := setup(t)
	ns := "pod-settings-yaml"
	s := newCLIStack(t, e, "release-yaml", map[string]string{"namespace": ns})
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "Pulumi.yaml"), []byte(podSettingsYAML), 0o644))
	_, err := s.up(t)
	require.NoError(t, err)

	migrate := jobOf(t, e, ns, "migrate")
	assert.True(t, complete(migrate), "the migration completed")
	spec := migrate.Spec.Template.Spec
	assert.Equal(t, []corev1.LocalObjectReference{{Name: "registry-credentials"}}, spec.ImagePullSecrets)
	assert.Equal(t, []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "batch", Effect: corev1.TaintEffectNoSchedule}}, spec.Tolerations)
	require.Len(t, spec.Volumes, 2)
	assert.Equal(t, "ca", spec.Volumes[1].Name)
	require.NotNil(t, spec.Volumes[1].ConfigMap)
	assert.Equal(t, "ca-bundle", spec.Volumes[1].ConfigMap.Name)
	require.NotNil(t, spec.SecurityContext.RunAsUser)
	assert.Equal(t, int64(1000), *spec.SecurityContext.RunAsUser)
	assert.Equal(t, true, *spec.SecurityContext.RunAsNonRoot, "restricted's fields stay")
	c := spec.Containers[0]
	assert.Contains(t, c.Env, corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "shop-db"}, Key: "password", Optional: ptrTo(true)}}})
	assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "ca", MountPath: "/etc/ssl/custom", ReadOnly: true})
	require.Len(t, spec.InitContainers, 1)
	assert.Equal(t, "cloud-sql-proxy", spec.InitContainers[0].Name)
	assert.Equal(t, corev1.ContainerRestartPolicyAlways, *spec.InitContainers[0].RestartPolicy)

	dep, err := e.cluster.Client.AppsV1().Deployments(ns).Get(context.Background(), "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, []corev1.LocalObjectReference{{Name: "registry-credentials"}}, dep.Spec.Template.Spec.ImagePullSecrets)
	require.NotNil(t, dep.Spec.Template.Spec.Containers[0].LivenessProbe)
	assert.Equal(t, "/livez", dep.Spec.Template.Spec.Containers[0].LivenessProbe.HTTPGet.Path)
}

func ptrTo[T any](v T) *T { return &v }
