package jobs_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

const podJobURN = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::db-migrate"

// podArgs are a component whose pod block every Job gets, and one job
// with a block of its own merged over it.
func podArgs(job *pod.Settings) *jobs.Args {
	return &jobs.Args{
		Namespace: pulumi.String("shop"), Image: pulumi.String("ghcr.io/acme/shop:1.4.2"),
		Pod: &pod.Settings{
			ServiceAccountName: "shop",
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: ptr("registry")}},
			NodeSelector:       map[string]string{"pool": "general"},
			Annotations:        map[string]string{"sidecar.istio.io/inject": "false"},
			Volumes:            []corev1.Volume{{Name: "ca", Secret: &corev1.SecretVolumeSource{SecretName: ptr("ca-bundle")}}},
			VolumeMounts:       []corev1.VolumeMount{{Name: "ca", MountPath: "/etc/ssl/custom", ReadOnly: ptr(true)}},
		},
		Jobs: []jobs.Job{{Name: "migrate", Command: []string{"./migrate"}, Env: map[string]string{"LOG": "debug"}, Pod: job}},
	}
}

func runJobs(t *testing.T, args *jobs.Args) pulumitest.Registration {
	t.Helper()
	regs := run(t, func(ctx *pulumi.Context) error {
		_, err := jobs.New(ctx, "db", args)
		return err
	})
	job, ok := regs[podJobURN]
	require.True(t, ok, "no %s", podJobURN)
	return job
}

// TestPodSettingsOnAJob: the component's block and the job's, merged, in
// the Job's pod template, field by field, as literals.
func TestPodSettingsOnAJob(t *testing.T) {
	job := runJobs(t, podArgs(&pod.Settings{
		ServiceAccountName: "migrator",
		NodeSelector:       map[string]string{"pool": "batch"},
		Tolerations:        []corev1.Toleration{{Key: ptr("batch"), Operator: ptr("Exists"), Effect: ptr("NoSchedule")}},
		PriorityClassName:  "high",
		Labels:             map[string]string{"team": "payments"},
		Env: []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{Name: ptr("shop-db"), Key: "password"}}}},
		EnvFrom:                  []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{Name: ptr("shop-env")}}},
		PodSecurityContext:       &corev1.PodSecurityContext{RunAsUser: ptr(1000), FsGroup: ptr(2000)},
		ContainerSecurityContext: &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr(false)},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: "In", Values: []string{"a"}}}}}}}},
		Sidecars: []corev1.Container{{Name: "cloud-sql-proxy", Image: ptr("gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0"), Args: []string{"--port=5432", "acme:eu:db"}}},
	}))
	assert.Equal(t, map[string]any{
		"labels":      map[string]any{"pulumi-jobs/job": "migrate", "team": "payments"},
		"annotations": map[string]any{"sidecar.istio.io/inject": "false"},
	}, prop(t, job.Inputs, "spec.template.metadata").Mappable())
	assert.Equal(t, map[string]any{
		"restartPolicy":                "Never",
		"automountServiceAccountToken": false,
		"enableServiceLinks":           false,
		"serviceAccountName":           "migrator",
		"imagePullSecrets":             []any{map[string]any{"name": "registry"}},
		"nodeSelector":                 map[string]any{"pool": "batch"},
		"tolerations":                  []any{map[string]any{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}},
		"affinity": map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
			"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{"key": "zone", "operator": "In", "values": []any{"a"}}}}}}}},
		"priorityClassName": "high",
		"securityContext": map[string]any{"runAsNonRoot": true, "seccompProfile": map[string]any{"type": "RuntimeDefault"},
			"runAsUser": float64(1000), "fsGroup": float64(2000)},
		"volumes": []any{
			map[string]any{"name": "tmp", "emptyDir": map[string]any{}},
			map[string]any{"name": "ca", "secret": map[string]any{"secretName": "ca-bundle"}},
		},
		"initContainers": []any{map[string]any{
			"name": "cloud-sql-proxy", "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0", "args": []any{"--port=5432", "acme:eu:db"},
			"restartPolicy":   "Always",
			"securityContext": map[string]any{"allowPrivilegeEscalation": false, "capabilities": map[string]any{"drop": []any{"ALL"}}},
		}},
		"containers": []any{map[string]any{
			"name": "migrate", "image": "ghcr.io/acme/shop:1.4.2", "command": []any{"./migrate"},
			"env": []any{
				map[string]any{"name": "LOG", "value": "debug"},
				map[string]any{"name": "DB_PASSWORD", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "shop-db", "key": "password"}}},
			},
			"envFrom": []any{map[string]any{"configMapRef": map[string]any{"name": "shop-env"}}},
			"resources": map[string]any{
				"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
				"limits":   map[string]any{"cpu": "500m", "memory": "256Mi"},
			},
			"securityContext": map[string]any{
				"allowPrivilegeEscalation": false, "capabilities": map[string]any{"drop": []any{"ALL"}},
				"readOnlyRootFilesystem": false, "runAsNonRoot": true, "seccompProfile": map[string]any{"type": "RuntimeDefault"},
			},
			"volumeMounts": []any{
				map[string]any{"name": "tmp", "mountPath": "/tmp"},
				map[string]any{"name": "ca", "mountPath": "/etc/ssl/custom", "readOnly": true},
			},
		}},
	}, prop(t, job.Inputs, "spec.template.spec").Mappable())
}

