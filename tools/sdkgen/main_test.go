package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testSchema is a schema shaped like pulumi-jobs': two components, a nested
// object type, a secret input.
const testSchema = "testdata/schema.json"

// TestGenerate generates both SDKs from the test schema and checks the
// component's files and classes, and that the schema file is left as it was.
func TestGenerate(t *testing.T) {
	before, err := os.ReadFile(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := run([]string{"-schema", testSchema, "-out", out}); err != nil {
		t.Fatal(err)
	}

	for path, want := range map[string]string{
		"nodejs/release.ts":                    "export class Release extends pulumi.ComponentResource",
		"nodejs/jobs.ts":                       "export class Jobs extends pulumi.ComponentResource",
		"nodejs/package.json":                  `"name": "@pulumi/pulumi-jobs"`,
		"python/pulumi_pulumi_jobs/release.py": "class Release(pulumi.ComponentResource)",
		"python/pulumi_pulumi_jobs/jobs.py":    "class Jobs(pulumi.ComponentResource)",
		"python/pyproject.toml":                `version = "0.1.0"`,
	} {
		assertContains(t, filepath.Join(out, path), want)
	}
	assertContains(t, filepath.Join(out, "nodejs/release.ts"), "pulumi.secret(args.databaseUrl)")

	after, err := os.ReadFile(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("%s changed", testSchema)
	}
}

// TestRegenerateRemovesStaleFiles checks that a language directory is emptied
// before it is written.
func TestRegenerateRemovesStaleFiles(t *testing.T) {
	out := t.TempDir()
	stale := filepath.Join(out, "python", "stale.py")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-schema", testSchema, "-out", out, "-language", "python"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale file survived: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "nodejs")); !os.IsNotExist(err) {
		t.Errorf("nodejs generated although only python was asked for: %v", err)
	}
}

// TestDependencySchemas checks that a reference to another package needs that
// package's schema given with -dep, and resolves with it.
func TestDependencySchemas(t *testing.T) {
	dir := t.TempDir()
	dep := filepath.Join(dir, "dep.json")
	writeFile(t, dep, `{"name": "other", "version": "1.2.3",
		"resources": {"other:index:Thing": {"properties": {"id2": {"type": "string"}}}}}`)
	schemaPath := filepath.Join(dir, "schema.json")
	writeFile(t, schemaPath, `{"name": "usesother", "version": "0.1.0",
		"resources": {"usesother:index:Comp": {"isComponent": true,
			"properties": {"thing": {"$ref": "/other/v1.2.3/schema.json#/resources/other:index:Thing"}},
			"required": ["thing"]}}}`)

	err := run([]string{"-schema", schemaPath, "-out", filepath.Join(dir, "out")})
	if err == nil || !strings.Contains(err.Error(), "pass its schema with -dep") {
		t.Fatalf("want a missing -dep error, got %v", err)
	}
	if err := run([]string{"-schema", schemaPath, "-out", filepath.Join(dir, "out"), "-dep", dep}); err != nil {
		t.Fatal(err)
	}
	assertContains(t, filepath.Join(dir, "out/nodejs/comp.ts"), "pulumiOther.Thing")
}

func assertContains(t *testing.T, path, want string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	if !strings.Contains(string(data), want) {
		t.Errorf("%s does not contain %q", path, want)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
