package release_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/pod"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// The URNs of the release "shop" of shopArgs on stack dev, spelled out.
const (
	shopURN       = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release::shop"
	namespaceURN  = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:Namespace::shop"
	secretURN     = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:Secret::shop-database"
	preURN        = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs::shop-pre-deploy"
	migrateURN    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-pre-deploy-migrate-schema"
	indexURN      = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-pre-deploy-migrate-search-index"
	seedURN       = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-pre-deploy-seed-reference-data"
	appURN        = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase::shop-app"
	deploymentURN = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::shop"
	serviceURN    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:core/v1:Service::shop"
	postURN       = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs::shop-post-deploy"
	warmURN       = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-post-deploy-warm-cache"
	smokeURN      = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-post-deploy-smoke-test"
)

const databaseURL = "postgres://shop:s3cr3t-pa55@db.internal:5432/shop"

func ptr[T any](v T) *T { return &v }

// shopArgs is a release like the shipped dev stack: two waves before the
// app, two after it, and a database URL.
func shopArgs() *release.Args {
	return &release.Args{
		Namespace:   pulumi.String("shop-dev"),
		Image:       pulumi.String("ghcr.io/acme/shop:1.4.2"),
		ReleaseID:   pulumi.String("dev-1"),
		DatabaseURL: pulumi.ToSecret(pulumi.String(databaseURL)).(pulumi.StringOutput),
		App: release.App{
			Name: "shop", Replicas: ptr(2), ReadinessPath: "/healthz", Env: map[string]string{"LOG_LEVEL": "debug"},
		},
		PreDeploy: []jobs.Job{
			{Name: "migrate-schema", Command: []string{"/app/shop", "migrate", "up"}, Timeout: "5m"},
			{Name: "seed-reference-data", Command: []string{"/app/shop", "seed"}, Wave: 1, Rerun: "once"},
			{Name: "migrate-search-index", Command: []string{"/app/shop", "search", "reindex"}, Timeout: "5m"},
		},
		PostDeploy: []jobs.Job{
			{Name: "smoke-test", Command: []string{"/app/shop", "smoke-test"}, Wave: 1, Rerun: "onRelease", BackoffLimit: ptr(0), Timeout: "2m"},
			{Name: "warm-cache", Command: []string{"/app/shop", "cache", "warm"}},
		},
	}
}

// registered is one mocked run, indexed by URN.
type registered struct {
	byURN map[string]pulumitest.Registration
	order []string
}

func runProgram(t *testing.T, stack string, program pulumi.RunFunc) registered {
	t.Helper()
	m, err := pulumitest.Run(program, stack, pulumitest.Config{})
	require.NoError(t, err)
	r := registered{byURN: map[string]pulumitest.Registration{}}
	for _, reg := range m.Registrations() {
		_, dup := r.byURN[reg.URN]
		require.False(t, dup, "%s registered twice", reg.URN)
		r.byURN[reg.URN] = reg
		r.order = append(r.order, reg.URN)
	}
	return r
}

func (r registered) get(t *testing.T, urn string) pulumitest.Registration {
	t.Helper()
	reg, ok := r.byURN[urn]
	require.Truef(t, ok, "%s is not registered", urn)
	return reg
}

func newRelease(name string, args *release.Args, opts ...pulumi.ResourceOption) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		_, err := release.New(ctx, name, args, opts...)
		return err
	}
}

func TestChildren(t *testing.T) {
	r := runProgram(t, "dev", newRelease("shop", shopArgs()))
	assert.ElementsMatch(t, []string{
		shopURN, namespaceURN, secretURN,
		preURN, migrateURN, indexURN, seedURN,
		appURN, deploymentURN, serviceURN,
		postURN, warmURN, smokeURN,
	}, r.order)

	for urn, parent := range map[string]string{
		shopURN:       "urn:pulumi:dev::pulumi-jobs::pulumi:pulumi:Stack::pulumi-jobs-dev",
		namespaceURN:  shopURN,
		secretURN:     shopURN,
		preURN:        shopURN,
		appURN:        shopURN,
		postURN:       shopURN,
		migrateURN:    preURN,
		indexURN:      preURN,
		seedURN:       preURN,
		deploymentURN: appURN,
		serviceURN:    appURN,
		warmURN:       postURN,
		smokeURN:      postURN,
	} {
		assert.Equal(t, parent, r.get(t, urn).RegisterRPC.GetParent(), urn)
	}

	// Kubernetes names: the namespace and the app's are fixed, the Jobs' and
	// the Secret's are left to auto-naming.
	assert.Equal(t, "shop-dev", prop(t, r.get(t, namespaceURN).Inputs, "metadata.name").StringValue())
	assert.Equal(t, "shop", prop(t, r.get(t, deploymentURN).Inputs, "metadata.name").StringValue())
	assert.Equal(t, "shop", prop(t, r.get(t, serviceURN).Inputs, "metadata.name").StringValue())
	for _, urn := range []string{secretURN, migrateURN, indexURN, seedURN, warmURN, smokeURN} {
		_, named := r.get(t, urn).Inputs["metadata"].ObjectValue()["name"]
		assert.False(t, named, "%s is auto-named", urn)
	}
}

