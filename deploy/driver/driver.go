// Package driver runs pulumi-jobs through the Automation API: a local
// workspace whose work dir is the project (so Pulumi.yaml and
// Pulumi.<stack>.yaml are the config), whose program is program.Run run
// inline (no Go language host needed), with a local file state backend, a
// project-local PULUMI_HOME, the passphrase secrets provider and the pinned
// Pulumi CLI.
package driver

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/program"
)

// PulumiVersion is the Pulumi CLI version the program is built against.
const PulumiVersion = "3.259.0"

// DefaultPassphrase encrypts the secrets of local stacks when
// PULUMI_CONFIG_PASSPHRASE is not set. It protects nothing: set your own.
const DefaultPassphrase = "pulumi-jobs-local"

// Options configure a Driver. Zero values take the defaults shown.
type Options struct {
	// WorkDir holds Pulumi.yaml and the stack files (default: the repository root).
	WorkDir string
	// Stack is the stack name (default "dev").
	Stack string
	// PulumiRoot is the directory whose bin/pulumi is the CLI (default: the repository root).
	PulumiRoot string
	// Home is the project-local PULUMI_HOME (default <WorkDir>/.state/pulumi-home).
	Home string
	// BackendURL is the state backend (default file://<WorkDir>/.state/backend).
	BackendURL string
	// Kubeconfig is the cluster's kubeconfig (default: $KUBECONFIG / ~/.kube/config).
	Kubeconfig string
	// ProviderPath is a pulumi-resource-kubernetes binary (default $PULUMI_JOBS_KUBERNETES_PROVIDER).
	ProviderPath string
	// Program is the Pulumi program (default program.RunIn(WorkDir)).
	Program pulumi.RunFunc
	// Progress receives the engine's progress text (default os.Stdout).
	Progress io.Writer
}

// Driver runs one stack.
type Driver struct {
	opts  Options
	env   map[string]string
	cmd   *command
	ws    auto.Workspace
	stack auto.Stack

	// refresh makes the next preview or up refresh the state first; the
	// preflight sets it when the cluster has lost what the state records.
	refresh bool

	// Provider says where the Kubernetes provider plugin came from.
	Provider ProviderSource
}

func (o *Options) defaults() error {
	if o.WorkDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("finding the working directory: %w", err)
		}
		o.WorkDir = wd
	}
	abs, err := filepath.Abs(o.WorkDir)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", o.WorkDir, err)
	}
	o.WorkDir = abs
	if o.Stack == "" {
		o.Stack = "dev"
	}
	// The provider plugin runs in another working directory: a relative
	// kubeconfig would name nothing there.
	if o.Kubeconfig != "" {
		if o.Kubeconfig, err = filepath.Abs(o.Kubeconfig); err != nil {
			return fmt.Errorf("resolving --kubeconfig: %w", err)
		}
	}
	if o.PulumiRoot == "" {
		o.PulumiRoot = o.WorkDir
	}
	if o.Home == "" {
		o.Home = filepath.Join(o.WorkDir, ".state", "pulumi-home")
	}
	if o.BackendURL == "" {
		backend := filepath.Join(o.WorkDir, ".state", "backend")
		if err := os.MkdirAll(backend, 0o755); err != nil {
			return fmt.Errorf("creating the state backend: %w", err)
		}
		o.BackendURL = "file://" + backend
	}
	if o.ProviderPath == "" {
		o.ProviderPath = os.Getenv(ProviderEnv)
	}
	if o.Program == nil {
		o.Program = program.RunIn(o.WorkDir, o.Kubeconfig)
	}
	if o.Progress == nil {
		o.Progress = os.Stdout
	}
	return os.MkdirAll(o.Home, 0o755)
}

// absPathList makes every entry of a KUBECONFIG-style path list absolute.
func absPathList(list string) string {
	parts := filepath.SplitList(list)
	for i, p := range parts {
		if abs, err := filepath.Abs(p); err == nil && p != "" {
			parts[i] = abs
		}
	}
	return strings.Join(parts, string(filepath.ListSeparator))
}

