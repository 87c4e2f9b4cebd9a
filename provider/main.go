// Command pulumi-resource-pulumi-jobs is the pulumi-jobs component provider:
// it serves the library's components to every Pulumi language.
//
//	pulumi-jobs:index:Release  an app released in three phases (release.New)
//	pulumi-jobs:index:Jobs     one phase of Jobs around an app of your own (jobs.New)
//
// The engine starts it as a plugin; `pulumi package get-schema` prints its
// schema (committed as schema.json), from which `make sdks` generates the
// C#, TypeScript and Python SDKs and which YAML programs use directly. Each
// component is constructed by the same Go function a Go program calls, so
// every language gets the same validation, defaults and ordering.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/pulumi-jobs/pulumi-jobs/infra/deletehook"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// Name is the package's name, the first part of its type tokens.
const Name = "pulumi-jobs"

// Version is the package's version (its one source is vocab.Version).
const Version = vocab.Version

func main() {
	p, err := infer.NewProviderBuilder().
		WithDisplayName("pulumi-jobs").
		WithDescription("Release an application to Kubernetes in three ordered phases: pre-deploy Jobs (migrations), the app, post-deploy Jobs (smoke tests); re-run on change, awaited, create-before-delete.").
		WithKeywords("kubernetes", "jobs", "migrations", "category/utility", "kind/component").
		WithRepository("https://github.com/pulumi-jobs/pulumi-jobs").
		WithLicense("Apache-2.0").
		WithNamespace("pulumi-jobs").
		// Go packages name the modules; every type is in the package's index.
		WithModuleMap(map[tokens.ModuleName]tokens.ModuleName{
			"release":    "index",
			"jobs":       "index",
			"pod":        "index",
			"deletehook": "index",
		}).
		WithLanguageMap(map[string]any{
			"csharp": map[string]any{
				"rootNamespace":        "PulumiJobs",
				"respectSchemaVersion": true,
				"packageReferences":    map[string]any{"Pulumi": "3.*", "Pulumi.Kubernetes": "4.25.0"},
			},
			"nodejs": map[string]any{
				"packageName":  "@pulumi-jobs/pulumi-jobs",
				"dependencies": map[string]any{"@pulumi/pulumi": "^3.0.0", "@pulumi/kubernetes": "4.25.0"},
			},
			"python": map[string]any{
				"packageName": "pulumi_jobs",
				"requires":    map[string]any{"pulumi": ">=3.0.0,<4.0.0", "pulumi-kubernetes": "==4.25.0"},
			},
		}).
		WithComponents(
			infer.ComponentF(release.New),
			infer.ComponentF(jobs.New),
		).
		// A Release registers it for a chart's pre-delete and post-delete
		// hooks: deleting it runs them.
		WithResources(infer.Resource(&deletehook.DeleteHooks{})).
		Build()
	if err == nil {
		err = p.Run(context.Background(), Name, Version)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-%s: %v\n", Name, err)
		os.Exit(1)
	}
}
