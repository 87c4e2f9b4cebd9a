package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/require"
)

// cliStack is a program of examples/ run the way a user runs it: the plain
// `pulumi` CLI, its language host (Pulumi YAML), our component provider and
// the real Kubernetes provider as plugins — no Automation API, no inline
// program.
type cliStack struct {
	dir string
	env []string
	bin string
}

// newCLIStack copies examples/<example> into a temporary directory, creates
// a stack with a file backend there, sets its config and destroys it when
// the test ends, pass or fail.
//
// Plugins are found as a user's plain CLI finds them offline: the YAML host
// next to the CLI in bin/, our provider and the Kubernetes provider on PATH.
// PULUMI_HOME is empty, so no cached plugin can stand in for them.
func newCLIStack(t *testing.T, e *env, example string, config map[string]string) *cliStack {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, filepath.Join(e.root, "examples", example, "Pulumi.yaml"), filepath.Join(dir, "Pulumi.yaml"))
	backend := filepath.Join(dir, ".state")
	require.NoError(t, os.MkdirAll(backend, 0o755))
	env := []string{
		"PATH=" + e.bin + string(os.PathListSeparator) + filepath.Dir(e.provider) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"PULUMI_HOME=" + filepath.Join(dir, ".pulumi-home"),
		"PULUMI_BACKEND_URL=file://" + backend,
		"PULUMI_CONFIG_PASSPHRASE=e2e",
		"PULUMI_SKIP_UPDATE_CHECK=true",
		// Enables --event-log, the engine events the Automation API reads too.
		"PULUMI_DEBUG_COMMANDS=true",
		"PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true",
		"KUBECONFIG=" + e.cluster.Kubeconfig,
	}
	s := &cliStack{dir: dir, env: env, bin: filepath.Join(e.bin, "pulumi")}
	s.must(t, "stack", "init", "e2e")
	for k, v := range config {
		s.must(t, "config", "set", k, v)
	}
	t.Cleanup(func() {
		if _, err := s.run(t, 5*time.Minute, "destroy", "--yes", "--skip-preview"); err != nil {
			t.Errorf("destroying the %s example: %v", example, err)
		}
	})
	return s
}

// run runs the CLI in the program's directory and returns its output. The
// CLI and every plugin it started are killed when timeout passes.
func (s *cliStack) run(t *testing.T, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, append(args, "--non-interactive")...)
	cmd.Dir = s.dir
	cmd.Env = s.env
	// Its own process group, so that a kill reaches the plugins too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), errors.Join(err, errors.New(string(out)))
	}
	return string(out), nil
}

// must runs the CLI and fails the test if it fails.
func (s *cliStack) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.run(t, time.Minute, args...)
	require.NoError(t, err, "pulumi %s", strings.Join(args, " "))
	return out
}

// up runs `pulumi up` and returns the engine's events from its event log.
func (s *cliStack) up(t *testing.T) ([]events.EngineEvent, error) {
	t.Helper()
	log := filepath.Join(s.dir, "events-"+time.Now().Format("150405.000000000")+".json")
	_, err := s.run(t, 10*time.Minute, "up", "--yes", "--skip-preview", "--event-log", log)
	if _, statErr := os.Stat(log); statErr != nil {
		require.NoError(t, err, "pulumi up wrote no event log")
	}
	return readEventLog(t, log), err
}

// readEventLog parses an engine event log: one JSON event per line.
func readEventLog(t *testing.T, path string) []events.EngineEvent {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err, "the CLI wrote no event log")
	defer f.Close()
	var out []events.EngineEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e apitype.EngineEvent
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		out = append(out, events.EngineEvent{EngineEvent: e})
	}
	require.NoError(t, sc.Err())
	return out
}

// stateResource is one resource of the stack's state.
type stateResource struct {
	URN          string   `json:"urn"`
	Parent       string   `json:"parent"`
	Dependencies []string `json:"dependencies"`
}

// state returns the stack's resources by the last part of their URN
// (type::name, the type without its parents).
func (s *cliStack) state(t *testing.T) map[string]stateResource {
	t.Helper()
	var d struct {
		Deployment struct {
			Resources []stateResource `json:"resources"`
		} `json:"deployment"`
	}
	require.NoError(t, json.Unmarshal([]byte(s.must(t, "stack", "export")), &d))
	out := map[string]stateResource{}
	for _, r := range d.Deployment.Resources {
		out[shortURN(r.URN)] = r
	}
	return out
}

// shortURN is a URN's type (without parents) and name: "kubernetes:apps/v1:Deployment::app".
func shortURN(urn string) string {
	parts := strings.Split(urn, "::")
	return typeOf(urn) + "::" + parts[len(parts)-1]
}
