package ownership_test

import (
	"context"
	"errors"
	"k8s.io/client-go/rest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/ownership"
)

// fakeCluster holds objects by Ref; lookups of other refs find nothing.
type fakeCluster struct {
	objects map[ownership.Ref]*ownership.Live
	err     error
	asked   []ownership.Ref
}

func (f *fakeCluster) RESTConfig() *rest.Config { return nil }

func (f *fakeCluster) Lookup(_ context.Context, ref ownership.Ref) (*ownership.Live, error) {
	f.asked = append(f.asked, ref)
	if f.err != nil {
		return nil, f.err
	}
	return f.objects[ref], nil
}

const me = "pulumi-jobs/dev/shop"

var (
	ns         = ownership.Ref{APIVersion: "v1", Kind: "Namespace", Name: "shop"}
	deployment = ownership.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "shop"}
	service    = ownership.Ref{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "shop"}
	config     = ownership.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "settings"}
)

func TestOwner(t *testing.T) {
	assert.Equal(t, "pulumi-jobs/dev/shop", ownership.Owner("pulumi-jobs", "dev", "shop"))
}

func TestCheck(t *testing.T) {
	mine := &ownership.Live{Annotations: map[string]string{"pulumi-jobs/owner": me}}
	cases := []struct {
		name    string
		objects map[ownership.Ref]*ownership.Live
		adopt   bool
		claims  []ownership.Claim
		refused bool
		// from is adoptFrom.
		from string
		// refusedClaims are the claims the refusal lists, when not claims.
		refusedClaims []ownership.Claim
	}{
		{name: "nothing exists"},
		{name: "all ours", objects: map[ownership.Ref]*ownership.Live{ns: mine, deployment: mine, service: mine}},
		{
			name:    "a namespace with no marks",
			objects: map[ownership.Ref]*ownership.Live{ns: {}},
			claims:  []ownership.Claim{{Ref: ns, Holder: "owner unknown"}},
			refused: true,
		},
		{
			name: "another stack's namespace and Deployment, a Helm release's Service, kubectl's ConfigMap",
			objects: map[ownership.Ref]*ownership.Live{
				ns:         {Annotations: map[string]string{"pulumi-jobs/owner": "pulumi-jobs/prod/shop"}},
				deployment: {Annotations: map[string]string{"pulumi-jobs/owner": "pulumi-jobs/prod/shop"}},
				service: {
					Annotations: map[string]string{"meta.helm.sh/release-name": "shop", "meta.helm.sh/release-namespace": "shop"},
					Labels:      map[string]string{"app.kubernetes.io/managed-by": "Helm"},
				},
				config: {Labels: map[string]string{"app.kubernetes.io/managed-by": "kubectl"}},
			},
			claims: []ownership.Claim{
				{Ref: ns, Holder: "owned by release pulumi-jobs/prod/shop"},
				{Ref: deployment, Holder: "owned by release pulumi-jobs/prod/shop"},
				{Ref: service, Holder: "owned by Helm release shop/shop"},
				{Ref: config, Holder: "managed by kubectl, owner unknown"},
			},
			refused: true,
		},
		{
			name:    "adopted",
			objects: map[ownership.Ref]*ownership.Live{ns: mine, deployment: {Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"}}},
			adopt:   true,
			claims:  []ownership.Claim{{Ref: deployment, Holder: "managed by Helm, owner unknown"}},
		},
		{
			name: "adopt refuses what another release of pulumi-jobs holds, and takes Helm's",
			objects: map[ownership.Ref]*ownership.Live{
				deployment: {Annotations: map[string]string{"pulumi-jobs/owner": "pulumi-jobs/prod/shop"}},
				service:    {Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"}},
			},
			adopt: true,
			claims: []ownership.Claim{
				{Ref: deployment, Holder: "owned by release pulumi-jobs/prod/shop"},
				{Ref: service, Holder: "managed by Helm, owner unknown"},
			},
			refused:       true,
			refusedClaims: []ownership.Claim{{Ref: deployment, Holder: "owned by release pulumi-jobs/prod/shop"}},
		},
		{
			name:    "adoptFrom names that release",
			objects: map[ownership.Ref]*ownership.Live{deployment: {Annotations: map[string]string{"pulumi-jobs/owner": "pulumi-jobs/prod/shop"}}},
			adopt:   true,
			from:    "pulumi-jobs/prod/shop",
			claims:  []ownership.Claim{{Ref: deployment, Holder: "owned by release pulumi-jobs/prod/shop"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cluster := &fakeCluster{objects: c.objects}
			claims, err := ownership.Check(context.Background(), cluster, me, []ownership.Ref{ns, deployment, service, config},
				ownership.Adoption{Enabled: c.adopt, From: c.from})
			assert.Equal(t, c.claims, claims)
			if !c.refused {
				require.NoError(t, err)
				return
			}
			var refusal *ownership.Error
			require.ErrorAs(t, err, &refusal)
			assert.Equal(t, me, refusal.Release)
			want := c.claims
			if c.refusedClaims != nil {
				want = c.refusedClaims
			}
			assert.Equal(t, want, refusal.Claims)
			assert.Equal(t, c.adopt, refusal.Adopting)
		})
	}
}

func TestCheckSkipsAutoNamedAndRepeated(t *testing.T) {
	cluster := &fakeCluster{}
	_, err := ownership.Check(context.Background(), cluster, me, []ownership.Ref{
		ns, {APIVersion: "batch/v1", Kind: "Job", Namespace: "shop"}, ns, deployment,
	}, ownership.Adoption{})
	require.NoError(t, err)
	assert.Equal(t, []ownership.Ref{ns, deployment}, cluster.asked)
}

func TestCheckUnreadableCluster(t *testing.T) {
	cluster := &fakeCluster{err: errors.New("connection refused")}
	claims, err := ownership.Check(context.Background(), cluster, me, []ownership.Ref{ns}, ownership.Adoption{Enabled: true})
	assert.Nil(t, claims)
	require.EqualError(t, err, "checking Namespace shop in the cluster before release pulumi-jobs/dev/shop creates it (nothing was changed): connection refused")
}

func TestErrorMessage(t *testing.T) {
	err := &ownership.Error{Release: me, Claims: []ownership.Claim{
		{Ref: ns, Holder: "owner unknown"},
		{Ref: deployment, Holder: "owned by Helm release shop/shop"},
	}}
	assert.Equal(t, `release pulumi-jobs/dev/shop would take over 2 object(s) that exist in the cluster and that it did not create:
  - Namespace shop (owner unknown)
  - Deployment shop/shop (owned by Helm release shop/shop)
Nothing was changed: no object was created, relabelled or deleted, and no Job ran.
Fix: release into another namespace or under other names; or, to move these objects into this release on purpose (from Helm, kubectl or another stack), set adopt to true for this release (stack config: pulumi config set adopt true): they are then marked as its own, and its destroy deletes them`, err.Error())
}

func TestRefString(t *testing.T) {
	assert.Equal(t, "Namespace shop", ns.String())
	assert.Equal(t, "Deployment shop/shop", deployment.String())
}

func TestConnect(t *testing.T) {
	t.Setenv("KUBECONFIG", t.TempDir()+"/missing")
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, err := ownership.Connect("", "")
	require.ErrorIs(t, err, ownership.ErrNoCluster, "no kubeconfig and not in a pod")

	c, err := ownership.Connect("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\n"+
		"users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n", "")
	require.NoError(t, err, "kubeconfig contents")
	_, err = c.Lookup(context.Background(), ns)
	require.ErrorContains(t, err, "the cluster at https://127.0.0.1:1 does not answer")

	_, err = ownership.Connect(t.TempDir()+"/missing-file", "")
	require.Error(t, err, "a kubeconfig path that names no file")
}
