package driver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/blang/semver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets this test binary act as a fake `pulumi` (a test double that
// records its calls and answers as told) when it is run under that name:
// the remote workspace of the Automation API runs the CLI found on PATH and
// offers no way to inject an auto.PulumiCommand.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "pulumi" {
		os.Exit(fakePulumi(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakePulumi appends its arguments to $FAKE_PULUMI_LOG and answers the
// calls the Automation API makes around a remote run.
func fakePulumi(args []string) int {
	if f, err := os.OpenFile(os.Getenv("FAKE_PULUMI_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		b, _ := json.Marshal(args)
		fmt.Fprintln(f, string(b))
		f.Close()
	}
	switch {
	case len(args) > 0 && args[0] == "version":
		fmt.Println("v" + PulumiVersion)
	case slices.Contains(args, "--help"):
		fmt.Println("Flags:\n      --remote   [EXPERIMENTAL] Run the operation remotely")
	case slices.Contains(args, "output"):
		fmt.Println("{}")
	case slices.Contains(args, "history"):
		fmt.Println("[]")
	case slices.Contains(args, "up"):
		fmt.Println("Updating (remote)")
		if os.Getenv("FAKE_PULUMI_FAIL") != "" {
			fmt.Fprintln(os.Stderr, "error: the remote deployment failed")
			return 1
		}
	}
	return 0
}

// fakeOnPath puts this test binary on PATH as `pulumi` and returns the file
// its calls are recorded in.
func fakeOnPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	self, err := os.Executable()
	require.NoError(t, err)
	require.NoError(t, os.Symlink(self, filepath.Join(dir, "pulumi")))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	log := filepath.Join(dir, "calls.jsonl")
	t.Setenv("FAKE_PULUMI_LOG", log)
	return log
}

func recordedCalls(t *testing.T, log string) [][]string {
	t.Helper()
	f, err := os.Open(log)
	require.NoError(t, err)
	defer f.Close()
	var calls [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var args []string
		require.NoError(t, json.Unmarshal(sc.Bytes(), &args))
		calls = append(calls, args)
	}
	return calls
}

// secrets puts secrets in the caller's environment, as a CI job has them.
func secrets(t *testing.T) []string {
	values := map[string]string{
		"PULUMI_ACCESS_TOKEN":      "pul-0123456789abcdef",
		"PULUMI_CONFIG_PASSPHRASE": "correct horse battery staple",
		"DATABASE_URL":             "postgres://shop:s3cr3t@db:5432/shop",
	}
	var out []string
	for k, v := range values {
		t.Setenv(k, v)
		out = append(out, v)
	}
	return out
}

func TestRemoteUpArguments(t *testing.T) {
	log := fakeOnPath(t)
	secretValues := secrets(t)
	var progress strings.Builder
	err := RunRemote(context.Background(), Remote{
		Stack: "acme/pulumi-jobs/prod", RepoURL: "https://github.com/acme/shop-deploy.git", Branch: "main",
		ProjectPath: ".", PreRunCommands: []string{"go version"}, Env: map[string]string{"LOG_LEVEL": "info"},
		Progress: &progress,
	}, "up")
	require.NoError(t, err)
	assert.Contains(t, progress.String(), "Updating (remote)", "the run's progress is streamed")

	calls := recordedCalls(t, log)
	var up []string
	for _, c := range calls {
		if slices.Contains(c, "up") {
			up = c
		}
		for _, arg := range c {
			for _, s := range secretValues {
				assert.NotContains(t, arg, s, "a secret appeared in the arguments of `pulumi %s`", strings.Join(c, " "))
			}
		}
	}
	require.NotEmpty(t, up, "a remote up ran: %v", calls)
	for _, want := range []string{
		"--remote", "https://github.com/acme/shop-deploy.git", "--remote-git-branch=main", "--remote-git-repo-dir=.",
		"--remote-env=LOG_LEVEL=info", "--remote-pre-run-command=go version", "--remote-inherit-settings",
		"--stack", "acme/pulumi-jobs/prod",
	} {
		assert.Contains(t, up, want)
	}
	assert.NotContains(t, up, "--remote-skip-install-dependencies")
}

func TestRemoteFailureIsAnError(t *testing.T) {
	fakeOnPath(t)
	t.Setenv("FAKE_PULUMI_FAIL", "1")
	err := RunRemote(context.Background(), Remote{Stack: "acme/pulumi-jobs/prod", RepoURL: "https://github.com/acme/shop.git", Branch: "main", Progress: io.Discard}, "up")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "remote up of acme/pulumi-jobs/prod failed")
}

func TestRemoteRefusesBadInput(t *testing.T) {
	cases := []struct {
		name string
		r    Remote
		msg  string
	}{
		{"short stack name", Remote{Stack: "prod", RepoURL: "u", Branch: "main"}, "organization/project/stack"},
		{"no repository", Remote{Stack: "a/b/c", Branch: "main"}, "--repo"},
		{"a secret as plain env", Remote{Stack: "a/b/c", RepoURL: "u", Branch: "main", Env: map[string]string{"API_TOKEN": "x"}}, "looks like a secret"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenRemote(context.Background(), c.r)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.msg)
		})
	}
}

// recordingCommand is an auto.PulumiCommand double that records each call.
type recordingCommand struct {
	calls [][]string
	env   [][]string
}

func (r *recordingCommand) Run(_ context.Context, _ string, _ io.Reader, _, _ []io.Writer, env []string, args ...string) (string, string, int, error) {
	r.calls = append(r.calls, args)
	r.env = append(r.env, env)
	return "", "", 0, nil
}

func (r *recordingCommand) Version() semver.Version { return semver.MustParse(PulumiVersion) }

func TestDeploymentSettings(t *testing.T) {
	secretValues := secrets(t)
	cases := []struct {
		preset SettingsPreset
		want   []string
	}{
		{PresetDev, []string{"deployment", "settings", "edit", "--stack", "acme/pulumi-jobs/dev", "--github-repo", "acme/shop-deploy",
			"--branch", "main", "--push-to-deploy=true", "--preview-prs=false"}},
		{PresetProd, []string{"deployment", "settings", "edit", "--stack", "acme/pulumi-jobs/dev", "--github-repo", "acme/shop-deploy",
			"--branch", "main", "--push-to-deploy=false", "--preview-prs=true"}},
	}
	for _, c := range cases {
		t.Run(string(c.preset), func(t *testing.T) {
			args, err := SettingsArgs("acme/pulumi-jobs/dev", "acme/shop-deploy", "main", "", c.preset)
			require.NoError(t, err)
			cmd := &recordingCommand{}
			var out strings.Builder
			require.NoError(t, ApplySettings(context.Background(), cmd, t.TempDir(), args, &out))
			require.Len(t, cmd.calls, 1)
			assert.Equal(t, c.want, cmd.calls[0], "the exact settings command line")
			assert.Equal(t, "$ pulumi "+strings.Join(c.want, " ")+"\n", out.String(), "the command is printed")
			for _, s := range secretValues {
				assert.NotContains(t, strings.Join(cmd.calls[0], " "), s)
			}
		})
	}
	_, err := SettingsArgs("acme/pulumi-jobs/dev", "acme/shop-deploy", "main", "", "staging")
	assert.ErrorContains(t, err, "use dev")
	_, err = SettingsArgs("acme/pulumi-jobs/dev", "https://github.com/acme/shop-deploy", "main", "", PresetDev)
	assert.ErrorContains(t, err, "owner/name")
}
