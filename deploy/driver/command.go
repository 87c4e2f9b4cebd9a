package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// TraceEnv names the environment variable that, when set to 1, makes the
// driver print every Pulumi CLI command it runs, with its wall time, to
// stderr, and each command it answered without the CLI: where a run's time
// goes outside the engine.
const TraceEnv = "PULUMI_JOBS_TRACE"

// command is the Pulumi CLI as the Automation API runs it. It answers two
// kinds of the API's own follow-up commands without starting the CLI, each
// about half a second on two cores:
//
//   - `stack output --json [--show-secrets]`, which the API runs twice after
//     every up (and once more each for Outputs): read from the local
//     backend's checkpoint, the file the CLI has just written, when it has
//     no secret output (the plain listing masks secrets as the CLI does; a
//     secret's value needs the CLI to decrypt it);
//   - `stack history`, which the API runs after an up, refresh or destroy
//     for a summary the driver never reads: answered empty, only while one
//     of those runs (skipHistory);
//   - `stack select`, which opening a stack runs to learn that it exists:
//     answered when the local backend has its checkpoint. The selection it
//     would record is the driver's own PULUMI_HOME's, which nothing reads:
//     every command the API runs names its stack.
//
// Anything else, and any of these it cannot answer, runs the CLI.
type command struct {
	auto.PulumiCommand
	trace bool
	// checkpoint returns the latest deployment of a stack from the local
	// backend's checkpoint; found is false when there is none to read.
	checkpoint func(stack string) (deployment json.RawMessage, found bool, err error)
	// skipHistory is set while an up, refresh or destroy runs.
	skipHistory atomic.Bool
}

func (c *command) Run(ctx context.Context, workdir string, stdin io.Reader, out, errOut []io.Writer, env []string, args ...string) (string, string, int, error) {
	start := time.Now()
	if stdout, ok := c.answer(args); ok {
		c.tracef("%s pulumi %s: answered without the CLI in %.3fs", start.Format("15:04:05.000"), strings.Join(args, " "), time.Since(start).Seconds())
		return stdout, "", 0, nil
	}
	stdout, stderr, code, err := c.PulumiCommand.Run(ctx, workdir, stdin, out, errOut, env, args...)
	c.tracef("%s pulumi %s: %.3fs (exit %d)", start.Format("15:04:05.000"), strings.Join(args, " "), time.Since(start).Seconds(), code)
	return stdout, stderr, code, err
}

func (c *command) Version() semver.Version { return c.PulumiCommand.Version() }

func (c *command) tracef(format string, args ...any) {
	if c.trace {
		fmt.Fprintf(os.Stderr, "pulumi-jobs trace: "+format+"\n", args...)
	}
}

// answer returns the output of args when it can be had without the CLI.
func (c *command) answer(args []string) (string, bool) {
	if len(args) < 2 || args[0] != "stack" {
		return "", false
	}
	verb, flags := args[1], args[2:]
	var stack string
	showSecrets := false
	for i := 0; i < len(flags); i++ {
		switch f := flags[i]; {
		case f == "--json":
		case f == "--show-secrets":
			showSecrets = true
		case f == "--stack" && i+1 < len(flags):
			stack = flags[i+1]
			i++
		case verb == "history" && (f == "--page-size" || f == "--page") && i+1 < len(flags):
			i++
		default:
			return "", false
		}
	}
	switch {
	case verb == "history" && c.skipHistory.Load():
		return "[]", true
	case verb == "output" && stack != "" && c.checkpoint != nil:
		return c.outputs(stack, showSecrets)
	case verb == "select" && stack != "" && !showSecrets && c.checkpoint != nil:
		// The API selects the stack only to learn that it exists (it names
		// the stack on every command it runs); its checkpoint says so.
		_, found, err := c.checkpoint(stack)
		return "", err == nil && found
	}
	return "", false
}

// secretSig is the key and value that mark a secret in a checkpoint
// (resource.SigKey, resource.SecretSig); sigKey alone marks any special
// value (asset, archive, resource reference), which only the CLI renders.
const (
	sigKey    = "4dabf18193072939515e22adb298388d"
	secretSig = "1b47061264138c4ac30d75fd1eb44270"
)

// outputs renders the root stack resource's outputs from the checkpoint as
// `pulumi stack output --json` does: secrets shown as "[secret]", or, with
// showSecrets, only when there is none.
func (c *command) outputs(stack string, showSecrets bool) (string, bool) {
	deployment, found, err := c.checkpoint(stack)
	if err != nil || !found {
		return "", false
	}
	var dep struct {
		Resources []struct {
			Type    string         `json:"type"`
			Outputs map[string]any `json:"outputs"`
		} `json:"resources"`
	}
	if len(deployment) > 0 && string(deployment) != "null" {
		if err := json.Unmarshal(deployment, &dep); err != nil {
			return "", false
		}
	}
	outs := map[string]any{}
	for _, r := range dep.Resources {
		if r.Type == "pulumi:pulumi:Stack" {
			outs = r.Outputs
			break
		}
	}
	masked, ok := maskSecrets(outs, showSecrets)
	if !ok {
		return "", false
	}
	b, err := json.MarshalIndent(masked, "", "  ")
	if err != nil {
		return "", false
	}
	return string(b) + "\n", true
}

// maskSecrets replaces every secret with "[secret]"; ok is false when v
// holds a value only the CLI can render: a secret when showSecrets, or any
// other special value.
func maskSecrets(v any, showSecrets bool) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		if sig, special := v[sigKey]; special {
			if sig == secretSig && !showSecrets {
				return "[secret]", true
			}
			return nil, false
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			m, ok := maskSecrets(e, showSecrets)
			if !ok {
				return nil, false
			}
			out[k] = m
		}
		return out, true
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			m, ok := maskSecrets(e, showSecrets)
			if !ok {
				return nil, false
			}
			out[i] = m
		}
		return out, true
	}
	return v, true
}

// localCheckpoint returns the command's checkpoint reader for a local file
// backend (nil for any other backend).
func localCheckpoint(backendURL string, project func() (string, error)) func(string) (json.RawMessage, bool, error) {
	backend, ok := strings.CutPrefix(backendURL, "file://")
	if !ok {
		return nil
	}
	return func(stack string) (json.RawMessage, bool, error) {
		name, err := project()
		if err != nil || strings.Contains(stack, "/") {
			return nil, false, err
		}
		return readCheckpoint(filepath.Join(backend, ".pulumi", "stacks", name, stack))
	}
}