// TestDependencies pins every registration's dependencies: the namespace
// and the Secret through inputs; the app on every pre-deploy Job; every
// post-deploy Job on the Deployment and the Service; each wave on the one
// before it.
func TestDependencies(t *testing.T) {
	r := runProgram(t, "dev", newRelease("shop", shopArgs()))
	for urn, want := range map[string][]string{
		shopURN:       nil,
		namespaceURN:  nil,
		secretURN:     {namespaceURN},
		preURN:        nil,
		migrateURN:    {namespaceURN, secretURN},
		indexURN:      {namespaceURN, secretURN},
		seedURN:       {namespaceURN, secretURN, migrateURN, indexURN},
		appURN:        {migrateURN, indexURN, seedURN},
		deploymentURN: {namespaceURN, secretURN, migrateURN, indexURN, seedURN},
		serviceURN:    {namespaceURN, migrateURN, indexURN, seedURN},
		postURN:       {deploymentURN, serviceURN},
		warmURN:       {namespaceURN, secretURN, deploymentURN, serviceURN},
		smokeURN:      {namespaceURN, secretURN, deploymentURN, serviceURN, warmURN},
	} {
		t.Run(urn[strings.LastIndex(urn, "::")+2:], func(t *testing.T) {
			assert.ElementsMatch(t, want, r.get(t, urn).RegisterRPC.GetDependencies())
		})
	}
}

// TestOptions pins the options of the Jobs and the aliases that keep the
// URNs of earlier versions.
func TestOptions(t *testing.T) {
	r := runProgram(t, "dev", newRelease("shop", shopArgs()))
	imagePaths := []string{"spec.template.spec.containers[*].image", "spec.template.spec.initContainers[*].image"}
	for _, c := range []struct {
		urn              string
		replaceOnChanges []string
		ignoreChanges    []string
		trigger          string
		timeout          string
	}{
		{migrateURN, imagePaths, nil, "", "6m0s"},
		{indexURN, imagePaths, nil, "", "6m0s"},
		{seedURN, nil, []string{"spec"}, "", "11m0s"},
		{warmURN, imagePaths, nil, "", "11m0s"},
		{smokeURN, imagePaths, nil, "dev-1", "3m0s"},
	} {
		t.Run(c.urn[strings.LastIndex(c.urn, "::")+2:], func(t *testing.T) {
			rpc := r.get(t, c.urn).RegisterRPC
			assert.Equal(t, c.replaceOnChanges, nilIfEmpty(rpc.GetReplaceOnChanges()))
			assert.Equal(t, c.ignoreChanges, nilIfEmpty(rpc.GetIgnoreChanges()))
			if c.trigger == "" {
				assert.Nil(t, rpc.GetReplacementTrigger())
			} else {
				assert.Equal(t, c.trigger, rpc.GetReplacementTrigger().GetStringValue())
			}
			assert.Equal(t, c.timeout, rpc.GetCustomTimeouts().GetCreate())
			assert.Equal(t, c.timeout, rpc.GetCustomTimeouts().GetUpdate())
		})
	}

	type alias struct{ name, typ string }
	aliases := func(urn string) []alias {
		var out []alias
		for _, a := range r.get(t, urn).RegisterRPC.GetAliases() {
			out = append(out, alias{a.GetSpec().GetName(), a.GetSpec().GetType()})
		}
		return out
	}
	assert.Equal(t, []alias{{"", "pulumi-jobs:index:PreDeploy"}}, aliases(preURN))
	assert.Equal(t, []alias{{"", "pulumi-jobs:index:App"}, {"shop-deploy", "pulumi-jobs:index:Deploy"}}, aliases(appURN))
	assert.Equal(t, []alias{{"", "pulumi-jobs:index:PostDeploy"}}, aliases(postURN))
	assert.Equal(t, []alias{{"migrate-schema", ""}}, aliases(migrateURN))
	assert.Equal(t, []alias{{"smoke-test", ""}}, aliases(smokeURN))
	assert.Equal(t, []alias{{"shop-dev", ""}}, aliases(namespaceURN), "the Namespace resource was named after the namespace")
	assert.Empty(t, aliases(shopURN))

	sameName := runProgram(t, "dev", func(ctx *pulumi.Context) error {
		args := shopArgs()
		args.Namespace = pulumi.String("shop")
		_, err := release.New(ctx, "shop", args)
		return err
	})
	assert.Empty(t, sameName.get(t, namespaceURN).RegisterRPC.GetAliases(), "no alias when the namespace is the release's name")
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func prop(t *testing.T, pm resource.PropertyMap, path string) resource.PropertyValue {
	t.Helper()
	p, err := resource.ParsePropertyPath(path)
	require.NoError(t, err)
	v, ok := p.Get(resource.NewProperty(pm))
	require.Truef(t, ok, "no property %s", path)
	return v
}

// TestInputs pins the namespace, the Secret, the Deployment and the Service
// as literal property maps.
func TestInputs(t *testing.T) {
	r := runProgram(t, "dev", newRelease("shop", shopArgs()))
	labels := map[string]any{"app.kubernetes.io/name": "shop", "app.kubernetes.io/part-of": "shop", "app.kubernetes.io/managed-by": "pulumi"}

	assert.Equal(t, map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": "shop-dev", "labels": map[string]any{
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
			"pod-security.kubernetes.io/warn":            "restricted",
			"pod-security.kubernetes.io/audit":           "restricted",
			"app.kubernetes.io/part-of":                  "shop",
			"app.kubernetes.io/managed-by":               "pulumi",
		}, "annotations": map[string]any{"pulumi-jobs/owner": "pulumi-jobs/dev/shop"}},
	}, r.get(t, namespaceURN).Inputs.Mappable())

	secret := r.get(t, secretURN).Inputs
	data := secret["stringData"]
	require.True(t, data.IsSecret(), "the database URL is sent as a secret")
	assert.Equal(t, map[string]any{"DATABASE_URL": databaseURL}, data.SecretValue().Element.Mappable())
	assert.Equal(t, "Opaque", secret["type"].StringValue())
	assert.Equal(t, "shop-dev", prop(t, secret, "metadata.namespace").StringValue())
	for urn, reg := range r.byURN {
		if urn != secretURN {
			assert.NotContains(t, fmt.Sprint(reg.Inputs.Mappable()), "s3cr3t", "the database URL in plaintext in %s", urn)
		}
	}

	assert.Equal(t, map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{
			"name": "shop", "namespace": "shop-dev", "labels": labels,
			"annotations": map[string]any{"pulumi-jobs/owner": "pulumi-jobs/dev/shop"},
		},
		"spec": map[string]any{
			"replicas": float64(2),
			"selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "shop"}},
			"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxUnavailable": float64(0), "maxSurge": float64(1)}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{
					"automountServiceAccountToken": false,
					"enableServiceLinks":           false,
					"securityContext":              map[string]any{"runAsNonRoot": true, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
					"volumes":                      []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{}}},
					"containers": []any{map[string]any{
						"name":  "app",
						"image": "ghcr.io/acme/shop:1.4.2",
						"ports": []any{map[string]any{"name": "http", "containerPort": float64(8080)}},
						"env": []any{
							map[string]any{"name": "LOG_LEVEL", "value": "debug"},
							map[string]any{"name": "DATABASE_URL", "valueFrom": map[string]any{"secretKeyRef": map[string]any{
								"name": "shop-database-0123abcd", "key": "DATABASE_URL",
							}}},
						},
						"resources": map[string]any{
							"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
							"limits":   map[string]any{"cpu": "500m", "memory": "256Mi"},
						},
						"readinessProbe": map[string]any{
							"httpGet":       map[string]any{"path": "/healthz", "port": "http"},
							"periodSeconds": float64(5), "failureThreshold": float64(3),
						},
						"securityContext": map[string]any{
							"allowPrivilegeEscalation": false,
							"capabilities":             map[string]any{"drop": []any{"ALL"}},
							"readOnlyRootFilesystem":   true,
							"runAsNonRoot":             true,
							"seccompProfile":           map[string]any{"type": "RuntimeDefault"},
						},
						"volumeMounts": []any{map[string]any{"name": "tmp", "mountPath": "/tmp"}},
					}},
				},
			},
		},
	}, r.get(t, deploymentURN).Inputs.Mappable())

	assert.Equal(t, map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{
			"name": "shop", "namespace": "shop-dev", "labels": labels,
			"annotations": map[string]any{"pulumi.com/skipAwait": "true", "pulumi-jobs/owner": "pulumi-jobs/dev/shop"},
		},
		"spec": map[string]any{
			"type":     "ClusterIP",
			"selector": map[string]any{"app.kubernetes.io/name": "shop"},
			"ports":    []any{map[string]any{"name": "http", "port": float64(8080), "targetPort": "http"}},
		},
	}, r.get(t, serviceURN).Inputs.Mappable())

	// The Jobs get the release's image, namespace, secret, labels and, as
	// their default, the app's resources.
	job := r.get(t, smokeURN).Inputs
	assert.Equal(t, "ghcr.io/acme/shop:1.4.2", prop(t, job, "spec.template.spec.containers[0].image").StringValue())
	assert.Equal(t, "shop-dev", prop(t, job, "metadata.namespace").StringValue())
	assert.Equal(t, "shop-database-0123abcd", prop(t, job, "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name").StringValue())
	assert.Equal(t, map[string]any{
		"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "shop", "pulumi-jobs/phase": "post-deploy",
		"pulumi-jobs/job": "smoke-test", "pulumi-jobs/rerun": "onRelease", "pulumi-jobs/wave": "1",
	}, prop(t, job, "metadata.labels").Mappable())
	assert.Equal(t, float64(0), prop(t, job, "spec.backoffLimit").NumberValue())
	assert.Equal(t, float64(120), prop(t, job, "spec.activeDeadlineSeconds").NumberValue())
}

