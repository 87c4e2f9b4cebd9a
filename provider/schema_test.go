package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// schemaDoc is the part of schema.json that carries descriptions.
type schemaDoc struct {
	Resources map[string]struct {
		Description     string                    `json:"description"`
		Properties      map[string]schemaProperty `json:"properties"`
		InputProperties map[string]schemaProperty `json:"inputProperties"`
	} `json:"resources"`
	Types map[string]struct {
		Description string                    `json:"description"`
		Properties  map[string]schemaProperty `json:"properties"`
	} `json:"types"`
}

type schemaProperty struct {
	Description string `json:"description"`
}

// readSchema reads the committed schema.json, which TestSchemaIsCurrent (in
// tests/) keeps equal to the schema the built provider serves.
func readSchema(t *testing.T) schemaDoc {
	t.Helper()
	data, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s schemaDoc
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	return s
}

// TestSchemaDescriptions: every resource, input, output, object type and
// property of the schema has a description, the doc comment the C#,
// TypeScript and Python SDKs generated from it show. They come from the
// Annotate methods next to the Go types (infra/*/annotate.go); a field added
// without one fails here once `make schema` has run.
func TestSchemaDescriptions(t *testing.T) {
	s := readSchema(t)
	if len(s.Resources) == 0 || len(s.Types) == 0 {
		t.Fatalf("schema.json has %d resources and %d types; expected both", len(s.Resources), len(s.Types))
	}
	var missing []string
	check := func(path, description string) {
		if strings.TrimSpace(description) == "" {
			missing = append(missing, path)
		}
	}
	for token, r := range s.Resources {
		check("resources."+token, r.Description)
		for name, p := range r.InputProperties {
			check("resources."+token+".inputProperties."+name, p.Description)
		}
		for name, p := range r.Properties {
			check("resources."+token+".properties."+name, p.Description)
		}
	}
	for token, ty := range s.Types {
		check("types."+token, ty.Description)
		for name, p := range ty.Properties {
			check("types."+token+".properties."+name, p.Description)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		t.Errorf("%d schema entries have no description: add an.Describe calls to the Annotate method of their Go type "+
			"(infra/*/annotate.go), then run `make schema`:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
}

// TestSchemaDescriptionTexts pins a few descriptions that users rely on:
// the allowed values and defaults of rerun, wave and createNamespace.
func TestSchemaDescriptionTexts(t *testing.T) {
	s := readSchema(t)
	for _, c := range []struct {
		path, got, want string
	}{
		{
			"types.pulumi-jobs:index:Job.properties.rerun",
			s.Types["pulumi-jobs:index:Job"].Properties["rerun"].Description,
			"When the Job runs again after it has succeeded once: " +
				"`onChange` (the default) re-runs it whenever its pod template changes, above all its image; " +
				"`onRelease` also re-runs it whenever the release id (`release`) changes, which must then be set; " +
				"`once` runs it until it succeeds once and never again.",
		},
		{
			"types.pulumi-jobs:index:Job.properties.wave",
			s.Types["pulumi-jobs:index:Job"].Properties["wave"].Description,
			"The Job's wave, a whole number from 0: wave k starts once every Job of the waves before it has succeeded, " +
				"and the Jobs of one wave run in parallel. 0 by default.",
		},
		{
			"resources.pulumi-jobs:index:Release.inputProperties.createNamespace",
			s.Resources["pulumi-jobs:index:Release"].InputProperties["createNamespace"].Description,
			"Whether the release creates and owns the namespace, labelled to enforce Pod Security \"restricted\"; " +
				"`true` by default. Destroying the release then deletes the namespace with everything in it. " +
				"Set `false` to release into an existing namespace, whose labels are then yours to manage.",
		},
	} {
		if c.got != c.want {
			t.Errorf("%s:\n got: %q\nwant: %q", c.path, c.got, c.want)
		}
	}
	for _, token := range []string{"pulumi-jobs:index:Release", "pulumi-jobs:index:Jobs"} {
		if d := s.Resources[token].Description; !strings.Contains(d, "`rerun`") {
			t.Errorf("resources.%s: the description does not mention rerun: %q", token, d)
		}
	}
}
