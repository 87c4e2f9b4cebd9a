package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testSchema is sdkgen's test schema, shaped like pulumi-jobs': two
// components, a nested object type, a secret input.
const testSchema = "../sdkgen/testdata/schema.json"

// TestGenerate generates the C# SDK from the test schema and checks the
// component's classes, the logo served from loopback, and that the schema
// file is left as it was.
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
		"Release.cs":               "public partial class Release : global::Pulumi.ComponentResource",
		"Jobs.cs":                  "public partial class Jobs : global::Pulumi.ComponentResource",
		"Pulumi.PulumiJobs.csproj": `<PackageReference Include="Pulumi" Version="3.*" />`,
		"version.txt":              "0.1.0",
	} {
		assertContains(t, filepath.Join(out, "dotnet", path), want)
	}
	assertContains(t, filepath.Join(out, "dotnet", "Release.cs"), "public sealed class ReleaseArgs : global::Pulumi.ResourceArgs")
	assertContains(t, filepath.Join(out, "dotnet", "Release.cs"), "Output.CreateSecret")

	logo, err := os.ReadFile(filepath.Join(out, "dotnet", "logo.png"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(logo, defaultLogo) {
		t.Error("logo.png is not the embedded logo")
	}

	after, err := os.ReadFile(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("%s changed", testSchema)
	}
}

// TestServeLogo checks the loopback server serves the logo and stops.
func TestServeLogo(t *testing.T) {
	url, stop, err := serveLogo(defaultLogo)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("logo URL %s is not on loopback", url)
	}
	resp, err := http.Get(url)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, defaultLogo) {
		t.Errorf("GET %s: status %d, %d bytes, %v; want the embedded logo", url, resp.StatusCode, len(got), err)
	}
	stop()
	if resp, err := http.Get(url); err == nil {
		_ = resp.Body.Close()
		t.Errorf("GET %s succeeded after stop", url)
	}
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