// TestDefaults: a release of nothing but the required args, into an
// existing namespace, with no database URL.
func TestDefaults(t *testing.T) {
	r := runProgram(t, "dev", newRelease("web", &release.Args{
		Namespace: pulumi.String("web"), CreateNamespace: ptr(false), Image: pulumi.String("nginx:1.27"),
		App:       release.App{Name: "web", Resources: &pod.Resources{Limits: &pod.Quantities{Memory: "1Gi"}}},
		PreDeploy: []jobs.Job{{Name: "migrate", Command: []string{"m"}}},
	}))
	const (
		webDeployment = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::web"
		webMigrate    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::web-pre-deploy-migrate"
	)
	assert.ElementsMatch(t, []string{
		"urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release::web",
		"urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs::web-pre-deploy",
		webMigrate,
		"urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase::web-app",
		webDeployment,
		"urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$kubernetes:core/v1:Service::web",
		"urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:Jobs::web-post-deploy",
	}, r.order, "no Namespace, no Secret, an empty post-deploy phase")
	dep := r.get(t, webDeployment)
	assert.Equal(t, []string{webMigrate}, dep.RegisterRPC.GetDependencies())
	assert.NotContains(t, dep.Inputs["spec"].ObjectValue(), resource.PropertyKey("replicas"),
		"replicas left out: the count is the cluster's (an HPA's), never reset by an up")
	assert.Equal(t, float64(8080), prop(t, dep.Inputs, "spec.template.spec.containers[0].ports[0].containerPort").NumberValue())
	assert.Equal(t, map[string]any{"port": "http"}, prop(t, dep.Inputs, "spec.template.spec.containers[0].readinessProbe.tcpSocket").Mappable(),
		"a TCP probe without a readinessPath")
	assert.Equal(t, []any{}, prop(t, dep.Inputs, "spec.template.spec.containers[0].env").Mappable())
	want := map[string]any{
		"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
		"limits":   map[string]any{"cpu": "500m", "memory": "1Gi"},
	}
	assert.Equal(t, want, prop(t, dep.Inputs, "spec.template.spec.containers[0].resources").Mappable())
	assert.Equal(t, want, prop(t, r.get(t, webMigrate).Inputs, "spec.template.spec.containers[0].resources").Mappable(),
		"the app's resources are the Jobs' defaults")
	assert.Equal(t, "web", prop(t, r.get(t, webMigrate).Inputs, "metadata.namespace").StringValue())
}

