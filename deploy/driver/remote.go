package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optremotedestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optremotepreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optremoteup"
)

// Remote is a release run in Pulumi Deployments from this repository.
//
// It passes no secret. The Automation API (v3.259.0) would put a secret
// remote environment variable on the Pulumi CLI's command line
// (--remote-env-secret=KEY=VALUE), where any local user can read it; so the
// run inherits its secrets (PULUMI_CONFIG_PASSPHRASE, cloud credentials…)
// from the stack's deployment settings instead (RemoteInheritSettings), and
// the stack's own secrets stay encrypted in its config.
type Remote struct {
	// Stack is the fully qualified stack: organization/project/stack.
	Stack string
	// RepoURL is this repository's git URL.
	RepoURL string
	// Branch is the branch to release.
	Branch string
	// ProjectPath is the directory of Pulumi.yaml in the repository.
	ProjectPath string
	// PreRunCommands run before the Pulumi operation.
	PreRunCommands []string
	// Env are plaintext environment variables for the run; never secrets.
	Env map[string]string
	// SkipInstallDependencies skips the executor's dependency installation.
	SkipInstallDependencies bool
	// Progress receives the run's progress text.
	Progress io.Writer
}

func (r Remote) validate() error {
	var errs []error
	if strings.Count(r.Stack, "/") != 2 {
		errs = append(errs, fmt.Errorf("--stack %q: a remote run needs the fully qualified stack, organization/project/stack", r.Stack))
	}
	if r.RepoURL == "" {
		errs = append(errs, errors.New("--repo: the git URL of this repository is required for a remote run"))
	}
	if r.Branch == "" {
		errs = append(errs, errors.New("--branch: the branch to release is required for a remote run"))
	}
	for k, v := range r.Env {
		if looksSecret(k) {
			errs = append(errs, fmt.Errorf("--env %s: this looks like a secret; a remote run passes no secret on the command line — set it as a secret in the stack's deployment settings", k))
		}
		if v == "" {
			errs = append(errs, fmt.Errorf("--env %s: empty value", k))
		}
	}
	return errors.Join(errs...)
}

// looksSecret flags environment variable names that usually hold secrets.
func looksSecret(name string) bool {
	n := strings.ToUpper(name)
	return slices.ContainsFunc([]string{"TOKEN", "SECRET", "PASSWORD", "PASSPHRASE", "KEY", "DATABASE_URL", "CREDENTIAL"},
		func(s string) bool { return strings.Contains(n, s) })
}

// OpenRemote selects (or creates) the stack in Pulumi Cloud for remote runs.
// It needs PULUMI_ACCESS_TOKEN in the environment, as the Pulumi CLI does.
func OpenRemote(ctx context.Context, r Remote) (auto.RemoteStack, error) {
	if err := r.validate(); err != nil {
		return auto.RemoteStack{}, err
	}
	env := map[string]auto.EnvVarValue{}
	for k, v := range r.Env {
		env[k] = auto.EnvVarValue{Value: v}
	}
	opts := []auto.RemoteWorkspaceOption{
		auto.RemoteInheritSettings(true),
		auto.RemoteSkipInstallDependencies(r.SkipInstallDependencies),
		auto.RemoteEnvVars(env),
	}
	if len(r.PreRunCommands) > 0 {
		opts = append(opts, auto.RemotePreRunCommands(r.PreRunCommands...))
	}
	s, err := auto.UpsertRemoteStackGitSource(ctx, r.Stack, auto.GitRepo{URL: r.RepoURL, Branch: r.Branch, ProjectPath: r.ProjectPath}, opts...)
	if err != nil {
		return auto.RemoteStack{}, fmt.Errorf("opening remote stack %s: %w", r.Stack, err)
	}
	return s, nil
}

// RunRemote runs verb (preview, up or destroy) of the remote stack,
// streaming its progress; it fails when the run fails.
func RunRemote(ctx context.Context, r Remote, verb string) error {
	s, err := OpenRemote(ctx, r)
	if err != nil {
		return err
	}
	out := r.Progress
	if out == nil {
		out = os.Stdout
	}
	switch verb {
	case "preview":
		_, err = s.Preview(ctx, optremotepreview.ProgressStreams(out))
	case "up":
		_, err = s.Up(ctx, optremoteup.ProgressStreams(out))
	case "destroy":
		_, err = s.Destroy(ctx, optremotedestroy.ProgressStreams(out))
	default:
		return fmt.Errorf("a remote run supports preview, up and destroy, not %q", verb)
	}
	if err != nil {
		return fmt.Errorf("remote %s of %s failed: %w", verb, r.Stack, err)
	}
	return nil
}

// SettingsPreset names a push-to-deploy policy.
type SettingsPreset string

// The presets a team usually wants.
const (
	// PresetDev deploys every push to the branch.
	PresetDev SettingsPreset = "dev"
	// PresetProd previews pull requests and deploys only when asked.
	PresetProd SettingsPreset = "prod"
)

// SettingsArgs returns the `pulumi deployment settings edit` arguments that
// apply a preset to stack, for the GitHub repository owner/name.
func SettingsArgs(stack, githubRepo, branch, folder string, preset SettingsPreset) ([]string, error) {
	if strings.Count(githubRepo, "/") != 1 {
		return nil, fmt.Errorf("--github-repo %q: use owner/name", githubRepo)
	}
	args := []string{"deployment", "settings", "edit", "--stack", stack, "--github-repo", githubRepo, "--branch", branch}
	if folder != "" {
		args = append(args, "--folder", folder)
	}
	switch preset {
	case PresetDev:
		return append(args, "--push-to-deploy=true", "--preview-prs=false"), nil
	case PresetProd:
		return append(args, "--push-to-deploy=false", "--preview-prs=true"), nil
	default:
		return nil, fmt.Errorf("--preset %q: use dev (deploy every push) or prod (preview pull requests, deploy by hand)", preset)
	}
}

// ApplySettings prints and runs a `pulumi deployment settings` command with cmd.
func ApplySettings(ctx context.Context, cmd auto.PulumiCommand, workDir string, args []string, out io.Writer) error {
	fmt.Fprintf(out, "$ pulumi %s\n", strings.Join(args, " "))
	_, stderr, _, err := cmd.Run(ctx, workDir, nil, []io.Writer{out}, []io.Writer{out}, nil, args...)
	if err != nil {
		return fmt.Errorf("pulumi %s: %w: %s", strings.Join(args[:3], " "), err, stderr)
	}
	return nil
}
