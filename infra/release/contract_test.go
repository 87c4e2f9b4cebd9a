package release_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// contractChart writes a chart that leans on Helm's contract: a crds/
// file, a custom resource of that kind, a migration whose identity
// (ServiceAccount) and Job are deleted once the hooks succeed, and a Job
// that asks to be deleted when it fails.
func contractChart(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	job := func(name, events, policy string) string {
		return "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: " + name + "\n  annotations:\n    helm.sh/hook: " + events + "\n" +
			"    helm.sh/hook-delete-policy: " + policy + "\n" +
			"spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: x\n          image: ghcr.io/acme/tools:1.0.0\n"
	}
	for file, text := range map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: contract\nversion: 0.1.0\n",
		"crds/widget.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.contract.example.com\n" +
			"spec:\n  group: contract.example.com\n  scope: Namespaced\n  names: {plural: widgets, singular: widget, kind: Widget}\n" +
			"  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]\n",
		"templates/widget.yaml": "apiVersion: contract.example.com/v1\nkind: Widget\nmetadata:\n  name: contract\n",
		"templates/identity.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: migrator\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n" +
			"    helm.sh/hook-weight: \"-5\"\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n",
		"templates/migrate.yaml": job("migrate", "pre-install,pre-upgrade", "hook-succeeded"),
		"templates/report.yaml":  job("report", "post-install", "hook-failed"),
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, file)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644))
	}
	return dir
}

func contractArgs(dir string, cluster ownership.Cluster) *release.Args {
	return &release.Args{
		Namespace: pulumi.String("contract"), Image: pulumi.String("ghcr.io/acme/contract:1.0.0"),
		App:     release.App{Name: "contract", Chart: &release.Chart{Path: dir}},
		Cluster: cluster,
	}
}

// TestChartContractPlan: crds/ are apart from the app's objects (never
// among the objects the ownership check looks up); hook-succeeded hooks,
// a Job and an object, are deleted once their phase succeeds; hook-failed
// is said to be kept for its logs.
func TestChartContractPlan(t *testing.T) {
	dir := contractChart(t)
	p := &check.Problems{}
	plan := release.NewPlan(p, "contract", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, contractArgs(dir, nil))
	require.Empty(t, p.List)
	require.NoError(t, plan.RenderChart(nil, nil, ""))

	require.Len(t, plan.CRDs, 1)
	assert.Equal(t, "contract/crds/widget.yaml", plan.CRDs[0].Source)
	var kinds []string
	for _, o := range plan.App.Objects {
		kinds = append(kinds, o.Obj["kind"].(string))
	}
	assert.Equal(t, []string{"Widget"}, kinds, "the CRD is not an app object")
	assert.Equal(t, []release.Deletion{
		{Ref: ownership.Ref{APIVersion: "v1", Kind: "ServiceAccount", Namespace: "contract", Name: "migrator"}},
		{Job: "migrate"},
	}, plan.PreDeletions)
	assert.Empty(t, plan.PostDeletions)
	assert.Contains(t, plan.Warnings, "hook Job/report (contract/templates/report.yaml) asks to be deleted when it fails (hook-delete-policy: hook-failed): "+
		"a failed run is kept instead, for its logs, and replaced by the next up's run")

	// An upgrade that changes nothing: the hook-succeeded identity was
	// deleted after the install's hooks, and is not created again.
	again := release.NewPlan(p, "contract", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, contractArgs(dir, nil))
	require.NoError(t, again.RenderChart(plan.Record(), nil, ""))
	assert.Empty(t, again.PreHooks.Objects, "the identity is not registered again")
	assert.Empty(t, again.PreDeletions)
}

// TestChartCRDsRegistrations: a CRD the cluster lacks is registered first,
// kept on delete and never updated, and every other object of the release
// depends on it; a CRD the cluster has (whoever installed it) is used, not
// registered, and not claimed by the ownership check.
func TestChartCRDsRegistrations(t *testing.T) {
	const (
		crd    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition::contract-crd-widgets.contract.example.com"
		widget = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:contract.example.com/v1:Widget::contract-contract/contract"
		ns     = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:Namespace::contract"
	)
	dir := contractChart(t)
	missing := runProgram(t, "dev", newRelease("contract", contractArgs(dir, &fakeCluster{})))
	c := missing.get(t, crd)
	assert.True(t, c.RegisterRPC.GetRetainOnDelete(), "destroy never deletes a chart's CRD")
	assert.Equal(t, []string{"spec", "metadata"}, c.RegisterRPC.GetIgnoreChanges(), "never updated")
	assert.Contains(t, missing.get(t, widget).RegisterRPC.GetDependencies(), crd)
	assert.Contains(t, missing.get(t, ns).RegisterRPC.GetDependencies(), crd)

	ref := ownership.Ref{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition", Name: "widgets.contract.example.com"}
	cluster := &fakeCluster{objects: map[ownership.Ref]*ownership.Live{
		ref: {Annotations: map[string]string{"meta.helm.sh/release-name": "other"}},
	}}
	present := runProgram(t, "dev", newRelease("contract", contractArgs(dir, cluster)))
	_, registered := present.byURN[crd]
	assert.False(t, registered, "a CRD the cluster has is used as it is")
	assert.NotContains(t, present.get(t, widget).RegisterRPC.GetDependencies(), crd)
	assert.Equal(t, 1, countRef(cluster.asked, ref), "looked up once, to tell whether it is there, and not refused for its other owner")
}

func countRef(refs []ownership.Ref, ref ownership.Ref) int {
	n := 0
	for _, r := range refs {
		if r == ref {
			n++
		}
	}
	return n
}

// TestHookSucceededObjectCreatedEachRun: a hook object that its policy
// deletes once its phase succeeded (hook-succeeded) is created again by
// every revision that runs it, though its content is the same: its
// resource is replaced, the old one deleted first (its name is fixed),
// when the revision changes. An object without the policy is updated in
// place.
func TestHookSucceededObjectCreatedEachRun(t *testing.T) {
	const identity = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:ServiceAccount::contract-hook-contract/migrator"
	dir := contractChart(t)
	p := &check.Problems{}
	install := release.NewPlan(p, "contract", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, contractArgs(dir, nil))
	require.NoError(t, install.RenderChart(nil, nil, ""))
	assert.Equal(t, []string{"1"}, install.PreHooks.Triggers)

	args := contractArgs(dir, nil)
	args.Image = pulumi.String("ghcr.io/acme/contract:1.0.1")
	upgrade := release.NewPlan(p, "contract", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, args)
	require.NoError(t, upgrade.RenderChart(install.Record(), nil, ""))
	assert.Equal(t, []string{"2"}, upgrade.PreHooks.Triggers, "the upgrade creates the identity again")
	require.Empty(t, p.List)

	r := runProgram(t, "dev", newRelease("contract", contractArgs(dir, &fakeCluster{})))
	rpc := r.get(t, identity).RegisterRPC
	require.NotNil(t, rpc.GetReplacementTrigger())
	assert.Equal(t, "1", rpc.GetReplacementTrigger().GetStringValue())
	assert.True(t, rpc.GetDeleteBeforeReplace())
}