// TestProvider: a release given a kubeconfig registers its own provider,
// which every Kubernetes object of the release uses.
func TestProvider(t *testing.T) {
	args := shopArgs()
	args.Kubeconfig = pulumi.ToSecret(pulumi.String("apiVersion: v1")).(pulumi.StringOutput)
	args.Context = pulumi.String("kind-dev")
	args.Cluster = &fakeCluster{} // the kubeconfig names no cluster
	r := runProgram(t, "dev", newRelease("shop", args))
	const providerURN = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi:providers:kubernetes::shop"
	provider := r.get(t, providerURN)
	assert.Equal(t, "kind-dev", provider.Inputs["context"].StringValue())
	assert.True(t, provider.Inputs["kubeconfig"].IsSecret())
	for _, urn := range []string{namespaceURN, secretURN, migrateURN, deploymentURN, serviceURN, smokeURN} {
		assert.Equal(t, providerURN+"::shop-id", r.get(t, urn).RegisterRPC.GetProvider(), urn)
	}
}

// TestTwoReleases: two releases in one program, each with a job named
// migrate, register distinct URNs and depend only on their own resources.
func TestTwoReleases(t *testing.T) {
	blog := func() *release.Args {
		return &release.Args{
			Namespace: pulumi.String("blog"), Image: pulumi.String("ghcr.io/acme/blog:3.0.0"),
			App:        release.App{Name: "blog"},
			PreDeploy:  []jobs.Job{{Name: "migrate", Command: []string{"migrate"}}},
			PostDeploy: []jobs.Job{{Name: "smoke", Command: []string{"smoke"}}},
		}
	}
	shop := blog()
	shop.Namespace, shop.Image, shop.App.Name = pulumi.String("shop"), pulumi.String("ghcr.io/acme/shop:1.4.2"), "shop"
	r := runProgram(t, "dev", func(ctx *pulumi.Context) error {
		if _, err := release.New(ctx, "shop", shop); err != nil {
			return err
		}
		_, err := release.New(ctx, "blog", blog())
		return err
	})
	const p = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release"
	assert.ElementsMatch(t, []string{
		p + "::shop",
		p + "$kubernetes:core/v1:Namespace::shop",
		p + "$pulumi-jobs:index:Jobs::shop-pre-deploy",
		p + "$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-pre-deploy-migrate",
		p + "$pulumi-jobs:index:AppPhase::shop-app",
		p + "$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::shop",
		p + "$pulumi-jobs:index:AppPhase$kubernetes:core/v1:Service::shop",
		p + "$pulumi-jobs:index:Jobs::shop-post-deploy",
		p + "$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-post-deploy-smoke",
		p + "::blog",
		p + "$kubernetes:core/v1:Namespace::blog",
		p + "$pulumi-jobs:index:Jobs::blog-pre-deploy",
		p + "$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::blog-pre-deploy-migrate",
		p + "$pulumi-jobs:index:AppPhase::blog-app",
		p + "$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::blog",
		p + "$pulumi-jobs:index:AppPhase$kubernetes:core/v1:Service::blog",
		p + "$pulumi-jobs:index:Jobs::blog-post-deploy",
		p + "$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::blog-post-deploy-smoke",
	}, r.order)
	assert.ElementsMatch(t, []string{
		p + "$kubernetes:core/v1:Namespace::blog",
		p + "$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::blog-pre-deploy-migrate",
	}, r.get(t, p+"$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::blog").RegisterRPC.GetDependencies())
	assert.ElementsMatch(t, []string{
		p + "$kubernetes:core/v1:Namespace::shop",
		p + "$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::shop",
		p + "$pulumi-jobs:index:AppPhase$kubernetes:core/v1:Service::shop",
	}, r.get(t, p+"$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-post-deploy-smoke").RegisterRPC.GetDependencies())
	assert.Equal(t, "blog", prop(t, r.get(t, p+"$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::blog-pre-deploy-migrate").Inputs,
		`metadata.labels["app.kubernetes.io/part-of"]`).StringValue())
}

