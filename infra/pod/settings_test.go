package pod_test

import (
	"encoding/json"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
)

func ptr[T any](v T) *T { return &v }

// decode reads a pod block from its stack-config JSON, failing the test on
// any problem.
func decode(t *testing.T, js string) *pod.Settings {
	t.Helper()
	var raw any
	require.NoError(t, json.Unmarshal([]byte(js), &raw))
	p := &check.Problems{}
	s := &pod.Settings{}
	pod.Decode(p, "pod", raw, s)
	require.Empty(t, p.List)
	return s
}

// TestMerge: the merge rule, one case per kind of field, blocks in and the
// merged block out as Kubernetes JSON, all literals.
func TestMerge(t *testing.T) {
	cases := []struct {
		name       string
		base, over string
		want       string
	}{
		{"nothing over: the base", `{"serviceAccountName": "shop"}`, `{}`, `{"serviceAccountName": "shop"}`},
		{"nothing in the base: over", `{}`, `{"priorityClassName": "high"}`, `{"priorityClassName": "high"}`},
		{"scalars replace", `{"serviceAccountName": "shop", "automountServiceAccountToken": false}`,
			`{"serviceAccountName": "migrator", "automountServiceAccountToken": true}`,
			`{"serviceAccountName": "migrator", "automountServiceAccountToken": true}`},
		{"maps merge by key, over wins",
			`{"nodeSelector": {"pool": "general", "zone": "a"}, "labels": {"team": "shop"}, "annotations": {"a": "1"}}`,
			`{"nodeSelector": {"pool": "batch"}, "annotations": {"sidecar.istio.io/inject": "false"}}`,
			`{"nodeSelector": {"pool": "batch", "zone": "a"}, "labels": {"team": "shop"}, "annotations": {"a": "1", "sidecar.istio.io/inject": "false"}}`},
		{"unnamed lists replace whole",
			`{"tolerations": [{"key": "dedicated", "operator": "Exists"}], "envFrom": [{"secretRef": {"name": "a"}}]}`,
			`{"tolerations": [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}]}`,
			`{"tolerations": [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}], "envFrom": [{"secretRef": {"name": "a"}}]}`},
		{"env merges by name: replaced in place, whole, new ones after",
			`{"env": [{"name": "A", "value": "1"}, {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]}`,
			`{"env": [{"name": "PASSWORD", "value": "plain"}, {"name": "B", "value": "2"}]}`,
			`{"env": [{"name": "A", "value": "1"}, {"name": "PASSWORD", "value": "plain"}, {"name": "B", "value": "2"}]}`},
		{"volumes by name: a volume's source is replaced, never combined",
			`{"volumes": [{"name": "ca", "secret": {"secretName": "ca"}}, {"name": "conf", "configMap": {"name": "conf"}}]}`,
			`{"volumes": [{"name": "ca", "configMap": {"name": "ca-bundle"}}]}`,
			`{"volumes": [{"name": "ca", "configMap": {"name": "ca-bundle"}}, {"name": "conf", "configMap": {"name": "conf"}}]}`},
		{"volumeMounts by mountPath",
			`{"volumeMounts": [{"name": "ca", "mountPath": "/etc/ssl/custom"}]}`,
			`{"volumeMounts": [{"name": "ca2", "mountPath": "/etc/ssl/custom", "readOnly": true}, {"name": "conf", "mountPath": "/etc/shop"}]}`,
			`{"volumeMounts": [{"name": "ca2", "mountPath": "/etc/ssl/custom", "readOnly": true}, {"name": "conf", "mountPath": "/etc/shop"}]}`},
		{"imagePullSecrets by name",
			`{"imagePullSecrets": [{"name": "registry"}]}`,
			`{"imagePullSecrets": [{"name": "registry"}, {"name": "mirror"}]}`,
			`{"imagePullSecrets": [{"name": "registry"}, {"name": "mirror"}]}`},
		{"sidecars by name, replaced whole",
			`{"sidecars": [{"name": "proxy", "image": "proxy:1", "args": ["--a"]}]}`,
			`{"sidecars": [{"name": "proxy", "image": "proxy:2"}, {"name": "logs", "image": "logs:1"}]}`,
			`{"sidecars": [{"name": "proxy", "image": "proxy:2"}, {"name": "logs", "image": "logs:1"}]}`},
		{"objects merge field by field",
			`{"podSecurityContext": {"runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}, "containerSecurityContext": {"readOnlyRootFilesystem": false}}`,
			`{"podSecurityContext": {"fsGroup": 2000, "runAsUser": 1001}}`,
			`{"podSecurityContext": {"runAsUser": 1001, "fsGroup": 2000, "seccompProfile": {"type": "RuntimeDefault"}}, "containerSecurityContext": {"readOnlyRootFilesystem": false}}`},
		{"affinity field by field, its term lists replaced",
			`{"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}]}}}}`,
			`{"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}}`,
			`{"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}]}}, "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base, over := decode(t, c.base), decode(t, c.over)
			got := pod.Merge(base, over)
			var want any
			require.NoError(t, json.Unmarshal([]byte(c.want), &want))
			gotJSON, err := json.Marshal(pod.JSON(got))
			require.NoError(t, err)
			var gotAny any
			require.NoError(t, json.Unmarshal(gotJSON, &gotAny))
			assert.Equal(t, want, gotAny)
			// The blocks merged are left as they were.
			assert.Equal(t, decode(t, c.base), base)
			assert.Equal(t, decode(t, c.over), over)
		})
	}
}

func TestMergeNil(t *testing.T) {
	assert.Nil(t, pod.Merge(nil, nil))
	s := &pod.Settings{ServiceAccountName: "shop"}
	assert.Equal(t, &pod.Settings{ServiceAccountName: "shop"}, pod.Merge(nil, s))
	assert.Equal(t, &pod.Settings{ServiceAccountName: "shop"}, pod.Merge(s, nil))
}

// TestDecode: the stack config's JSON into the typed block, and every
// problem under its exact key.
func TestDecode(t *testing.T) {
	s := decode(t, `{"serviceAccountName": "migrator", "tolerations": [{"key": "k", "operator": "Exists", "tolerationSeconds": 30}],
		"env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]}`)
	assert.Equal(t, &pod.Settings{
		ServiceAccountName: "migrator",
		Tolerations:        []corev1.Toleration{{Key: ptr("k"), Operator: ptr("Exists"), TolerationSeconds: ptr(30)}},
		Env:                []corev1.EnvVar{{Name: "P", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: ptr("db"), Key: "password"}}}},
	}, s)

	cases := []struct {
		name, js string
		want     []check.Problem
	}{
		{"unknown key, near one", `{"serviceAcountName": "x"}`,
			[]check.Problem{{Key: "pod.serviceAcountName", Message: "unknown key of a pod block; did you mean serviceAccountName?"}}},
		{"unknown key of a Kubernetes type", `{"volumes": [{"name": "a", "secret": {"secretNam": "b"}}]}`,
			[]check.Problem{{Key: "pod.volumes[0].secret.secretNam", Message: "unknown key of a Kubernetes SecretVolumeSource; did you mean secretName?"}}},
		{"wrong kinds", `{"tolerations": {"key": "a"}, "nodeSelector": {"pool": 1}, "automountServiceAccountToken": "yes", "podSecurityContext": {"runAsUser": 1.5}}`,
			[]check.Problem{
				{Key: "pod.automountServiceAccountToken", Message: `must be true or false, got the string "yes"`},
				{Key: `pod.nodeSelector["pool"]`, Message: "must be a string (quote numbers and booleans in YAML), got the number 1"},
				{Key: "pod.podSecurityContext.runAsUser", Message: "must be a whole number, got the number 1.5"},
				{Key: "pod.tolerations", Message: "must be a list, got an object"},
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var raw any
			require.NoError(t, json.Unmarshal([]byte(c.js), &raw))
			p := &check.Problems{}
			pod.Decode(p, "pod", raw, &pod.Settings{})
			assert.Equal(t, c.want, p.List)
		})
	}
}

// TestCheck: every refusal of a pod block, each under the key of the field
// that asks for it; restricted ones only where restricted is enforced.
func TestCheck(t *testing.T) {
	cases := []struct {
		name  string
		js    string
		scope pod.Scope
		want  []check.Problem
	}{
		{"a valid block", `{"serviceAccountName": "migrator", "imagePullSecrets": [{"name": "registry"}],
			"nodeSelector": {"pool": "batch"}, "tolerations": [{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}],
			"priorityClassName": "high", "labels": {"team": "shop"}, "annotations": {"sidecar.istio.io/inject": "false"},
			"volumes": [{"name": "ca", "secret": {"secretName": "ca"}}], "volumeMounts": [{"name": "ca", "mountPath": "/etc/ssl/custom", "readOnly": true}],
			"env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
			"envFrom": [{"configMapRef": {"name": "shop-env"}}], "podSecurityContext": {"runAsUser": 1000, "fsGroup": 2000},
			"containerSecurityContext": {"readOnlyRootFilesystem": false},
			"sidecars": [{"name": "cloud-sql-proxy", "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0"}]}`,
			pod.Scope{Restricted: true, Main: "migrate"}, nil},
		{"names", `{"serviceAccountName": "Migrator", "priorityClassName": "a b", "imagePullSecrets": [{}]}`, pod.Scope{},
			[]check.Problem{
				{Key: "pod.serviceAccountName", Message: `"Migrator" is not a valid name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
				{Key: "pod.priorityClassName", Message: `"a b" is not a valid name: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
				{Key: "pod.imagePullSecrets[0].name", Message: "required; the name of a Secret of type kubernetes.io/dockerconfigjson in the namespace, e.g. {name: registry}"},
			}},
		{"reserved labels", `{"labels": {"pulumi-jobs/job": "x", "app.kubernetes.io/name": "y"}}`, pod.Scope{},
			[]check.Problem{
				{Key: `pod.labels["app.kubernetes.io/name"]`, Message: "is set by pulumi-jobs (it selects or identifies the pod); use another label key"},
				{Key: `pod.labels["pulumi-jobs/job"]`, Message: "is set by pulumi-jobs (it selects or identifies the pod); use another label key"},
			}},
		{"tolerations", `{"tolerations": [{"operator": "Equal"}, {"key": "a", "operator": "Exists", "value": "b"}, {"key": "a", "operator": "In", "effect": "Never"}, {"key": "a", "tolerationSeconds": 5}]}`, pod.Scope{},
			[]check.Problem{
				{Key: "pod.tolerations[0].key", Message: "required unless operator is Exists (an empty key with Exists tolerates every taint)"},
				{Key: "pod.tolerations[1].value", Message: "must be empty when operator is Exists; remove it, or use operator Equal"},
				{Key: "pod.tolerations[2].operator", Message: `"In" is not an operator; use Equal (the default) or Exists`},
				{Key: "pod.tolerations[2].effect", Message: `"Never" is not a taint effect; use NoSchedule, PreferNoSchedule or NoExecute, or leave it out for all`},
				{Key: "pod.tolerations[3].tolerationSeconds", Message: "applies only to effect NoExecute; set effect: NoExecute or remove it"},
			}},
		{"volumes and mounts", `{"volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "a"}, {"name": "a", "secret": {"secretName": "s"}, "configMap": {"name": "c"}}],
			"volumeMounts": [{"name": "b", "mountPath": "etc"}, {"name": "a", "mountPath": "/tmp/"}, {"name": "a", "mountPath": "/x"}, {"name": "a", "mountPath": "/x"}]}`, pod.Scope{},
			[]check.Problem{
				{Key: "pod.volumes[0].name", Message: `"tmp" is the pod's scratch volume, mounted at /tmp; use another name`},
				{Key: "pod.volumes[1]", Message: "must have exactly one volume source (secret, configMap, emptyDir, persistentVolumeClaim, projected, csi, …), has 0"},
				{Key: "pod.volumes[2].name", Message: `"a" is the name of another volume; volume names must be unique`},
				{Key: "pod.volumes[2]", Message: "must have exactly one volume source (secret, configMap, emptyDir, persistentVolumeClaim, projected, csi, …), has 2"},
				{Key: "pod.volumeMounts[0].name", Message: `"b" names no volume; add it to volumes of this pod block (or of the release's pod)`},
				{Key: "pod.volumeMounts[0].mountPath", Message: `must be an absolute path, e.g. /etc/ssl/custom, got "etc"`},
				{Key: "pod.volumeMounts[1].mountPath", Message: "/tmp is the pod's scratch directory (volume tmp); mount elsewhere"},
				{Key: "pod.volumeMounts[3].mountPath", Message: `"/x" is mounted twice; each mount needs its own path`},
			}},
		{"DATABASE_URL from a Secret of the team's, without databaseUrl", `{"env": [{"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "shop-db", "key": "url"}}}]}`,
			pod.Scope{}, nil},
		{"a mount of the base's volume", `{"volumeMounts": [{"name": "ca", "mountPath": "/ca"}]}`,
			pod.Scope{Base: &pod.Settings{Volumes: []corev1.Volume{{Name: "ca", Secret: &corev1.SecretVolumeSource{SecretName: ptr("ca")}}}}}, nil},
		{"env", `{"env": [{"name": "DATABASE_URL", "value": "x"}, {"name": "A", "value": "1"}, {"name": "A"}, {"name": "LOG", "value": "x"},
			{"name": "B", "value": "1", "valueFrom": {"secretKeyRef": {"key": "k"}}}, {"name": "C", "valueFrom": {}}, {"name": "D", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "a/b"}}},
			{"name": "E", "valueFrom": {"fieldRef": {}}}, {"name": "1X"}]}`, pod.Scope{Env: map[string]string{"LOG": "debug"}, DatabaseURL: true},
			[]check.Problem{
				{Key: "pod.env[0].name", Message: "DATABASE_URL is set from the secret database URL (databaseUrl) of this release; set it in one place: drop databaseUrl to take it from your own Secret here, or drop this entry"},
				{Key: "pod.env[2].name", Message: `"A" is set twice in this list`},
				{Key: "pod.env[3].name", Message: `"LOG" is also set in env (the map) of the same app or job; set it in one place`},
				{Key: "pod.env[4]", Message: "sets both value and valueFrom; keep one"},
				{Key: "pod.env[4].valueFrom.secretKeyRef.name", Message: "required; the name of the Secret in the namespace"},
				{Key: "pod.env[5].valueFrom", Message: "must have exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef, has 0"},
				{Key: "pod.env[6].valueFrom.configMapKeyRef.key", Message: `"a/b" is not a valid key: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
				{Key: "pod.env[7].valueFrom.fieldRef.fieldPath", Message: "required, e.g. metadata.name or status.podIP"},
				{Key: "pod.env[8].name", Message: `not a valid environment variable name: a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`},
			}},
		{"envFrom", `{"envFrom": [{}, {"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}}, {"secretRef": {}}]}`, pod.Scope{},
			[]check.Problem{
				{Key: "pod.envFrom[0]", Message: "must have secretRef or configMapRef, e.g. {secretRef: {name: shop-env}}"},
				{Key: "pod.envFrom[1]", Message: "must have one of secretRef and configMapRef, not both; use two items"},
				{Key: "pod.envFrom[2].secretRef.name", Message: "required; the name of the Secret or ConfigMap in the namespace"},
			}},
		{"sidecars", `{"sidecars": [{"name": "migrate", "image": "x:1"}, {"name": "p"}, {"name": "p", "image": "x:1", "restartPolicy": "Never"}]}`, pod.Scope{Main: "migrate"},
			[]check.Problem{
				{Key: "pod.sidecars[0].name", Message: `"migrate" is the main container's name; use another`},
				{Key: "pod.sidecars[1].image", Message: `required; the sidecar's image, e.g. "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0"`},
				{Key: "pod.sidecars[2].name", Message: `"p" is the name of another sidecar; sidecar names must be unique`},
				{Key: "pod.sidecars[2].restartPolicy", Message: `"Never": a sidecar is an init container with restartPolicy Always (set for you); remove it`},
			}},
		{"restricted: refused under the key that asks for it", `{"volumes": [{"name": "host", "hostPath": {"path": "/var/run"}}],
			"podSecurityContext": {"runAsUser": 0}, "containerSecurityContext": {"allowPrivilegeEscalation": true},
			"sidecars": [{"name": "p", "image": "x:1", "securityContext": {"privileged": true}}]}`, pod.Scope{Restricted: true},
			[]check.Problem{
				{Key: "pod.sidecars[0].securityContext.privileged", Message: "privileged (container \"p\" must not set securityContext.privileged=true): remove it or set it to false; the namespace enforces Pod Security restricted"},
				{Key: "pod.containerSecurityContext.allowPrivilegeEscalation", Message: "allowPrivilegeEscalation != false (container \"main\" must set securityContext.allowPrivilegeEscalation=false): remove it or set it to false; the namespace enforces Pod Security restricted"},
				{Key: "pod.volumes[0].hostPath", Message: "restricted volume types (volume \"host\" uses restricted volume type \"hostPath\"): use a volume type restricted allows: configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret; the namespace enforces Pod Security restricted"},
				{Key: "pod.podSecurityContext.runAsUser", Message: "runAsUser=0 (pod must not set runAsUser=0): remove it or set a user ID other than 0, e.g. 1000 (and use an image that runs as that user); the namespace enforces Pod Security restricted"},
			}},
		{"the release's env and sidecars meet a job's own", `{}`, pod.Scope{Main: "migrate", Env: map[string]string{"LOG": "debug", "A": "1"},
			Base: &pod.Settings{Env: []corev1.EnvVar{{Name: "LOG", Value: ptr("info")}, {Name: "B"}}, Sidecars: []corev1.Container{{Name: "migrate", Image: ptr("x:1")}}}},
			[]check.Problem{
				{Key: "preDeploy[0].env.LOG", Message: "is also set by the release's pod.env; set it in one place"},
				{Key: "preDeploy[0].name", Message: `"migrate" is also the name of a sidecar of the release's pod; rename one`},
			}},
		{"not restricted: allowed", `{"volumes": [{"name": "host", "hostPath": {"path": "/var/run"}}], "sidecars": [{"name": "p", "image": "x:1", "securityContext": {"privileged": true}}]}`,
			pod.Scope{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var raw any
			require.NoError(t, json.Unmarshal([]byte(c.js), &raw))
			s := &pod.Settings{}
			dp := &check.Problems{}
			pod.Decode(dp, "pod", raw, s)
			require.Empty(t, dp.List)
			p := &check.Problems{}
			key := "pod"
			if c.scope.Base != nil && c.scope.Main != "" {
				key = "preDeploy[0].pod" // a job's block
			}
			s.Check(p, key, c.scope)
			assert.Equal(t, c.want, p.List)
		})
	}
}
