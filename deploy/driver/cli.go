package driver

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// pulumiVersionFlag is how `make tools` (and Pulumi's own release builds)
// stamp the CLI's version into the binary.
const pulumiVersionFlag = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version="

// newPulumiCommand returns the Pulumi CLI <root>/bin/pulumi for the
// Automation API. auto.NewPulumiCommand learns the CLI's version by running
// `pulumi version`, about 0.2 s on every command of the driver; the version
// is also in the binary's build information, stamped where the CLI is built,
// and read from there in a millisecond. A binary whose build information
// does not name its version goes through auto.NewPulumiCommand as before.
// Either way a CLI older than want, or of another major version, is refused.
func newPulumiCommand(root string, want semver.Version) (auto.PulumiCommand, error) {
	path := filepath.Join(root, "bin", "pulumi")
	if v, ok := stampedVersion(path); ok && v.Major == want.Major && v.GTE(want) {
		return pinnedCLI{path: path, version: v}, nil
	}
	return auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, Version: want})
}

// stampedVersion reads the version stamped into a Go binary's -ldflags.
func stampedVersion(path string) (semver.Version, bool) {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return semver.Version{}, false
	}
	for _, s := range info.Settings {
		if s.Key != "-ldflags" {
			continue
		}
		if _, v, ok := strings.Cut(s.Value, pulumiVersionFlag); ok {
			v, _, _ = strings.Cut(v, " ")
			version, err := semver.ParseTolerant(strings.Trim(v, `'"`))
			return version, err == nil
		}
	}
	return semver.Version{}, false
}

// pinnedCLI runs the CLI as the Automation API's own runner does on Linux:
// non-interactive, in workdir, with the CLI's directory first on PATH (where
// its language hosts and plugins lie), interrupted with SIGINT when ctx is
// done and killed 10 s later.
type pinnedCLI struct {
	path    string
	version semver.Version
}

func (c pinnedCLI) Run(ctx context.Context, workdir string, stdin io.Reader, out, errOut []io.Writer, env []string, args ...string) (string, string, int, error) {
	pulumiArgs := args
	if i := slices.Index(args, "--"); i >= 0 {
		pulumiArgs = args[:i]
	}
	if !slices.Contains(pulumiArgs, "--non-interactive") {
		args = append([]string{"--non-interactive"}, args...)
	}
	cmd := exec.CommandContext(ctx, c.path, args...)
	cmd.Dir = workdir
	cmd.Env = withPathFirst(append(append(os.Environ(), env...), "PULUMI_AUTOMATION_API=true"), filepath.Dir(c.path))
	var stdout, stderr bytes.Buffer
	cmd.Stdout = io.MultiWriter(append(out, &stdout)...)
	cmd.Stderr = io.MultiWriter(append(errOut, &stderr)...)
	cmd.Stdin = stdin
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			_ = cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 10 * time.Second
	code := -2 // the Automation API's "unknown" exit code
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err == nil {
		code = 0
	}
	return stdout.String(), stderr.String(), code, err
}

func (c pinnedCLI) Version() semver.Version { return c.version }

func (c pinnedCLI) String() string { return fmt.Sprintf("%s (v%s)", c.path, c.version) }

// withPathFirst returns env with dir first on its PATH.
func withPathFirst(env []string, dir string) []string {
	out := slices.Clone(env)
	for i, e := range out {
		if len(e) >= 5 && strings.EqualFold(e[:5], "PATH=") {
			if old := e[5:]; old != "" {
				out[i] = "PATH=" + dir + string(os.PathListSeparator) + old
			} else {
				out[i] = "PATH=" + dir
			}
			return out
		}
	}
	return append(out, "PATH="+dir)
}