// TestGitOps pins the hand-over's children and their dependencies, for a
// release into an existing namespace (no namespace role).
func TestGitOps(t *testing.T) {
	args := shopArgs()
	args.CreateNamespace = ptr(false)
	args.GitOps = &release.GitOpsSettings{
		Repository: "git@github.com:acme/shop-deploy.git", Directory: "/deploy/", TargetStack: "acme/pulumi-jobs/prod",
		AccessTokenSecret: "pulumi-api", ServiceAccount: "operator",
	}
	r := runProgram(t, "dev", newRelease("shop", args))
	const g = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:GitOps"
	var gitops []string
	for _, urn := range r.order {
		if strings.HasPrefix(urn, g) {
			gitops = append(gitops, urn)
		}
	}
	assert.ElementsMatch(t, []string{
		g + "::shop-gitops",
		g + "$kubernetes:core/v1:ServiceAccount::shop-gitops-sa",
		g + "$kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding::shop-gitops-auth-delegator",
		g + "$kubernetes:rbac.authorization.k8s.io/v1:RoleBinding::shop-gitops-admin",
		g + "$kubernetes:pulumi.com/v1:Stack::shop-gitops",
	}, gitops)
	// Earlier versions named the children from the service account; the
	// aliases keep them in existing stacks.
	for urn, former := range map[string]string{
		g + "$kubernetes:core/v1:ServiceAccount::shop-gitops-sa":                                      "operator",
		g + "$kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding::shop-gitops-auth-delegator": "operator-auth-delegator",
		g + "$kubernetes:rbac.authorization.k8s.io/v1:RoleBinding::shop-gitops-admin":                 "operator-admin",
	} {
		// (The SDK adds aliases to older API versions of RBAC types.)
		var names []string
		for _, a := range r.get(t, urn).RegisterRPC.GetAliases() {
			if n := a.GetSpec().GetName(); n != "" {
				names = append(names, n)
			}
		}
		assert.Equal(t, []string{former}, names, urn)
	}
	assert.Equal(t, "operator", prop(t, r.get(t, g+"$kubernetes:core/v1:ServiceAccount::shop-gitops-sa").Inputs, "metadata.name").StringValue())
	stack := r.get(t, g+"$kubernetes:pulumi.com/v1:Stack::shop-gitops")
	assert.ElementsMatch(t, []string{
		g + "$kubernetes:core/v1:ServiceAccount::shop-gitops-sa",
		g + "$kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding::shop-gitops-auth-delegator",
		g + "$kubernetes:rbac.authorization.k8s.io/v1:RoleBinding::shop-gitops-admin",
	}, stack.RegisterRPC.GetDependencies())
	assert.Equal(t, map[string]any{
		"stack": "acme/pulumi-jobs/prod", "projectRepo": "git@github.com:acme/shop-deploy.git", "branch": "main",
		"repoDir": "deploy", "serviceAccountName": "operator", "resyncFrequencySeconds": float64(300),
		"envRefs": map[string]any{"PULUMI_ACCESS_TOKEN": map[string]any{
			"type": "Secret", "secret": map[string]any{"name": "pulumi-api", "key": "accessToken"},
		}},
		"destroyOnFinalize": false, "refresh": true, "retryMaxBackoffDurationSeconds": float64(3600),
	}, prop(t, stack.Inputs, "spec").Mappable())
	assert.Equal(t, "shop-dev", prop(t, stack.Inputs, "metadata.namespace").StringValue())
}

// TestTwoHandOversOfOneApp: two releases of the same app (say, two
// namespaces), both handed over to the operator, register distinct
// children (runProgram fails on a URN registered twice).
func TestTwoHandOversOfOneApp(t *testing.T) {
	r := runProgram(t, "dev", func(ctx *pulumi.Context) error {
		for _, name := range []string{"shop-eu", "shop-us"} {
			args := shopArgs()
			args.Namespace = pulumi.String(name)
			args.GitOps = &release.GitOpsSettings{
				Repository: "git@github.com:acme/shop-deploy.git", TargetStack: "acme/pulumi-jobs/prod", AccessTokenSecret: "pulumi-api",
			}
			if _, err := release.New(ctx, name, args); err != nil {
				return err
			}
		}
		return nil
	})
	const g = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:GitOps$kubernetes:core/v1:ServiceAccount::"
	r.get(t, g+"shop-eu-gitops-sa")
	r.get(t, g+"shop-us-gitops-sa")
}

