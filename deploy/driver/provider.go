package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/blang/semver"

	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// KubernetesProviderVersion is the Kubernetes provider plugin version the
// program's pulumi-kubernetes SDK (v4.25.0) asks the engine for, and the
// release `make tools` builds into bin/ (tools/kubernetes).
const KubernetesProviderVersion = "4.25.0"

// ProviderEnv names the environment variable that points at a
// pulumi-resource-kubernetes binary to use.
const ProviderEnv = "PULUMI_JOBS_KUBERNETES_PROVIDER"

// ProviderBinary is the file name of the Kubernetes provider plugin.
const ProviderBinary = "pulumi-resource-kubernetes"

// ProviderSource says where the Kubernetes provider plugin came from.
type ProviderSource string

// Where a provider can come from, in the order they are tried.
const (
	// ProviderFromEnv is a binary named by PULUMI_JOBS_KUBERNETES_PROVIDER
	// (or Options.ProviderPath), installed into the project-local PULUMI_HOME.
	ProviderFromEnv ProviderSource = ProviderEnv
	// ProviderFromBin is the provider `make tools` built into <PulumiRoot>/bin,
	// installed into the project-local PULUMI_HOME.
	ProviderFromBin ProviderSource = "bin/ build"
	// ProviderFromCache is a plugin already in the project-local PULUMI_HOME.
	ProviderFromCache ProviderSource = "plugin cache"
	// ProviderFromDownload is Pulumi's automatic plugin download (online only).
	ProviderFromDownload ProviderSource = "download"
)

// ErrNoProvider means no Kubernetes provider plugin could be had; nothing
// was done to the cluster.
var ErrNoProvider = errors.New("no Kubernetes provider plugin")

// noProviderHelp explains how to supply the provider.
func noProviderHelp(home, bin string, cause error) error {
	return fmt.Errorf(`%w: the pulumi-resource-kubernetes plugin v%s is not in %s, not in %s/plugins and could not be downloaded (%v).
Nothing was deployed and the cluster was not touched. Supply the plugin in one of these ways:
  - build it: make tools   (builds v%s from the Go module proxy into bin/)
  - or point %s at a pulumi-resource-kubernetes v%s binary`,
		ErrNoProvider, KubernetesProviderVersion, bin, home, cause,
		KubernetesProviderVersion, ProviderEnv, KubernetesProviderVersion)
}

// ensureProvider makes the Kubernetes provider plugin v4.25.0 available in
// the workspace's PULUMI_HOME, trying an explicit binary, then the one in
// <PulumiRoot>/bin, then the plugin cache, then Pulumi's download. It never
// falls back to anything else, and never installs a binary under another
// release's version: a binary is installed only as KubernetesProviderVersion,
// the version it was built as.
func (d *Driver) ensureProvider(ctx context.Context, explicit string) (ProviderSource, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrNoProvider, ProviderEnv, explicit, err)
		}
		return ProviderFromEnv, d.installProvider(ctx, explicit)
	}
	built := filepath.Join(d.opts.PulumiRoot, "bin", ProviderBinary)
	if _, err := os.Stat(built); err == nil {
		return ProviderFromBin, d.installProvider(ctx, built)
	}
	want := semver.MustParse(KubernetesProviderVersion)
	plugins, err := d.ws.ListPlugins(ctx)
	if err != nil {
		return "", fmt.Errorf("listing installed plugins: %w", err)
	}
	for _, p := range plugins {
		if p.Name == "kubernetes" && string(p.Kind) == "resource" && p.Version != nil && p.Version.Equals(want) {
			return ProviderFromCache, nil
		}
	}
	if err := d.ws.InstallPlugin(ctx, "kubernetes", "v"+KubernetesProviderVersion); err != nil {
		return "", noProviderHelp(d.opts.Home, built, lastErrorLine(err))
	}
	return ProviderFromDownload, nil
}

// ComponentProviderBinary is the file name of our component provider
// plugin, pulumi-jobs, which also serves the DeleteHooks resource that a
// release of a chart with pre-delete or post-delete hooks registers.
const ComponentProviderBinary = "pulumi-resource-pulumi-jobs"

// ensureComponentProvider installs <PulumiRoot>/bin/pulumi-resource-pulumi-jobs
// into the workspace's PULUMI_HOME as plugin pulumi-jobs at the version the
// program asks for (vocab.Version), when `make tools` built it. Without it,
// a release of a chart with delete hooks fails at preview, naming the
// plugin; any other release does not need it.
func (d *Driver) ensureComponentProvider(ctx context.Context) error {
	built := filepath.Join(d.opts.PulumiRoot, "bin", ComponentProviderBinary)
	if _, err := os.Stat(built); err != nil {
		return nil
	}
	return d.installPlugin(ctx, "pulumi-jobs", vocab.Version, built)
}

// installProvider installs the binary at path as the kubernetes plugin
// v4.25.0 in PULUMI_HOME, unless the very same file (path, size, modification
// time) was installed last time: the binary is about 250 MB.
func (d *Driver) installProvider(ctx context.Context, path string) error {
	if err := d.installPlugin(ctx, "kubernetes", KubernetesProviderVersion, path); err != nil {
		return fmt.Errorf("installing the Kubernetes provider: %w", err)
	}
	return nil
}

// installPlugin installs the binary at path as resource plugin name at
// version in PULUMI_HOME, unless the very same file (path, size,
// modification time) was installed last time.
func (d *Driver) installPlugin(ctx context.Context, name, version, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil && name == "kubernetes" {
		return fmt.Errorf("%w: %v", ErrNoProvider, err)
	}
	if err != nil {
		return fmt.Errorf("plugin %s: %w", name, err)
	}
	stamp := fmt.Sprintf("%s %d %d v%s\n", abs, fi.Size(), fi.ModTime().UnixNano(), version)
	stampFile := filepath.Join(d.opts.Home, "pulumi-jobs-"+name+"-plugin.stamp")
	if name == "kubernetes" {
		stampFile = filepath.Join(d.opts.Home, "pulumi-jobs-kubernetes-provider.stamp") // its name since 0.2
	}
	installed := filepath.Join(d.opts.Home, "plugins", "resource-"+name+"-v"+version, "pulumi-resource-"+name)
	if old, err := os.ReadFile(stampFile); err == nil && string(old) == stamp {
		if _, err := os.Stat(installed); err == nil {
			return nil
		}
	}
	_, stderr, _, err := d.cmd.Run(ctx, d.opts.WorkDir, nil, nil, nil, d.envList(),
		"plugin", "install", "resource", name, "v"+version, "--file", abs, "--reinstall")
	if err != nil {
		return fmt.Errorf("installing plugin %s v%s from %s: %w: %s", name, version, abs, err, stderr)
	}
	if err := os.WriteFile(stampFile, []byte(stamp), 0o644); err != nil {
		return fmt.Errorf("recording the installed plugin %s: %w", name, err)
	}
	return nil
}

// lastErrorLine shortens a CLI failure to its last "error:" line.
func lastErrorLine(err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "error:") {
			return errors.New(strings.TrimSpace(strings.TrimPrefix(l, "error:")))
		}
	}
	return err
}
