package release_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// deleteHooksChart writes a chart with a Deployment and, when hooks is
// set, a pre-delete ConfigMap and Job (weights -1 and 0, the Job deleted
// once it succeeded) and a post-delete Job.
func deleteHooksChart(t *testing.T, hooks bool) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: drain\nversion: 0.1.0\n",
		"templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: drain\nspec:\n  selector: {matchLabels: {app: drain}}\n" +
			"  template:\n    metadata: {labels: {app: drain}}\n    spec:\n      containers: [{name: app, image: ghcr.io/acme/drain:1.0.0}]\n",
	}
	if hooks {
		files["templates/drain-config.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: drain-config\n  annotations:\n    helm.sh/hook: pre-delete\n    helm.sh/hook-weight: \"-1\"\ndata: {MODE: drain}\n"
		files["templates/drain-job.yaml"] = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: drain\n  annotations:\n    helm.sh/hook: pre-delete\n    helm.sh/hook-delete-policy: hook-succeeded\n" +
			"spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: drain, image: ghcr.io/acme/drain:1.0.0}]\n"
		files["templates/farewell-job.yaml"] = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: farewell\n  annotations:\n    helm.sh/hook: post-delete\n" +
			"spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: farewell, image: ghcr.io/acme/drain:1.0.0}]\n"
	}
	for file, text := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, file)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644))
	}
	return dir
}

const (
	drainRelease    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release::drain"
	drainPreDelete  = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:DeleteHooks::drain-pre-delete"
	drainPostDelete = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:DeleteHooks::drain-post-delete"
	drainNamespace  = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:Namespace::drain"
	drainDeployment = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::drain-drain/drain"
	drainRecord     = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:ConfigMap::drain-chart-record"
	drainProvider   = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi:providers:pulumi-jobs::drain-delete-hooks"
)

func drainArgs(dir string, cluster ownership.Cluster) *release.Args {
	return &release.Args{
		Namespace: pulumi.String("drain"), Image: pulumi.String("ghcr.io/acme/drain:2.0.0"),
		App:     release.App{Name: "drain", Chart: &release.Chart{Path: dir}},
		Cluster: cluster,
	}
}

