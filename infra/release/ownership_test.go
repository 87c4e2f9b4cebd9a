package release_test

import (
	"context"
	"k8s.io/client-go/rest"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// fakeCluster holds objects by Ref and records what it was asked; config,
// when set, is where a chart's lookup reads.
type fakeCluster struct {
	objects map[ownership.Ref]*ownership.Live
	asked   []ownership.Ref
	config  *rest.Config
}

func (f *fakeCluster) RESTConfig() *rest.Config { return f.config }

func (f *fakeCluster) Lookup(_ context.Context, ref ownership.Ref) (*ownership.Live, error) {
	f.asked = append(f.asked, ref)
	return f.objects[ref], nil
}

var (
	shopNamespace  = ownership.Ref{APIVersion: "v1", Kind: "Namespace", Name: "shop-dev"}
	shopDeployment = ownership.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop-dev", Name: "shop"}
	shopService    = ownership.Ref{APIVersion: "v1", Kind: "Service", Namespace: "shop-dev", Name: "shop"}
)

// TestOwnershipRefusal: a release that would take over an existing object
// registers nothing at all — not the namespace, not a Job — and says which
// object, whose it is, and that nothing changed.
func TestOwnershipRefusal(t *testing.T) {
	args := shopArgs()
	args.Cluster = &fakeCluster{objects: map[ownership.Ref]*ownership.Live{
		shopDeployment: {Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"}},
	}}
	m, err := pulumitest.Run(newRelease("shop", args), "dev", pulumitest.Config{})
	var refusal *ownership.Error
	require.ErrorAs(t, err, &refusal)
	assert.Equal(t, []ownership.Claim{{Ref: shopDeployment, Holder: "managed by Helm, owner unknown"}}, refusal.Claims)
	assert.Equal(t, "pulumi-jobs/dev/shop", refusal.Release)
	assert.Empty(t, m.Registrations(), "nothing is registered, so nothing is created and no Job runs")
}

// TestOwnershipLooksUpEveryNamedObject: the built-in app's release looks up
// its namespace, Deployment and Service (its Jobs and Secret are
// auto-named), and the GitOps hand-over's service account; without
// createNamespace, not the namespace.
func TestOwnershipLooksUpEveryNamedObject(t *testing.T) {
	cases := []struct {
		name   string
		change func(*release.Args)
		want   []ownership.Ref
	}{
		{"built-in app", func(*release.Args) {}, []ownership.Ref{shopNamespace, shopDeployment, shopService}},
		{"into an existing namespace", func(a *release.Args) { a.CreateNamespace = ptr(false) }, []ownership.Ref{shopDeployment, shopService}},
		{"with the operator hand-over", func(a *release.Args) {
			a.GitOps = &release.GitOpsSettings{Repository: "https://github.com/acme/shop", TargetStack: "acme/shop/prod", AccessTokenSecret: "pulumi-api"}
		}, []ownership.Ref{shopNamespace, shopDeployment, shopService, {APIVersion: "v1", Kind: "ServiceAccount", Namespace: "shop-dev", Name: "shop-pulumi-operator"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := shopArgs()
			c.change(args)
			cluster := &fakeCluster{}
			args.Cluster = cluster
			runProgram(t, "dev", newRelease("shop", args))
			assert.Equal(t, c.want, cluster.asked)
		})
	}
}

// TestOwnershipOfFiles: with the app from files, each object of the files is
// looked up under the release's namespace, and the chart's hook objects and
// record too (the record is read first: install or upgrade).
func TestOwnershipOfFiles(t *testing.T) {
	cluster := &fakeCluster{}
	runProgram(t, "dev", newRelease("shop", &release.Args{
		Namespace: pulumi.String("shop"),
		Image:     pulumi.String("ghcr.io/acme/shop:2.0.0"),
		App:       release.App{Name: "shop", Chart: &release.Chart{Path: "../chart/testdata/shop"}},
		Cluster:   cluster,
	}))
	record := ownership.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "pulumi-jobs.chart.shop"}
	assert.Equal(t, []ownership.Ref{
		record,
		{APIVersion: "v1", Kind: "Namespace", Name: "shop"},
		{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "shop-migrate"},
		{APIVersion: "v1", Kind: "Secret", Namespace: "shop", Name: "shop-initial-password"},
		{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "shop-config"},
		{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "shop"},
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "shop"},
		record,
	}, cluster.asked)
}

// TestOwnershipOursOrAdopted: objects marked with this release's owner are
// its own; with adopt, foreign ones are taken over (and announced).
func TestOwnershipOursOrAdopted(t *testing.T) {
	ours := &ownership.Live{Annotations: map[string]string{"pulumi-jobs/owner": "pulumi-jobs/dev/shop"}}
	foreign := &ownership.Live{Annotations: map[string]string{"pulumi-jobs/owner": "pulumi-jobs/prod/shop"}}

	args := shopArgs()
	args.Cluster = &fakeCluster{objects: map[ownership.Ref]*ownership.Live{shopNamespace: ours, shopDeployment: ours, shopService: ours}}
	r := runProgram(t, "dev", newRelease("shop", args))
	assert.Len(t, r.order, 13, "the whole release is registered")

	args = shopArgs()
	args.Cluster = &fakeCluster{objects: map[ownership.Ref]*ownership.Live{shopNamespace: foreign}}
	_, err := pulumitest.Run(newRelease("shop", args), "dev", pulumitest.Config{})
	require.ErrorContains(t, err, "Namespace shop-dev (owned by release pulumi-jobs/prod/shop)", "another stack's namespace")

	// adopt alone does not take what another release of pulumi-jobs holds
	// (it may be live); adoptFrom names that release.
	args.Adopt = ptr(true)
	_, err = pulumitest.Run(newRelease("shop", args), "dev", pulumitest.Config{})
	require.ErrorContains(t, err, "Namespace shop-dev (owned by release pulumi-jobs/prod/shop)")
	assert.ErrorContains(t, err, "set adoptFrom to its owner mark as listed")
	args.AdoptFrom = "pulumi-jobs/prod/shop"
	r = runProgram(t, "dev", newRelease("shop", args))
	assert.Equal(t, map[string]any{"pulumi-jobs/owner": "pulumi-jobs/dev/shop", "pulumi.com/patchForce": "true"},
		prop(t, r.get(t, namespaceURN).Inputs, "metadata.annotations").Mappable(),
		"adopted: the namespace is marked as this release's, and takes the fields another tool set")
	for _, urn := range []string{deploymentURN, serviceURN} {
		assert.Equal(t, map[string]any{"pulumi-jobs/owner": "pulumi-jobs/dev/shop"},
			withoutSkipAwait(prop(t, r.get(t, urn).Inputs, "metadata.annotations").Mappable()),
			"%s: not in the cluster, nothing to take over: created without force", urn)
	}

	// Adopt is one-shot: left on, it forces nothing on objects that carry
	// the release's mark (an HPA's replicas are not reset on every up).
	args = shopArgs()
	args.Adopt = ptr(true)
	args.Cluster = &fakeCluster{objects: map[ownership.Ref]*ownership.Live{shopNamespace: ours, shopDeployment: ours, shopService: ours}}
	r = runProgram(t, "dev", newRelease("shop", args))
	for _, urn := range []string{namespaceURN, deploymentURN, serviceURN} {
		assert.Equal(t, map[string]any{"pulumi-jobs/owner": "pulumi-jobs/dev/shop"},
			withoutSkipAwait(prop(t, r.get(t, urn).Inputs, "metadata.annotations").Mappable()),
			"%s: already the release's own: no patchForce", urn)
	}
}

// TestOwnershipWithProviderOption: a release given a Kubernetes provider as
// an option, or through its parent, cannot tell which cluster to check, and
// is refused unless its kubeconfig says.
func TestOwnershipWithProviderOption(t *testing.T) {
	program := func(ctx *pulumi.Context) error {
		p, err := kubernetes.NewProvider(ctx, "other-cluster", &kubernetes.ProviderArgs{})
		if err != nil {
			return err
		}
		_, err = release.New(ctx, "shop", shopArgs(), pulumi.Provider(p))
		return err
	}
	_, err := pulumitest.Run(program, "dev", pulumitest.Config{})
	require.ErrorContains(t, err, `release "shop" is given a Kubernetes provider (as an option, or through its parent), and cannot read which cluster it points at`)
	assert.ErrorContains(t, err, "pass that cluster as the release's kubeconfig")

	// A provider the release inherits from its parent component, as the SDK
	// hands it to children, names a cluster just as well.
	inherited := func(ctx *pulumi.Context) error {
		p, err := kubernetes.NewProvider(ctx, "other-cluster", &kubernetes.ProviderArgs{})
		if err != nil {
			return err
		}
		parent := &pulumi.ResourceState{}
		if err := ctx.RegisterComponentResource("acme:index:Platform", "platform", parent, pulumi.Providers(p)); err != nil {
			return err
		}
		_, err = release.New(ctx, "shop", shopArgs(), pulumi.Parent(parent))
		return err
	}
	_, err = pulumitest.Run(inherited, "dev", pulumitest.Config{})
	require.ErrorContains(t, err, `release "shop" is given a Kubernetes provider (as an option, or through its parent), and cannot read which cluster it points at`)
}

// withoutSkipAwait drops the Service's skipAwait from annotations.
func withoutSkipAwait(annotations any) any {
	m := annotations.(map[string]any)
	delete(m, "pulumi.com/skipAwait")
	return m
}
