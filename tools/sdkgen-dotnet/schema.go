package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/blang/semver"
	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// bind decodes a package schema, sets its logoUrl to logoURL (in this copy
// only) and binds it, validating it against the Pulumi package metaschema.
// Binding warnings are printed to stderr; binding errors fail.
func bind(raw []byte, loader schema.ReferenceLoader, logoURL string) (*schema.Package, error) {
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("decoding the schema: %w", err)
	}
	spec.LogoURL = logoURL
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{})
	if err != nil {
		return nil, fmt.Errorf("binding the schema: %w", err)
	}
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			fmt.Fprintln(os.Stderr, "sdkgen-dotnet: warning:", diagText(d))
		}
	}
	if diags.HasErrors() {
		var msgs []string
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				msgs = append(msgs, diagText(d))
			}
		}
		return nil, fmt.Errorf("binding the schema: %s", strings.Join(msgs, "; "))
	}
	return pkg, nil
}

// diagText renders a binding diagnostic as "summary: detail", without the
// "<nil>:" source range that schema diagnostics carry.
func diagText(d *hcl.Diagnostic) string {
	if d.Detail == "" {
		return d.Summary
	}
	return d.Summary + ": " + d.Detail
}

// fileLoader resolves the packages a schema refers to from schema files given
// on the command line, never from plugins or the network. The built-in
// "pulumi" package is always available.
type fileLoader struct {
	// specs holds each package's raw schema by package name.
	specs map[string][]byte
}

var _ schema.ReferenceLoader = (*fileLoader)(nil)

// newFileLoader reads the given schema files and returns a caching loader
// that serves them by package name.
func newFileLoader(paths []string) (schema.ReferenceLoader, error) {
	l := &fileLoader{specs: map[string][]byte{}}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading dependency schema: %w", err)
		}
		var head struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("decoding dependency schema %s: %w", p, err)
		}
		if head.Name == "" {
			return nil, fmt.Errorf("dependency schema %s has no package name", p)
		}
		l.specs[head.Name] = raw
	}
	return schema.NewCachedLoader(l), nil
}

// LoadPackage implements schema.Loader.
func (l *fileLoader) LoadPackage(pkg string, version *semver.Version) (*schema.Package, error) {
	return l.LoadPackageV2(context.Background(), &schema.PackageDescriptor{Name: pkg, Version: version})
}

// LoadPackageV2 implements schema.Loader.
func (l *fileLoader) LoadPackageV2(ctx context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	ref, err := l.LoadPackageReferenceV2(ctx, d)
	if err != nil {
		return nil, err
	}
	return ref.Definition()
}

// LoadPackageReference implements schema.ReferenceLoader.
func (l *fileLoader) LoadPackageReference(pkg string, version *semver.Version) (schema.PackageReference, error) {
	return l.LoadPackageReferenceV2(context.Background(), &schema.PackageDescriptor{Name: pkg, Version: version})
}

// LoadPackageReferenceV2 implements schema.ReferenceLoader. A dependency
// schema without a version takes the requested one; one with a different
// version is an error rather than a silently wrong SDK.
func (l *fileLoader) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	if d.Name == "pulumi" {
		return schema.DefaultPulumiPackage.Reference(), nil
	}
	if d.Parameterization != nil {
		return nil, fmt.Errorf("package %s: parameterized packages are not supported", d)
	}
	raw, ok := l.specs[d.Name]
	if !ok {
		return nil, fmt.Errorf("the schema refers to package %s; pass its schema with -dep <schema.json>", d)
	}
	var spec schema.PartialPackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("decoding the schema of package %s: %w", d.Name, err)
	}
	if d.Version != nil {
		switch {
		case spec.Version == "":
			spec.Version = d.Version.String()
		case strings.TrimPrefix(spec.Version, "v") != d.Version.String():
			return nil, fmt.Errorf("the schema refers to package %s, but the -dep schema is version %s", d, spec.Version)
		}
	}
	pkg, err := schema.ImportPartialSpec(spec, nil, l)
	if err != nil {
		return nil, fmt.Errorf("importing the schema of package %s: %w", d.Name, err)
	}
	return pkg, nil
}

// writeFiles empties <out>/<lang> and writes the generated files into it,
// refusing any path that would land outside it. It returns the directory.
func writeFiles(out, lang string, files map[string][]byte) (string, error) {
	dir := filepath.Join(out, lang)
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("emptying %s: %w", dir, err)
	}
	for name, data := range files {
		rel := filepath.FromSlash(name)
		if !filepath.IsLocal(rel) {
			return "", fmt.Errorf("generated file %q is not inside the output directory", name)
		}
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", fmt.Errorf("creating directory: %w", err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return "", fmt.Errorf("writing file: %w", err)
		}
	}
	return dir, nil
}
