package jobs_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
)

// program is the Go example of docs/components.md ("Use", the go-snippet
// block): migrations before the program's own Deployment, a smoke test
// after it, with nothing but DependsOn.
func program(ctx *pulumi.Context) error {
	image := pulumi.String("ghcr.io/acme/shop:1.4.2")
	migrations, err := jobs.New(ctx, "migrations", &jobs.Args{
		Namespace: pulumi.String("shop"),
		Image:     image,
		Jobs: []jobs.Job{
			{Name: "migrate-schema", Command: []string{"/app/shop", "migrate", "up"}},
			{Name: "seed-reference-data", Command: []string{"/app/shop", "seed"}, Wave: 1, Rerun: jobs.Once},
		},
	})
	if err != nil {
		return err
	}
	labels := pulumi.StringMap{"app": pulumi.String("shop")}
	app, err := appsv1.NewDeployment(ctx, "app", &appsv1.DeploymentArgs{
		Metadata: metav1.ObjectMetaArgs{Name: pulumi.String("shop"), Namespace: pulumi.String("shop")},
		Spec: appsv1.DeploymentSpecArgs{
			Selector: metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: corev1.PodTemplateSpecArgs{
				Metadata: metav1.ObjectMetaArgs{Labels: labels},
				Spec: corev1.PodSpecArgs{Containers: corev1.ContainerArray{
					corev1.ContainerArgs{Name: pulumi.String("app"), Image: image},
				}},
			},
		},
	}, pulumi.DependsOn(migrations.Children())) // every Job, not the component: see Jobs.Children
	if err != nil {
		return err
	}
	_, err = jobs.New(ctx, "smoke", &jobs.Args{
		Namespace: pulumi.String("shop"),
		Image:     image,
		Jobs:      []jobs.Job{{Name: "smoke-test", Command: []string{"/app/shop", "smoke-test"}}},
	}, pulumi.DependsOn([]pulumi.Resource{app}))
	return err
}

// recorder is a mocked resource monitor that records what each custom
// resource was registered with.
type recorder struct {
	mu   sync.Mutex
	deps map[string][]string
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	var deps []string
	for _, d := range args.RegisterRPC.GetDependencies() {
		deps = append(deps, d[strings.LastIndex(d, "::")+2:])
	}
	slices.Sort(deps)
	r.mu.Lock()
	r.deps[args.TypeToken+" "+args.Name] = deps
	r.mu.Unlock()
	return args.Name + "-id", args.Inputs, nil
}

func (r *recorder) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// Example runs the program on Pulumi's mocked monitor and prints what each
// Kubernetes resource depends on, as the engine would record it.
func Example() {
	rec := &recorder{deps: map[string][]string{}}
	if err := pulumi.RunErr(program, pulumi.WithMocks("shop", "dev", rec)); err != nil {
		fmt.Println(err)
		return
	}
	var names []string
	for n := range rec.deps {
		if strings.HasPrefix(n, "kubernetes:") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Printf("%s <- %v\n", n, rec.deps[n])
	}
	// Output:
	// kubernetes:apps/v1:Deployment app <- [migrations-migrate-schema migrations-seed-reference-data]
	// kubernetes:batch/v1:Job migrations-migrate-schema <- []
	// kubernetes:batch/v1:Job migrations-seed-reference-data <- [migrations-migrate-schema]
	// kubernetes:batch/v1:Job smoke-smoke-test <- [app]
}