// TestInvalidArgs triggers every refusal of release.NewPlan (its own, the
// app's, the unique names across phases and the hand-over's) once: the
// literal key and a literal part of the message, exactly one problem,
// nothing registered.
func TestInvalidArgs(t *testing.T) {
	gitops := func(mutate func(g *release.GitOpsSettings)) func(a *release.Args) {
		return func(a *release.Args) {
			a.GitOps = &release.GitOpsSettings{
				Repository: "https://github.com/acme/shop-deploy.git", TargetStack: "acme/pulumi-jobs/prod", AccessTokenSecret: "pulumi-api",
			}
			mutate(a.GitOps)
		}
	}
	const tokenHint = "kubectl create secret generic pulumi-api -n shop-dev --from-literal=accessToken=…"
	cases := []struct {
		name   string
		stack  string
		mutate func(a *release.Args)
		key    string
		msg    string
	}{
		// NewPlan: namespace and image
		{"namespace missing", "dev", func(a *release.Args) { a.Namespace = nil }, "namespace", "required; the Kubernetes namespace of the release, e.g. shop"},
		{"namespace empty", "dev", func(a *release.Args) { a.Namespace = pulumi.String("") }, "namespace", "required; the Kubernetes namespace of the release, e.g. shop"},
		{"namespace with capitals", "dev", func(a *release.Args) { a.Namespace = pulumi.String("Shop") }, "namespace", `"Shop" is not a valid name`},
		{"namespace kube-system", "dev", func(a *release.Args) { a.Namespace = pulumi.String("kube-system") },
			"namespace", `"kube-system" is a namespace of Kubernetes itself`},
		{"namespace default without createNamespace", "dev", func(a *release.Args) {
			a.Namespace, a.CreateNamespace = pulumi.String("default"), ptr(false)
		}, "namespace", `"default" is a namespace of Kubernetes itself`},
		{"image missing (jobs with images of their own)", "dev", func(a *release.Args) {
			a.Image = nil
			for i := range a.PreDeploy {
				a.PreDeploy[i].Image = "ghcr.io/acme/shop:1.4.2"
			}
			for i := range a.PostDeploy {
				a.PostDeploy[i].Image = "ghcr.io/acme/shop:1.4.2"
			}
		},
			"image", `required; the image to release as repo:tag or repo@sha256:…, e.g. "ghcr.io/acme/shop:1.4.2"`},
		{"image empty", "dev", func(a *release.Args) { a.Image = pulumi.String("") }, "image", "required; the image to release"},
		{"image not a reference", "dev", func(a *release.Args) { a.Image = pulumi.String("ghcr.io/acme/shop 1.0") }, "image", "is not an image reference"},
		{"latest in prod", "prod", func(a *release.Args) { a.Image = pulumi.String("ghcr.io/acme/shop:latest") },
			"image", `"ghcr.io/acme/shop:latest" uses the tag latest; stack "prod" is a production stack`},
		{"untagged in acme/pulumi-jobs/production-eu", "acme/pulumi-jobs/production-eu", func(a *release.Args) { a.Image = pulumi.String("shop") },
			"image", `"shop" has no tag; stack "acme/pulumi-jobs/production-eu" is a production stack`},

		// checkApp
		{"app name missing", "dev", func(a *release.Args) { a.App.Name = "" },
			"app.name", "required; a DNS-1035 label naming the Deployment and Service, e.g. shop"},
		{"app name starting with a digit", "dev", func(a *release.Args) { a.App.Name = "1shop" }, "app.name", "a DNS-1035 label must consist of"},
		{"replicas -1", "dev", func(a *release.Args) { a.App.Replicas = ptr(-1) },
			"app.replicas", "must be a whole number between 0 and 2147483647 (the Deployment's replicas is an int32), got -1"},
		{"port 0", "dev", func(a *release.Args) { a.App.Port = ptr(0) }, "app.port", "must be a TCP port, a whole number between 1 and 65535, got 0"},
		{"app env DATABASE_URL", "dev", func(a *release.Args) { a.App.Env = map[string]string{"DATABASE_URL": "x"} }, "app.env.DATABASE_URL", "is reserved"},
		{"a job's pod env DATABASE_URL besides databaseUrl", "dev", func(a *release.Args) {
			a.PreDeploy[0].Pod = &pod.Settings{Env: []corev1.EnvVar{{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{Name: ptr("shop-db"), Key: "url"}}}}}
		}, "preDeploy[0].pod.env[0].name", "DATABASE_URL is set from the secret database URL (databaseUrl) of this release; set it in one place"},
		{"app request above the default limit", "dev", func(a *release.Args) {
			a.App.Resources = &pod.Resources{Requests: &pod.Quantities{Memory: "1Gi"}}
		}, "app.resources.requests.memory", "1Gi is more than the limit 256Mi"},
		{"readinessPath without a slash", "dev", func(a *release.Args) { a.App.ReadinessPath = "healthz" },
			"app.readinessPath", `must be an HTTP path starting with "/", e.g. "/healthz"; leave it out for a TCP probe`},

		// The phases' jobs, keyed by phase, named with the phase's prefix.
		{"pre-deploy job name too long with shop-pre-deploy-", "dev", func(a *release.Args) { a.PreDeploy[0].Name = strings.Repeat("m", 39) },
			"preDeploy[0].name", `with the prefix "shop-pre-deploy-" it must be no more than 54 characters, got 55`},
		{"post-deploy job name too long with shop-post-deploy-", "dev", func(a *release.Args) { a.PostDeploy[0].Name = strings.Repeat("s", 38) },
			"postDeploy[0].name", `with the prefix "shop-post-deploy-" it must be no more than 54 characters, got 55`},
		{"duplicate within pre-deploy", "dev", func(a *release.Args) { a.PreDeploy[2].Name = "migrate-schema" },
			"preDeploy[2].name", `"migrate-schema" is already the name of preDeploy[0]; job names must be unique`},
		{"onRelease without a release", "dev", func(a *release.Args) { a.ReleaseID = nil },
			"postDeploy[0].rerun", "onRelease needs a release id"},

		// checkUniqueNames
		{"post-deploy job named like a pre-deploy one", "dev", func(a *release.Args) { a.PostDeploy[1].Name = "seed-reference-data" },
			"postDeploy[1].name", `"seed-reference-data" is already the name of preDeploy[1]; job names must be unique`},

		// checkGitOps
		{"gitops repository missing", "dev", gitops(func(g *release.GitOpsSettings) { g.Repository = "" }),
			"gitops.repository", "required; the git URL of this project, e.g. https://github.com/acme/shop-deploy.git"},
		{"gitops repository ftp", "dev", gitops(func(g *release.GitOpsSettings) { g.Repository = "ftp://example.com/x.git" }),
			"gitops.repository", `"ftp://example.com/x.git" is not a git URL the operator can clone; use https://…, ssh://… or git@…`},
		{"gitops directory escaping", "dev", gitops(func(g *release.GitOpsSettings) { g.Directory = "../infra" }),
			"gitops.directory", `must be a path inside the repository, got "../infra"`},
		{"gitops targetStack missing", "dev", gitops(func(g *release.GitOpsSettings) { g.TargetStack = "" }),
			"gitops.targetStack", "required; the fully qualified stack the operator runs, organization/project/stack, e.g. acme/pulumi-jobs/prod"},
		{"gitops targetStack with an empty segment", "dev", gitops(func(g *release.GitOpsSettings) { g.TargetStack = "acme//prod" }),
			"gitops.targetStack", `"acme//prod" is not the fully qualified stack the operator runs`},
		{"gitops targetStack this stack", "acme/pulumi-jobs/dev", gitops(func(g *release.GitOpsSettings) { g.TargetStack = "other/pulumi-jobs/dev" }),
			"gitops.targetStack", `"other/pulumi-jobs/dev" is this stack itself (project pulumi-jobs, stack dev); the operator must run another stack of the project, the one this stack hands over to`},
		{"gitops accessTokenSecret missing", "dev", gitops(func(g *release.GitOpsSettings) { g.AccessTokenSecret = "" }),
			"gitops.accessTokenSecret", `required; the name of a Secret in namespace "shop-dev" whose key accessToken holds the Pulumi access token (` + tokenHint + ")"},
		{"gitops accessTokenSecret not a name", "dev", gitops(func(g *release.GitOpsSettings) { g.AccessTokenSecret = "Bad_Name" }),
			"gitops.accessTokenSecret", `"Bad_Name" is not a Secret name`},
		{"gitops resyncInterval not a duration", "dev", gitops(func(g *release.GitOpsSettings) { g.ResyncInterval = "often" }),
			"gitops.resyncInterval", `"often" is not a Go duration; use e.g. "5m"`},
		{"gitops resyncInterval 30s", "dev", gitops(func(g *release.GitOpsSettings) { g.ResyncInterval = "30s" }),
			"gitops.resyncInterval", `"30s" is shorter than the operator's minimum of 1m`},
		{"gitops serviceAccount", "dev", gitops(func(g *release.GitOpsSettings) { g.ServiceAccount = "Operator" }),
			"gitops.serviceAccount", `"Operator" is not a service account name`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := shopArgs()
			c.mutate(args)
			var newErr error
			m, err := pulumitest.Run(func(ctx *pulumi.Context) error {
				_, newErr = release.New(ctx, "shop", args)
				return nil
			}, c.stack, pulumitest.Config{})
			require.NoError(t, err)
			var argsErr *check.ArgsError
			require.True(t, errors.As(newErr, &argsErr), "%v", newErr)
			assert.Equal(t, "pulumi-jobs:index:Release shop", argsErr.Resource)
			require.Len(t, argsErr.Problems, 1, "exactly one problem: %v", argsErr.Problems)
			assert.Equal(t, c.key, argsErr.Problems[0].Key)
			assert.Contains(t, argsErr.Problems[0].Message, c.msg)
			assert.Empty(t, m.Registrations(), "nothing is registered for invalid args")
		})
	}
}