// Open prepares the workspace and the stack (creating it if needed) and
// makes sure the Kubernetes provider plugin is available. It touches no
// cluster: when no provider can be had, it returns an ErrNoProvider error.
func Open(ctx context.Context, opts Options) (*Driver, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	d := &Driver{opts: opts}
	d.env = map[string]string{
		"PULUMI_HOME":              opts.Home,
		"PULUMI_BACKEND_URL":       opts.BackendURL,
		"PULUMI_SKIP_UPDATE_CHECK": "true",
		// The Automation API puts the CLI's bin/ on PATH, where the provider we
		// build also lies; the engine would then run it as an "ambient" plugin
		// (with a warning) whatever its version. It must load the plugin
		// ensureProvider installed, by its version, as `pulumi plugin ls` shows.
		"PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
		"PULUMI_CONFIG_PASSPHRASE":      os.Getenv("PULUMI_CONFIG_PASSPHRASE"),
	}
	if d.env["PULUMI_CONFIG_PASSPHRASE"] == "" && os.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE") == "" {
		d.env["PULUMI_CONFIG_PASSPHRASE"] = DefaultPassphrase
	}
	if opts.Kubeconfig != "" {
		d.env["KUBECONFIG"] = opts.Kubeconfig
	} else if list := os.Getenv("KUBECONFIG"); list != "" {
		// A list, as kubectl takes it; the driver's own client reads it from
		// the environment as it is, in this directory.
		d.env["KUBECONFIG"] = absPathList(list)
	}
	for k, v := range d.env {
		if v == "" {
			delete(d.env, k)
		}
	}

	start := time.Now()
	cli, err := newPulumiCommand(opts.PulumiRoot, semver.MustParse(PulumiVersion))
	if err != nil {
		return nil, fmt.Errorf("using the Pulumi CLI in %s/bin (run `make tools`): %w", opts.PulumiRoot, err)
	}
	d.cmd = &command{PulumiCommand: cli, trace: os.Getenv(TraceEnv) == "1"}
	d.cmd.tracef("%s the Pulumi CLI v%s found in %.3fs", start.Format("15:04:05.000"), cli.Version(), time.Since(start).Seconds())
	d.ws, err = auto.NewLocalWorkspace(ctx,
		auto.WorkDir(opts.WorkDir),
		auto.Program(opts.Program),
		auto.PulumiHome(opts.Home),
		auto.Pulumi(d.cmd),
		auto.EnvVars(d.env),
		auto.SecretsProvider("passphrase"),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the workspace in %s: %w", opts.WorkDir, err)
	}
	d.cmd.checkpoint = localCheckpoint(opts.BackendURL, func() (string, error) {
		p, err := d.ws.ProjectSettings(context.Background())
		if err != nil {
			return "", err
		}
		return string(p.Name), nil
	})
	if d.Provider, err = d.ensureProvider(ctx, opts.ProviderPath); err != nil {
		return nil, err
	}
	if err := d.ensureComponentProvider(ctx); err != nil {
		return nil, err
	}
	d.stack, err = auto.UpsertStack(ctx, opts.Stack, d.ws)
	if err != nil {
		return nil, fmt.Errorf("selecting stack %q: %w", opts.Stack, err)
	}
	return d, nil
}

func (d *Driver) envList() []string {
	keys := slices.Sorted(maps.Keys(d.env))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+d.env[k])
	}
	return out
}

// Stack returns the Automation API stack.
func (d *Driver) Stack() auto.Stack { return d.stack }

// Workspace returns the Automation API workspace.
func (d *Driver) Workspace() auto.Workspace { return d.ws }

// collect keeps the engine events of one operation. The Automation API
// closes the channel when the event log ends; when an operation fails before
// its log starts, the channel is never closed, so the returned function
// waits only a moment for the close after the operation has returned.
func collect() (chan events.EngineEvent, func() []events.EngineEvent) {
	in := make(chan events.EngineEvent)
	var mu sync.Mutex
	var all []events.EngineEvent
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range in {
			mu.Lock()
			all = append(all, e)
			mu.Unlock()
		}
	}()
	return in, func() []events.EngineEvent {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(all)
	}
}

// Result is the outcome of one engine operation.
type Result struct {
	// Events are the engine's events, in order.
	Events []events.EngineEvent
	// Outputs are the stack outputs after an up.
	Outputs auto.OutputMap
}

// Preview runs a preview. After a preflight that found objects the cluster
// has lost, it previews against the refreshed state.
func (d *Driver) Preview(ctx context.Context) (Result, error) {
	ch, wait := collect()
	opts := optPreviewProgress(d.opts.Progress, ch)
	if d.refresh {
		opts = append(opts, optpreview.Refresh())
	}
	_, err := d.stack.Preview(ctx, opts...)
	r := Result{Events: wait()}
	if err != nil {
		return r, engineError("preview", d.opts.Stack, err, r.Events)
	}
	return r, nil
}

