package driver

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeCheckpoint writes a local backend's checkpoint whose root stack
// resource has outputs, and returns the backend URL.
func writeCheckpoint(t *testing.T, outputs string) string {
	t.Helper()
	dir := t.TempDir()
	stacks := filepath.Join(dir, ".pulumi", "stacks", "proj")
	require.NoError(t, os.MkdirAll(stacks, 0o755))
	cp := `{"version":3,"checkpoint":{"stack":"dev","latest":{"resources":[` +
		`{"urn":"urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev","type":"pulumi:pulumi:Stack","outputs":` + outputs + `},` +
		`{"urn":"urn:pulumi:dev::proj::kubernetes:core/v1:Namespace::ns","type":"kubernetes:core/v1:Namespace","outputs":{"x":1}}]}}}`
	require.NoError(t, os.WriteFile(filepath.Join(stacks, "dev.json"), []byte(cp), 0o644))
	return "file://" + dir
}

func fastCommand(backend string) *command {
	return &command{checkpoint: localCheckpoint(backend, func() (string, error) { return "proj", nil })}
}

func TestCommandAnswersOutputsFromTheCheckpoint(t *testing.T) {
	c := fastCommand(writeCheckpoint(t, `{"namespace":"shop","jobs":[{"wave":0,"jobs":["a"]}]}`))
	for _, args := range [][]string{
		{"stack", "output", "--json", "--stack", "dev"},
		{"stack", "output", "--json", "--show-secrets", "--stack", "dev"},
	} {
		out, ok := c.answer(args)
		require.True(t, ok, "%v is answered without the CLI", args)
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &got))
		assert.Equal(t, map[string]any{"namespace": "shop", "jobs": []any{map[string]any{"wave": float64(0), "jobs": []any{"a"}}}}, got)
	}
	_, ok := c.answer([]string{"stack", "output", "--json", "--stack", "prod"})
	assert.False(t, ok, "a stack with no checkpoint is the CLI's")
	_, ok = c.answer([]string{"stack", "output", "namespace", "--stack", "dev"})
	assert.False(t, ok, "any other form is the CLI's")
	_, ok = c.answer([]string{"stack", "output", "--json", "--stack", "org/proj/dev"})
	assert.False(t, ok, "a qualified stack name is the CLI's")
}

func TestCommandLeavesSecretsToTheCLI(t *testing.T) {
	c := fastCommand(writeCheckpoint(t, `{"url":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","ciphertext":"v1:abc"},"ns":"shop"}`))
	out, ok := c.answer([]string{"stack", "output", "--json", "--stack", "dev"})
	require.True(t, ok, "the masked listing needs no decryption")
	assert.JSONEq(t, `{"url":"[secret]","ns":"shop"}`, out)
	_, ok = c.answer([]string{"stack", "output", "--json", "--show-secrets", "--stack", "dev"})
	assert.False(t, ok, "a secret's value is decrypted by the CLI")

	c = fastCommand(writeCheckpoint(t, `{"a":{"4dabf18193072939515e22adb298388d":"c44067f5952c0a294b673a41bacd8c17","path":"x"}}`))
	_, ok = c.answer([]string{"stack", "output", "--json", "--stack", "dev"})
	assert.False(t, ok, "an asset is rendered by the CLI")
}

func TestCommandSkipsHistoryOnlyWhenTold(t *testing.T) {
	c := fastCommand("https://api.pulumi.com")
	history := []string{"stack", "history", "--json", "--show-secrets", "--page-size", "1", "--page", "1", "--stack", "dev"}
	_, ok := c.answer(history)
	assert.False(t, ok)
	c.skipHistory.Store(true)
	out, ok := c.answer(history)
	assert.True(t, ok)
	assert.Equal(t, "[]", out)
	_, ok = c.answer([]string{"stack", "output", "--json", "--stack", "dev"})
	assert.False(t, ok, "no checkpoint to read on a managed backend")
}

func TestCommandSelectsAStackItsCheckpointShows(t *testing.T) {
	c := fastCommand(writeCheckpoint(t, `{}`))
	_, ok := c.answer([]string{"stack", "select", "--stack", "dev"})
	assert.True(t, ok, "the checkpoint shows the stack exists")
	_, ok = c.answer([]string{"stack", "select", "--stack", "prod"})
	assert.False(t, ok, "a stack with no checkpoint is the CLI's to find (or not)")
	_, ok = c.answer([]string{"stack", "select", "--create", "--stack", "dev"})
	assert.False(t, ok)
}

func TestPinnedCLIVersionFromItsBuild(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(root, "bin", "pulumi")); err != nil {
		t.Skip("no bin/pulumi: run `make tools`")
	}
	v, ok := stampedVersion(filepath.Join(root, "bin", "pulumi"))
	require.True(t, ok, "make tools stamps the CLI's version into its build")
	assert.Equal(t, PulumiVersion, v.String())
	cmd, err := newPulumiCommand(root, v)
	require.NoError(t, err)
	assert.IsType(t, pinnedCLI{}, cmd, "no `pulumi version` run")
	stdout, _, code, err := cmd.Run(t.Context(), t.TempDir(), nil, nil, nil, []string{"PULUMI_SKIP_UPDATE_CHECK=true"}, "version")
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "v"+PulumiVersion, strings.TrimSpace(stdout), "the stamp is the version the CLI reports")

	_, ok = stampedVersion(os.Args[0])
	assert.False(t, ok, "a binary with no stamp is asked for its version")
}