// TestDeleteHooksRegistrations: a chart's pre-delete hooks are a
// DeleteHooks resource that depends on the app's objects (so destroy
// deletes it, and runs them, first); its post-delete hooks one that the
// app's objects depend on and that depends on the namespace (deleted
// after the app, before the namespace). Both are served by the pulumi-jobs
// plugin at this version, with the hooks as they run.
func TestDeleteHooksRegistrations(t *testing.T) {
	r := runProgram(t, "dev", newRelease("drain", drainArgs(deleteHooksChart(t, true), &fakeCluster{})))

	pre, post := r.get(t, drainPreDelete), r.get(t, drainPostDelete)
	for _, reg := range []struct {
		name string
		got  string
	}{{"pre parent", pre.RegisterRPC.GetParent()}, {"post parent", post.RegisterRPC.GetParent()}} {
		assert.Equal(t, drainRelease, reg.got, reg.name)
	}
	// An explicit provider of the plugin at this version: the default one
	// would take the stack program's pulumi-jobs: config as its own.
	provider := r.get(t, drainProvider)
	assert.Equal(t, "0.4.0", provider.RegisterRPC.GetVersion())
	assert.Equal(t, drainRelease, provider.RegisterRPC.GetParent())
	assert.True(t, strings.HasPrefix(pre.RegisterRPC.GetProvider(), drainProvider+"::"), pre.RegisterRPC.GetProvider())
	assert.True(t, strings.HasPrefix(post.RegisterRPC.GetProvider(), drainProvider+"::"), post.RegisterRPC.GetProvider())

	assert.Contains(t, pre.RegisterRPC.GetDependencies(), drainDeployment, "pre-delete runs before the app's objects are deleted")
	assert.Contains(t, r.get(t, drainDeployment).RegisterRPC.GetDependencies(), drainPostDelete, "post-delete runs after the app's objects are deleted")
	assert.Contains(t, post.RegisterRPC.GetDependencies(), drainNamespace, "the namespace is deleted after the post-delete hooks ran")
	assert.NotContains(t, post.RegisterRPC.GetDependencies(), drainDeployment)
	assert.Contains(t, r.get(t, drainRecord).RegisterRPC.GetDependencies(), drainPostDelete)
	assert.Contains(t, pre.RegisterRPC.GetDependencies(), drainRecord, "a destroy that the pre-delete hooks stop leaves the record")

	assert.Equal(t, "pre-delete", pre.Inputs["event"].StringValue())
	assert.Equal(t, "drain", pre.Inputs["release"].StringValue())
	assert.Equal(t, "drain", pre.Inputs["namespace"].StringValue())
	assert.Equal(t, float64(600), pre.Inputs["timeoutSeconds"].NumberValue())
	var hooks []string
	for _, h := range pre.Inputs["hooks"].ArrayValue() {
		m := h.ObjectValue()
		hooks = append(hooks, m["kind"].StringValue()+"/"+m["name"].StringValue())
	}
	assert.Equal(t, []string{"ConfigMap/drain-config", "Job/drain"}, hooks, "by weight")
	job := pre.Inputs["hooks"].ArrayValue()[1].ObjectValue()
	assert.True(t, job["deleteOnSuccess"].BoolValue())
	assert.Equal(t, `{"apiVersion":"batch/v1","kind":"Job","metadata":{"annotations":{"pulumi-jobs/hook":"pre-delete","pulumi-jobs/owner":"pulumi-jobs/dev/drain"}},`+
		`"spec":{"backoffLimit":2,"template":{"spec":{"containers":[{"image":"ghcr.io/acme/drain:2.0.0","name":"drain",`+
		`"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}],"restartPolicy":"Never",`+
		`"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}}}}}}`, job["manifest"].StringValue(),
		"the release image, the Pod Security fields and the owner mark, as the phases' hooks")
	assert.Len(t, post.Inputs["hooks"].ArrayValue(), 1)

	record := r.get(t, drainRecord).Inputs["metadata"].ObjectValue()["annotations"].ObjectValue()
	assert.Equal(t, "pre-delete,post-delete", record["pulumi-jobs/delete-hooks"].StringValue())
	assert.Equal(t, "true", record["pulumi.com/patchForce"].StringValue(), "a record a half-way destroy dropped from the state is written again")
}

// TestDeleteHooksDropped: a chart that had delete hooks at its last
// release and has none now keeps their resources, with no hooks, so that
// the up does not delete them and so run the hooks; a chart that never had
// any registers none.
func TestDeleteHooksDropped(t *testing.T) {
	record := ownership.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: "drain", Name: "pulumi-jobs.chart.drain"}
	for _, tc := range []struct {
		name       string
		events     string
		registered []string
	}{
		{"both had", "pre-delete,post-delete", []string{drainPreDelete, drainPostDelete}},
		{"post-delete had", "post-delete", []string{drainPostDelete}},
		{"none had", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ann := map[string]string{"pulumi-jobs/revision": "1", "pulumi-jobs/digest": "x", "pulumi-jobs/owner": "pulumi-jobs/dev/drain"}
			if tc.events != "" {
				ann["pulumi-jobs/delete-hooks"] = tc.events
			}
			cluster := &fakeCluster{objects: map[ownership.Ref]*ownership.Live{record: {Annotations: ann}}}
			r := runProgram(t, "dev", newRelease("drain", drainArgs(deleteHooksChart(t, false), cluster)))
			var got []string
			for _, urn := range []string{drainPreDelete, drainPostDelete} {
				if reg, ok := r.byURN[urn]; ok {
					got = append(got, urn)
					assert.Empty(t, reg.Inputs["hooks"].ArrayValue())
				}
			}
			assert.Equal(t, tc.registered, got)
			_, listed := r.get(t, drainRecord).Inputs["metadata"].ObjectValue()["annotations"].ObjectValue()["pulumi-jobs/delete-hooks"]
			assert.False(t, listed, "the next release has none to keep")
		})
	}
}