// Up runs an update. After a preflight that found objects the cluster has
// lost, it refreshes the state first, so they are created again.
func (d *Driver) Up(ctx context.Context) (Result, error) {
	ch, wait := collect()
	opts := optUpProgress(d.opts.Progress, ch)
	if d.refresh {
		opts = append(opts, optup.Refresh())
	}
	d.cmd.skipHistory.Store(true) // the API's summary, which the driver never reads
	res, err := d.stack.Up(ctx, opts...)
	d.cmd.skipHistory.Store(false)
	r := Result{Events: wait(), Outputs: res.Outputs}
	if err != nil {
		return r, engineError("update", d.opts.Stack, err, r.Events)
	}
	d.refresh = false
	return r, nil
}

// Refresh reads every resource of the stack back from the cluster and
// records what is there, dropping what is gone.
func (d *Driver) Refresh(ctx context.Context) (Result, error) {
	ch, wait := collect()
	d.cmd.skipHistory.Store(true) // the API's summary, which the driver never reads
	_, err := d.stack.Refresh(ctx, optRefreshProgress(d.opts.Progress, ch)...)
	d.cmd.skipHistory.Store(false)
	r := Result{Events: wait()}
	if err != nil {
		return r, engineError("refresh", d.opts.Stack, err, r.Events)
	}
	d.refresh = false
	return r, nil
}

// Destroy destroys every resource of the stack.
func (d *Driver) Destroy(ctx context.Context) (Result, error) {
	ch, wait := collect()
	d.cmd.skipHistory.Store(true) // the API's summary, which the driver never reads
	_, err := d.stack.Destroy(ctx, optDestroyProgress(d.opts.Progress, ch)...)
	d.cmd.skipHistory.Store(false)
	r := Result{Events: wait()}
	if err != nil {
		return r, engineError("destroy", d.opts.Stack, err, r.Events)
	}
	return r, nil
}

// EngineError is a failed engine operation. Its text is the engine's error
// diagnostics (each naming its resource) and the CLI's error output only:
// the engine's progress, which the Automation API's error also carries, has
// already been streamed, and printing it twice buries the error.
type EngineError struct {
	// Op is the operation: preview, update, refresh or destroy.
	Op string
	// Stack is the stack it ran on.
	Stack string
	// Diagnostics are the engine's error diagnostics, "resource: message".
	Diagnostics []string
	// Err is the Automation API's error, with the full output.
	Err error
}

func (e *EngineError) Error() string {
	msg := e.Err.Error()
	var b strings.Builder
	fmt.Fprintf(&b, "%s of stack %q failed", e.Op, e.Stack)
	for _, d := range e.Diagnostics {
		b.WriteString("\n  ")
		b.WriteString(d)
	}
	if _, stderr, ok := strings.Cut(msg, "\nstderr: "); ok && strings.TrimSpace(stderr) != "" {
		b.WriteString("\n")
		b.WriteString(strings.TrimSpace(stderr))
	} else if len(e.Diagnostics) == 0 {
		first, _, _ := strings.Cut(msg, "\n")
		b.WriteString(": ")
		b.WriteString(first)
	}
	return b.String()
}

// Unwrap returns the Automation API's error.
func (e *EngineError) Unwrap() error { return e.Err }

func engineError(op, stack string, err error, evts []events.EngineEvent) error {
	e := &EngineError{Op: op, Stack: stack, Err: err}
	for _, ev := range evts {
		d := ev.DiagnosticEvent
		if d == nil || d.Severity != "error" {
			continue
		}
		text := strings.TrimSpace(d.Message)
		if strings.HasSuffix(text, " failed") && !strings.Contains(text, "\n") {
			continue // the stack's own "update failed": the resource's error says why
		}
		where := "the program"
		if i := strings.LastIndex(d.URN, "::"); i >= 0 {
			where = d.URN[i+2:] + " (" + typeName(d.URN[:i]) + ")"
		}
		// The program's own error (a release's refusal, say) has no URN.
		e.Diagnostics = append(e.Diagnostics, where+": "+strings.ReplaceAll(text, "\n", "\n    "))
	}
	return e
}

// Outputs returns the stack outputs.
func (d *Driver) Outputs(ctx context.Context) (auto.OutputMap, error) {
	out, err := d.stack.Outputs(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the outputs of stack %q: %w", d.opts.Stack, err)
	}
	return out, nil
}
