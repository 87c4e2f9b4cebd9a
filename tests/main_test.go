// End-to-end tests: the real Pulumi engine (the pinned CLI, through the
// Automation API, running program.Run inline) against a real API server
// (a throwaway local cluster with simulated nodes), with the Kubernetes
// provider plugin chosen by selectProvider.
package tests

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi-jobs/pulumi-jobs/deploy/driver"
	"github.com/pulumi-jobs/pulumi-jobs/tests/localcluster"
)

// env is what every end-to-end test shares: one cluster, one PULUMI_HOME
// and one provider binary. Each test has its own stack, state backend and
// namespace.
type env struct {
	root     string
	cluster  *localcluster.Cluster
	home     string
	provider string
	// providerKind says which provider runs: "real" or "stand-in".
	providerKind string
}

// shared is set by TestMain before any test runs and never changed after.
var shared *env

// skipReason is why the end-to-end tests cannot run here, if they cannot.
var skipReason string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin := os.Getenv("PULUMI_JOBS_BIN")
	if bin == "" {
		bin = filepath.Join(root, "bin")
	}
	kwokConfig := filepath.Join(root, ".state", "kwok.yaml")
	missing := localcluster.Missing(bin)
	if _, err := os.Stat(filepath.Join(bin, "pulumi")); err != nil {
		missing = append(missing, filepath.Join(bin, "pulumi"))
	}
	if _, err := os.Stat(kwokConfig); err != nil {
		missing = append(missing, kwokConfig)
	}
	if len(missing) > 0 {
		skipReason = fmt.Sprintf("the local toolchain is missing %v: run `make tools` (or `make test`, which builds it)", missing)
		if os.Getenv("PULUMI_JOBS_E2E") == "require" {
			// `make test` has just built the toolchain: a gap here is a bug.
			fmt.Fprintln(os.Stderr, "e2e:", skipReason)
			return 1
		}
		return m.Run()
	}

	if swept := localcluster.SweepOrphans(bin, os.TempDir(), "pulumi-jobs-e2e-"); len(swept) > 0 {
		fmt.Printf("e2e: deleted clusters left by earlier test processes that are gone: %v\n", swept)
	}
	tmp, err := os.MkdirTemp("", "pulumi-jobs-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e := &env{root: root, home: filepath.Join(tmp, "pulumi-home")}
	if e.provider, e.providerKind, err = selectProvider(ctx, root, tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	fmt.Printf("e2e: Kubernetes provider: %s (%s)\n", e.providerKind, e.provider)

	if kwokConfig, err = withContainerLogs(kwokConfig, tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	start := time.Now()
	e.cluster, err = localcluster.Start(ctx, bin, filepath.Join(tmp, "kwok"), kwokConfig, fmt.Sprintf("pulumi-jobs-e2e-%d", os.Getpid()), 3)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer e.cluster.Stop()
	fmt.Printf("e2e: local cluster ready in %s\n", time.Since(start).Round(100*time.Millisecond))

	// go test's -timeout panics without running deferred calls: stop the
	// cluster shortly before that deadline.
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil && d > time.Minute {
			watchdog := time.AfterFunc(d-30*time.Second, e.cluster.Stop)
			defer watchdog.Stop()
		}
	}

	// Stop the cluster on an interrupt too: deferred calls do not run then.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		e.cluster.Stop()
		os.Exit(1)
	}()

	shared = e
	return m.Run()
}

// selectProvider picks the Kubernetes provider plugin binary: the one named
// by PULUMI_JOBS_KUBERNETES_PROVIDER, else one in the project-local plugin
// cache (installed there by the driver), else the stand-in built from
// ./standin. Pulumi's automatic download is not tried: it cannot work
// offline and takes minutes to fail.
func selectProvider(ctx context.Context, root, tmp string) (path, kind string, err error) {
	if p := os.Getenv(driver.ProviderEnv); p != "" {
		return p, "real, from " + driver.ProviderEnv, nil
	}
	cached := filepath.Join(root, ".state", "pulumi-home", "plugins",
		"resource-kubernetes-v"+driver.KubernetesProviderVersion, "pulumi-resource-kubernetes")
	if _, err := os.Stat(cached); err == nil {
		return cached, "real, from the project plugin cache", nil
	}
	path = filepath.Join(tmp, "standin", "pulumi-resource-kubernetes")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", path, "./standin/cmd/pulumi-resource-kubernetes")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("building the stand-in provider: %w\n%s", err, out)
	}
	return path, "stand-in (no real provider was supplied)", nil
}

// setup returns the shared environment, or skips the test saying what is missing.
func setup(t testing.TB) *env {
	t.Helper()
	if shared == nil {
		t.Skip(skipReason)
	}
	t.Logf("Kubernetes provider: %s", shared.providerKind)
	return shared
}

// containerLog is what every container of the test cluster logs (kwok serves
// it from a file through the kubelet API it simulates).
var containerLog = []string{
	"migrating schema to version 42",
	"applying 0042_add_users.sql",
	`ERROR: relation "users" already exists`,
}

// withContainerLogs writes a copy of the kwok config that serves
// containerLog as the log of every container, and returns its path.
func withContainerLogs(kwokConfig, dir string) (string, error) {
	base, err := os.ReadFile(kwokConfig)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", kwokConfig, err)
	}
	logFile := filepath.Join(dir, "container.log")
	var cri strings.Builder
	for i, line := range containerLog {
		// The CRI log format the kubelet (and kwok) read.
		fmt.Fprintf(&cri, "2026-11-22T20:00:%02d.000000000Z stdout F %s\n", i, line)
	}
	if err := os.WriteFile(logFile, []byte(cri.String()), 0o644); err != nil {
		return "", err
	}
	doc := fmt.Sprintf("\n---\napiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterLogs\nmetadata:\n  name: every-container\nspec:\n  logs:\n  - logsFile: %s\n    follow: false\n", logFile)
	out := filepath.Join(dir, "kwok.yaml")
	return out, os.WriteFile(out, append(base, doc...), 0o644)
}
