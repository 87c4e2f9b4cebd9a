package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSchemaIsCurrent: the committed provider/schema.json is the schema the
// built component provider serves (`pulumi package get-schema`), so the
// SDKs generated from it match what the plugin constructs.
func TestSchemaIsCurrent(t *testing.T) {
	e := setup(t)
	cmd := exec.Command(filepath.Join(e.bin, "pulumi"), "package", "get-schema", filepath.Join(e.bin, "pulumi-resource-pulumi-jobs"))
	cmd.Env = append(os.Environ(), "PATH="+e.bin+string(os.PathListSeparator)+os.Getenv("PATH"), "PULUMI_HOME="+t.TempDir(), "PULUMI_SKIP_UPDATE_CHECK=true")
	served, err := cmd.Output()
	require.NoError(t, err)
	var got, committed map[string]any
	require.NoError(t, json.Unmarshal(served, &got))
	require.NoError(t, json.Unmarshal(mustRead(t, filepath.Join(e.root, "provider", "schema.json")), &committed))
	assert.Equal(t, committed, got, "provider/schema.json is stale: run `make schema`")
}

// TestGeneratedSDKs: `make sdks` (run by `make test`) generated the C#,
// TypeScript and Python SDKs from the schema with Pulumi's own generators,
// and each has the typed components and their args, with the schema's
// descriptions as doc comments (provider's TestSchemaDescriptions keeps
// every property described). The C# SDK is not
// compiled: no NuGet registry reachable from these machines serves Pulumi's
// packages.
func TestGeneratedSDKs(t *testing.T) {
	e := setup(t)
	sdk := filepath.Join(e.root, "sdk")
	if _, err := os.Stat(sdk); err != nil {
		if os.Getenv("PULUMI_JOBS_E2E") == "require" {
			t.Fatalf("no generated SDKs in %s: `make test` runs `make sdks` first", sdk)
		}
		t.Skipf("no generated SDKs in %s: run `make sdks`", sdk)
	}
	for _, c := range []struct {
		file  string
		wants []string
	}{
		{"dotnet/Release.cs", []string{
			"namespace PulumiJobs.PulumiJobs",
			"public partial class Release : global::Pulumi.ComponentResource",
			"public sealed class ReleaseArgs : global::Pulumi.ResourceArgs",
			`[Input("namespace", required: true)]`,
			"public Input<string> Image { get; set; } = null!;",
			"public Input<Inputs.AppArgs> App { get; set; } = null!;",
			"public InputList<Inputs.JobArgs> PreDeploy",
			"public Output<ImmutableArray<string>> PreDeployJobs { get; private set; } = null!;",
			`: base("pulumi-jobs:index:Release", name, args ?? new ReleaseArgs(), MakeResourceOptions(options, ""), remote: true)`,
			"/// An application released to Kubernetes in three phases",
			`/// Whether the release creates and owns the namespace, labelled to enforce Pod Security "restricted"; ` + "`true` by default.",
		}},
		{"dotnet/Jobs.cs", []string{
			"public partial class Jobs : global::Pulumi.ComponentResource",
			"public sealed class JobsArgs : global::Pulumi.ResourceArgs",
			"public InputList<Inputs.JobArgs> Jobs",
			"public Output<ImmutableDictionary<string, string>> Runs { get; private set; } = null!;",
		}},
		{"dotnet/Inputs/JobArgs.cs", []string{
			"public sealed class JobArgs : global::Pulumi.ResourceArgs",
			"public Input<string>? Name { get; set; }",
			"public InputList<string> Command",
			"public Input<string>? Rerun { get; set; }",
			"public Input<int>? Wave { get; set; }",
			"/// When the Job runs again after it has succeeded once: `onChange` (the default)",
		}},
		{"nodejs/release.ts", []string{
			"export class Release extends pulumi.ComponentResource", "export interface ReleaseArgs",
			`     * Whether the release creates and owns the namespace, labelled to enforce Pod Security "restricted"; ` + "`true` by default.",
		}},
		{"nodejs/types/input.ts", []string{"     * When the Job runs again after it has succeeded once: `onChange` (the default)"}},
		{"nodejs/jobs.ts", []string{"export class Jobs extends pulumi.ComponentResource", "export interface JobsArgs"}},
		{"python/pulumi_jobs/release.py", []string{
			"class Release(pulumi.ComponentResource):", "class ReleaseArgs:",
			`:param _builtins.bool create_namespace: Whether the release creates and owns the namespace, labelled to enforce Pod Security "restricted"; ` + "`true` by default.",
		}},
		{"python/pulumi_jobs/_inputs.py", []string{":param pulumi.Input[_builtins.str] rerun: When the Job runs again after it has succeeded once: `onChange` (the default)"}},
		{"python/pulumi_jobs/jobs.py", []string{"class Jobs(pulumi.ComponentResource):", "class JobsArgs:"}},
	} {
		text := string(mustRead(t, filepath.Join(sdk, c.file)))
		for _, w := range c.wants {
			assert.Contains(t, text, w, "%s", c.file)
		}
	}
}