func TestValidArgsAtTheEdges(t *testing.T) {
	const (
		deployment = "$pulumi-jobs:index:AppPhase$kubernetes:apps/v1:Deployment::shop"
		image      = "spec.template.spec.containers[0].image"
	)
	digest := "ghcr.io/acme/shop@sha256:" + strings.Repeat("ab", 32)
	cases := []struct {
		name   string
		stack  string
		mutate func(a *release.Args)
		// The edge value as it is registered: at path of the child whose
		// URN ends in urn (under the Release), or the child itself.
		urn, path, want string
	}{
		{"latest in product-demo", "product-demo", func(a *release.Args) { a.Image = pulumi.String("ghcr.io/acme/shop:latest") },
			deployment, image, "ghcr.io/acme/shop:latest"},
		{"untagged in prodigy", "prodigy", func(a *release.Args) { a.Image = pulumi.String("shop") }, deployment, image, "shop"},
		{"digest in prod", "prod", func(a *release.Args) { a.Image = pulumi.String(digest) }, deployment, image, digest},
		{"38-character pre-deploy job name", "dev", func(a *release.Args) { a.PreDeploy[0].Name = strings.Repeat("m", 38) },
			"$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-pre-deploy-" + strings.Repeat("m", 38), "", ""},
		{"37-character post-deploy job name", "dev", func(a *release.Args) { a.PostDeploy[0].Name = strings.Repeat("s", 37) },
			"$pulumi-jobs:index:Jobs$kubernetes:batch/v1:Job::shop-post-deploy-" + strings.Repeat("s", 37), "", ""},
		{"zero replicas", "dev", func(a *release.Args) { a.App.Replicas = ptr(0) }, deployment, "spec.replicas", "0"},
		{"namespace from an output", "dev", func(a *release.Args) { a.Namespace = pulumi.String("shop").ToStringOutput() },
			deployment, "metadata.namespace", "shop"},
		{"targetStack of the same name in another project", "prod", func(a *release.Args) {
			a.GitOps = &release.GitOpsSettings{Repository: "ssh://git@example.com/x.git", TargetStack: "acme/shop-infra/prod", AccessTokenSecret: "t"}
		}, "$pulumi-jobs:index:GitOps$kubernetes:pulumi.com/v1:Stack::shop-gitops", "spec.stack", "acme/shop-infra/prod"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := shopArgs()
			c.mutate(args)
			r := runProgram(t, c.stack, newRelease("shop", args))
			reg := r.get(t, "urn:pulumi:"+c.stack+"::pulumi-jobs::pulumi-jobs:index:Release"+c.urn)
			if c.path != "" {
				assert.Equal(t, c.want, fmt.Sprint(prop(t, reg.Inputs, c.path).V))
			}
		})
	}
}

