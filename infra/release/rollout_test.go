package release_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// TestRolloutAwaitedByTheRelease: with a cluster to ask, the release
// awaits its Deployments' rollouts itself (the provider's await cannot end
// early on a pod that cannot start): the Deployments are applied with
// pulumi.com/skipAwait, and what comes after the app still depends on
// them. A Deployment of the files that chooses its own await keeps it;
// without a cluster to ask, the provider awaits as before. (The await
// itself is rollout.TestAwait's; under mocks it does not run.)
func TestRolloutAwaitedByTheRelease(t *testing.T) {
	cluster := func() *fakeCluster { return &fakeCluster{config: &rest.Config{Host: "https://127.0.0.1:1"}} }
	skipAwait := func(t *testing.T, inputs resource.PropertyMap) string {
		t.Helper()
		ann := inputs["metadata"].ObjectValue()["annotations"]
		if !ann.IsObject() {
			return ""
		}
		v := ann.ObjectValue()["pulumi.com/skipAwait"]
		if !v.IsString() {
			return ""
		}
		return v.StringValue()
	}
	for _, tc := range []struct {
		name       string
		args       func() *release.Args
		deployment string
		after      []string
		want       string
	}{
		{"built-in app, a cluster to ask", func() *release.Args { a := shopArgs(); a.Cluster = cluster(); return a },
			deploymentURN, []string{warmURN, smokeURN}, "true"},
		{"built-in app, no cluster to ask", func() *release.Args { a := shopArgs(); a.Cluster = &fakeCluster{}; return a },
			deploymentURN, []string{warmURN, smokeURN}, ""},
		{"app from files, a cluster to ask", func() *release.Args { a := fluxArgs(); a.Cluster = cluster(); return a },
			fluxDeployment, []string{fluxSmoke}, "true"},
		{"app from files, no cluster to ask", func() *release.Args { a := fluxArgs(); a.Cluster = &fakeCluster{}; return a },
			fluxDeployment, []string{fluxSmoke}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runProgram(t, "dev", newRelease(nameOf(tc.deployment), tc.args()))
			assert.Equal(t, tc.want, skipAwait(t, r.get(t, tc.deployment).Inputs))
			for _, urn := range tc.after {
				assert.Contains(t, r.get(t, urn).RegisterRPC.GetDependencies(), tc.deployment, "%s runs after the rollout", urn)
			}
		})
	}
}

// nameOf is the release name of a Deployment URN of these tests.
func nameOf(deploymentURN string) string {
	if deploymentURN == fluxDeployment {
		return "my-app"
	}
	return "shop"
}