// TestNoPodSettings: without pod blocks, the pod template is what it was
// before them (no field added, none emptied), so no stack sees a change.
func TestNoPodSettings(t *testing.T) {
	args := podArgs(nil)
	args.Pod = nil
	spec := prop(t, runJobs(t, args).Inputs, "spec.template.spec").ObjectValue()
	keys := make([]string, 0, len(spec))
	for k := range spec {
		keys = append(keys, string(k))
	}
	assert.ElementsMatch(t, []string{"restartPolicy", "automountServiceAccountToken", "enableServiceLinks", "securityContext", "volumes", "containers"}, keys)
}

// TestPodSettingChangesTheTemplate: a change to any pod setting is a change
// of the Job's pod template, which its rerun policy acts on (the provider
// replaces a Job whose template changed: a new run).
func TestPodSettingChangesTheTemplate(t *testing.T) {
	before := prop(t, runJobs(t, podArgs(nil)).Inputs, "spec.template")
	for name, s := range map[string]*pod.Settings{
		"serviceAccountName": {ServiceAccountName: "migrator"},
		"a toleration":       {Tolerations: []corev1.Toleration{{Operator: ptr("Exists")}}},
		"an env valueFrom":   {Env: []corev1.EnvVar{{Name: "P", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: ptr("db"), Key: "p"}}}}},
		"a sidecar":          {Sidecars: []corev1.Container{{Name: "proxy", Image: ptr("proxy:1")}}},
		"an annotation":      {Annotations: map[string]string{"a": "b"}},
	} {
		after := prop(t, runJobs(t, podArgs(s)).Inputs, "spec.template")
		assert.NotEqual(t, before.Mappable(), after.Mappable(), name)
	}
}

// TestPodSettingsRefused: bad blocks are refused before anything is
// registered, under the key of the field, the component's or the job's.
func TestPodSettingsRefused(t *testing.T) {
	args := podArgs(&pod.Settings{
		Volumes:      []corev1.Volume{{Name: "docker", HostPath: &corev1.HostPathVolumeSource{Path: "/var/run/docker.sock"}}},
		VolumeMounts: []corev1.VolumeMount{{Name: "missing", MountPath: "/x"}},
		Sidecars:     []corev1.Container{{Name: "migrate", Image: ptr("x:1")}},
	})
	args.Pod.ServiceAccountName = "Shop"
	m, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		_, err := jobs.New(ctx, "db", args)
		return err
	}, "dev", pulumitest.Config{})
	var argsErr *check.ArgsError
	require.True(t, errors.As(err, &argsErr), "got %v", err)
	assert.Equal(t, []check.Problem{
		{Key: "pod.serviceAccountName", Message: `"Shop" is not a valid name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{Key: "jobs[0].pod.volumeMounts[0].name", Message: `"missing" names no volume; add it to volumes of this pod block (or of the release's pod)`},
		{Key: "jobs[0].pod.sidecars[0].name", Message: `"migrate" is the main container's name; use another`},
		{Key: "jobs[0].pod.volumes[0].hostPath", Message: `restricted volume types (volume "docker" uses restricted volume type "hostPath"): use a volume type restricted allows: configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret; the namespace enforces Pod Security restricted`},
	}, argsErr.Problems)
	if m != nil {
		assert.Empty(t, m.Registrations(), "nothing registered")
	}

	// A manifest's Job is the file's: no pod block of its own.
	manifestJob := podArgs(nil)
	manifestJob.Jobs = []jobs.Job{{Name: "m", Manifest: "job.yaml", Pod: &pod.Settings{ServiceAccountName: "x"}}}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "job.yaml"), []byte("apiVersion: batch/v1\nkind: Job\nmetadata: {name: m}\nspec: {template: {spec: {containers: [{name: m, image: x:1}]}}}\n"), 0o600))
	p := &check.Problems{}
	jobs.Plan(p, "jobs", "db", vocab.Stack{Name: "dev", Dir: dir}, manifestJob)
	assert.Contains(t, p.List, check.Problem{Key: "jobs[0].pod", Message: "cannot be set with manifest: the Job's pod comes from job.yaml; set it there, or remove manifest"})
}
