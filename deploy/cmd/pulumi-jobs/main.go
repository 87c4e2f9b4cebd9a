// Command pulumi-jobs is the deploy driver: it runs the pulumi-jobs program
// inline through the Automation API with the pinned Pulumi CLI, a local state
// backend and a project-local PULUMI_HOME.
//
// Usage:
//
//	pulumi-jobs preview|up|refresh|destroy|outputs [--stack dev] [--kubeconfig FILE] [--dir REPO]
//	pulumi-jobs preview|up|destroy --remote --stack ORG/PROJECT/STACK --repo URL [--branch main]
//	pulumi-jobs deploy-settings --stack ORG/PROJECT/STACK --github-repo OWNER/NAME --preset dev|prod
//
// Before every operation it checks that the cluster answers and recovers what
// an interrupted run left behind; before preview and up also that the stack
// config has no unknown keys and that the cluster still has what the state
// records (refreshing first when it does not). That the release takes over
// nothing it did not create is the release's own check, made while it is
// planned (infra/release), on every path: this driver, a plain `pulumi up`,
// the component provider.
//
// The Kubernetes provider plugin (v4.25.0) comes from
// $PULUMI_JOBS_KUBERNETES_PROVIDER, the one `make tools` builds into bin/,
// the project-local plugin cache, or Pulumi's download, in that order. Local
// stack secrets are encrypted with $PULUMI_CONFIG_PASSPHRASE (default
// "pulumi-jobs-local").
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/pulumi-jobs/pulumi-jobs/deploy/driver"
	"github.com/pulumi-jobs/pulumi-jobs/infra/outputs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-jobs:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	verbs := []string{"preview", "up", "refresh", "destroy", "outputs", "deploy-settings"}
	if len(args) == 0 || !slices.Contains(verbs, args[0]) {
		return fmt.Errorf("usage: pulumi-jobs preview|up|refresh|destroy|outputs|deploy-settings [flags]")
	}
	verb := args[0]
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	var opts driver.Options
	fs.StringVar(&opts.Stack, "stack", "dev", "stack to operate on (organization/project/stack with --remote)")
	fs.StringVar(&opts.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default $KUBECONFIG)")
	fs.StringVar(&opts.WorkDir, "dir", "", "project directory holding Pulumi.yaml (default: the current directory)")
	remote := fs.Bool("remote", false, "run in Pulumi Deployments from --repo/--branch (needs PULUMI_ACCESS_TOKEN)")
	var r driver.Remote
	fs.StringVar(&r.RepoURL, "repo", "", "--remote: git URL of this repository")
	fs.StringVar(&r.Branch, "branch", "main", "--remote and deploy-settings: branch to release")
	fs.StringVar(&r.ProjectPath, "repo-dir", ".", "--remote: directory of Pulumi.yaml in the repository")
	fs.BoolVar(&r.SkipInstallDependencies, "skip-install-dependencies", false, "--remote: skip the executor's dependency installation")
	fs.Func("pre-run", "--remote: a command to run before the operation (repeatable)", func(v string) error {
		r.PreRunCommands = append(r.PreRunCommands, v)
		return nil
	})
	fs.Func("env", "--remote: a plaintext KEY=VALUE for the run (repeatable; never a secret)", func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		if r.Env == nil {
			r.Env = map[string]string{}
		}
		r.Env[k] = val
		return nil
	})
	githubRepo := fs.String("github-repo", "", "deploy-settings: GitHub repository owner/name")
	folder := fs.String("folder", "", "deploy-settings: directory of Pulumi.yaml in the repository")
	preset := fs.String("preset", "", "deploy-settings: dev (deploy every push) or prod (preview pull requests, deploy by hand)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	opts.Progress = out

	if verb == "deploy-settings" {
		settings, err := driver.SettingsArgs(opts.Stack, *githubRepo, r.Branch, *folder, driver.SettingsPreset(*preset))
		if err != nil {
			return err
		}
		root, err := os.Getwd()
		if err != nil {
			return err
		}
		cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, Version: semver.MustParse(driver.PulumiVersion)})
		if err != nil {
			return fmt.Errorf("using the Pulumi CLI in bin/ (run `make tools`): %w", err)
		}
		return driver.ApplySettings(ctx, cmd, root, settings, out)
	}
	if *remote {
		r.Stack, r.Progress = opts.Stack, out
		return driver.RunRemote(ctx, r, verb)
	}

	d, err := driver.Open(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Kubernetes provider: v%s from the %s\n", driver.KubernetesProviderVersion, d.Provider)
	if verb != "outputs" {
		pf, err := d.Preflight(ctx, verb)
		for _, line := range pf.Recovered {
			fmt.Fprintln(out, "recovered:", line)
		}
		if err != nil {
			return err
		}
		if len(pf.Lost) > 0 {
			fmt.Fprintf(out, "The cluster no longer has what the state of stack %q records (%s): it was deleted or recreated. Refreshing the state first, so the release is put back.\n",
				opts.Stack, strings.Join(pf.Lost, ", "))
		}
	}

	switch verb {
	case "preview":
		_, err = d.Preview(ctx)
		return err
	case "refresh":
		_, err = d.Refresh(ctx)
		return err
	case "destroy":
		_, err = d.Destroy(ctx)
		return err
	case "up":
		start := time.Now()
		res, err := d.Up(ctx)
		if err != nil {
			reportFailures(ctx, d, start, out)
			return err
		}
		// The up has read the outputs already: reading them again starts the CLI twice.
		return printOutputs(out, res.Outputs)
	}
	o, err := d.Outputs(ctx)
	if err != nil {
		return err
	}
	return printOutputs(out, o)
}

// reportFailures prints, after the engine's error, why the release's Jobs
// failed, read from the cluster.
func reportFailures(ctx context.Context, d *driver.Driver, since time.Time, out io.Writer) {
	ns, err := d.Namespace(ctx)
	if err == nil {
		var jobs []driver.FailedJob
		if jobs, err = d.FailedJobs(ctx, since); err == nil {
			driver.WriteFailureReport(out, ns, jobs)
			return
		}
	}
	fmt.Fprintln(out, "(no failure report:", err, ")")
}

// printOutputs prints the stack outputs and then the phase graph.
func printOutputs(w io.Writer, o auto.OutputMap) error {
	plain := map[string]any{}
	for k, v := range o {
		if k == outputs.Phases {
			continue
		}
		if v.Secret {
			plain[k] = "[secret]"
		} else {
			plain[k] = v.Value
		}
	}
	b, err := json.MarshalIndent(plain, "", "  ")
	if err != nil {
		return fmt.Errorf("printing outputs: %w", err)
	}
	fmt.Fprintf(w, "\nOutputs:\n%s\n", b)
	if phases, ok := o[outputs.Phases].Value.(string); ok {
		fmt.Fprintf(w, "\nPhases (Mermaid):\n%s", phases)
	} else if len(o) == 0 {
		return errors.New("the stack has no outputs; run `make up` first")
	}
	return nil
}
