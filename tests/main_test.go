// End-to-end tests: the real Pulumi engine (the pinned CLI, through the
// Automation API, running program.Run inline) against a real API server
// (a throwaway local cluster with simulated nodes), with the real Kubernetes
// provider plugin, pulumi-kubernetes v4.25.0, chosen by selectProvider.
package tests

import (
	"context"
	"debug/buildinfo"
	"flag"
	"fmt"
	"os"
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
	root string
	// bin holds the toolchain, our component provider and the YAML host.
	bin      string
	cluster  *localcluster.Cluster
	home     string
	provider string
	// providerDesc says which provider runs: release, module version, origin.
	providerDesc string
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
	for _, f := range []string{"pulumi", driver.ProviderBinary, "pulumi-language-yaml", "pulumi-resource-pulumi-jobs"} {
		if _, err := os.Stat(filepath.Join(bin, f)); err != nil && !(f == driver.ProviderBinary && os.Getenv(driver.ProviderEnv) != "") {
			missing = append(missing, filepath.Join(bin, f))
		}
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
	e := &env{root: root, bin: bin, home: filepath.Join(tmp, "pulumi-home")}
	if e.provider, e.providerDesc, err = selectProvider(bin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	fmt.Printf("e2e: Kubernetes provider: %s, %s\n", e.providerDesc, e.provider)

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
// by PULUMI_JOBS_KUBERNETES_PROVIDER, else the real provider `make tools`
// built into bin/. Pulumi's automatic download is not tried: it cannot work
// offline and takes minutes to fail. It returns the binary and what it is,
// read from the binary's own build information.
func selectProvider(bin string) (path, desc string, err error) {
	path, from := os.Getenv(driver.ProviderEnv), driver.ProviderEnv
	if path == "" {
		path, from = filepath.Join(bin, driver.ProviderBinary), "bin/"
	}
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("reading the build information of the Kubernetes provider %s: %w", path, err)
	}
	module, stamp := "", ""
	for _, d := range info.Deps {
		if d.Path == "github.com/pulumi/pulumi-kubernetes/provider/v4" {
			module = d.Version
		}
	}
	for _, s := range info.Settings {
		if s.Key == "-ldflags" {
			if _, v, ok := strings.Cut(s.Value, "pkg/version.Version="); ok {
				stamp, _, _ = strings.Cut(v, " ")
				stamp = strings.Trim(stamp, `'"`)
			}
		}
	}
	if module == "" {
		return "", "", fmt.Errorf("%s is not built from github.com/pulumi/pulumi-kubernetes/provider/v4", path)
	}
	if stamp != driver.KubernetesProviderVersion {
		return "", "", fmt.Errorf("%s is stamped version %q, the program's SDK asks for %s", path, stamp, driver.KubernetesProviderVersion)
	}
	return path, fmt.Sprintf("pulumi-kubernetes v%s (module %s, from %s)", stamp, module, from), nil
}

// setup returns the shared environment, or skips the test saying what is missing.
func setup(t testing.TB) *env {
	t.Helper()
	if shared == nil {
		t.Skip(skipReason)
	}
	t.Logf("Kubernetes provider: %s", shared.providerDesc)
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