func TestInvalidArgsAllAtOnce(t *testing.T) {
	args := shopArgs()
	args.Namespace = pulumi.String("kube-system")
	args.App.Name = "Shop"
	args.App.Port = ptr(0)
	args.PreDeploy[0].Timeout = "soon"
	args.PostDeploy[0].Name = "migrate-schema"
	args.PostDeploy[0].Rerun = "sometimes"
	var newErr error
	m, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		_, newErr = release.New(ctx, "shop", args)
		return nil
	}, "dev", pulumitest.Config{})
	require.NoError(t, err)
	assert.Empty(t, m.Registrations())
	var argsErr *check.ArgsError
	require.ErrorAs(t, newErr, &argsErr)
	var keys []string
	for _, p := range argsErr.Problems {
		keys = append(keys, p.Key)
	}
	assert.Equal(t, []string{
		"namespace", "app.name", "app.port", "preDeploy[0].timeout", "postDeploy[0].rerun", "postDeploy[0].name",
	}, keys)
	assert.True(t, strings.HasPrefix(newErr.Error(), "pulumi-jobs:index:Release shop: 6 invalid argument(s); nothing was registered:\n  - namespace: "), newErr.Error())
}

// TestNewPlan pins the plan of release.NewPlan: the defaults applied and
// the Jobs by wave, in wave order.
func TestNewPlan(t *testing.T) {
	p := &check.Problems{}
	plan := release.NewPlan(p, "shop", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, shopArgs())
	require.Empty(t, p.List)
	assert.True(t, plan.CreateNamespace)
	assert.Equal(t, release.AppPlan{
		Name: "shop", Replicas: 2, ReplicasSet: true, Port: 8080, Env: map[string]string{"LOG_LEVEL": "debug"}, ReadinessPath: "/healthz",
		Resources: pod.Resources{
			Requests: &pod.Quantities{CPU: "100m", Memory: "128Mi"},
			Limits:   &pod.Quantities{CPU: "500m", Memory: "256Mi"},
		},
	}, plan.App)
	names := func(waves []jobs.Wave) [][]string {
		var out [][]string
		for _, w := range waves {
			var ns []string
			for _, j := range w.Jobs {
				ns = append(ns, j.Name)
			}
			out = append(out, ns)
		}
		return out
	}
	assert.Equal(t, [][]string{{"migrate-schema", "migrate-search-index"}, {"seed-reference-data"}}, names(plan.PreDeploy))
	assert.Equal(t, [][]string{{"warm-cache"}, {"smoke-test"}}, names(plan.PostDeploy))
	assert.True(t, slices.Equal([]int{0, 1}, []int{plan.PostDeploy[0].Number, plan.PostDeploy[1].Number}))

	plan = release.NewPlan(p, "x", vocab.Stack{Name: "dev", Project: "pulumi-jobs"}, nil)
	assert.Equal(t, []string{"namespace", "image", "app.name"}, keysOf(p.List))
}

func keysOf(list []check.Problem) []string {
	var out []string
	for _, p := range list {
		out = append(out, p.Key)
	}
	return out
}

// TestOutputs pins the Release's outputs: the cluster names of what it
// registered (the mock auto-names objects without metadata.name as
// <resource name>-0123abcd), the Jobs in wave order.
func TestOutputs(t *testing.T) {
	var namespace, deployment, service string
	var pre, post []string
	var waves [][]string
	runProgram(t, "dev", func(ctx *pulumi.Context) error {
		r, err := release.New(ctx, "shop", shopArgs())
		if err != nil {
			return err
		}
		await := func(o pulumi.Output) any {
			v, err := internals.UnsafeAwaitOutput(ctx.Context(), o)
			require.NoError(t, err)
			return v.Value
		}
		namespace = await(r.Namespace).(string)
		deployment = await(r.DeploymentName).(string)
		service = await(r.ServiceName).(string)
		pre = await(r.PreDeployJobs).([]string)
		post = await(r.PostDeployJobs).([]string)
		for _, w := range r.PreDeploy.Waves {
			waves = append(waves, w.Names)
		}
		return nil
	})
	assert.Equal(t, "shop-dev", namespace)
	assert.Equal(t, "shop", deployment)
	assert.Equal(t, "shop", service)
	assert.Equal(t, []string{
		"shop-pre-deploy-migrate-schema-0123abcd", "shop-pre-deploy-migrate-search-index-0123abcd", "shop-pre-deploy-seed-reference-data-0123abcd",
	}, pre)
	assert.Equal(t, []string{"shop-post-deploy-warm-cache-0123abcd", "shop-post-deploy-smoke-test-0123abcd"}, post)
	assert.Equal(t, [][]string{{"migrate-schema", "migrate-search-index"}, {"seed-reference-data"}}, waves)
}
