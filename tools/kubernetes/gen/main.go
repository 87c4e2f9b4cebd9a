// Command gen writes the two files the provider embeds, schema-embed.json and
// terraform-mapping-embed.json, into the directory given as its argument, from
// the schema.json and terraform-mapping.json in the provider module's own
// directory. It does what upstream's cmd/pulumi-resource-kubernetes/generate.go
// does: the schema gets the release's version, both files are compacted.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

const providerModule = "github.com/pulumi/pulumi-kubernetes/provider/v4"

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go run ./gen VERSION OUTDIR")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(version, out string) error {
	// `go mod download` fetches the module when the cache does not have it yet
	// (a fresh machine); `go list -m` would only report an empty directory.
	dlOut, err := exec.Command("go", "mod", "download", "-json", providerModule).Output()
	if err != nil {
		return fmt.Errorf("downloading %s: %w", providerModule, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(dlOut, &mod); err != nil {
		return fmt.Errorf("reading `go mod download` output: %w", err)
	}
	if mod.Error != "" || mod.Dir == "" {
		return fmt.Errorf("downloading %s: %q", providerModule, mod.Error)
	}
	src := filepath.Join(mod.Dir, "cmd", "pulumi-resource-kubernetes")

	var schema map[string]json.RawMessage
	if err := readJSON(filepath.Join(src, "schema.json"), &schema); err != nil {
		return err
	}
	v, err := json.Marshal(version)
	if err != nil {
		return fmt.Errorf("encoding version: %w", err)
	}
	schema["version"] = v
	if err := writeJSON(filepath.Join(out, "schema-embed.json"), schema); err != nil {
		return err
	}

	var mapping any
	if err := readJSON(filepath.Join(src, "terraform-mapping.json"), &mapping); err != nil {
		return err
	}
	return writeJSON(filepath.Join(out, "terraform-mapping-embed.json"), mapping)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
