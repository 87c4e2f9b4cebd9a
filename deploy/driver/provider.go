package driver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/blang/semver"
)

// KubernetesProviderVersion is the Kubernetes provider plugin version the
// pulumi-kubernetes SDK v4.33.0 asks the engine for.
const KubernetesProviderVersion = "4.33.0"

// ProviderEnv names the environment variable that points at a
// pulumi-resource-kubernetes binary to use.
const ProviderEnv = "PULUMI_JOBS_KUBERNETES_PROVIDER"

// ProviderSource says where the Kubernetes provider plugin came from.
type ProviderSource string

// Where a provider can come from, in the order they are tried.
const (
	// ProviderFromFile is a binary named by PULUMI_JOBS_KUBERNETES_PROVIDER
	// (or Options.ProviderPath), installed into the project-local PULUMI_HOME.
	ProviderFromFile ProviderSource = "file"
	// ProviderFromCache is a plugin already in the project-local PULUMI_HOME.
	ProviderFromCache ProviderSource = "plugin cache"
	// ProviderFromDownload is Pulumi's automatic plugin download (online only).
	ProviderFromDownload ProviderSource = "download"
)

// ErrNoProvider means no Kubernetes provider plugin could be had; nothing
// was done to the cluster.
var ErrNoProvider = errors.New("no Kubernetes provider plugin")

// noProviderHelp explains how to supply the provider.
func noProviderHelp(home string, cause error) error {
	return fmt.Errorf(`%w: the pulumi-resource-kubernetes plugin v%s is not in %s/plugins and could not be downloaded (%v).
Nothing was deployed and the cluster was not touched. Supply the plugin in one of these ways:
  - point %s at a pulumi-resource-kubernetes v%s binary, e.g.
      %s=/path/to/pulumi-resource-kubernetes make up
  - or install it into the project-local plugin cache once:
      PULUMI_HOME=%s bin/pulumi plugin install resource kubernetes v%s --file /path/to/pulumi-resource-kubernetes
  - or run online, where Pulumi downloads it automatically`,
		ErrNoProvider, KubernetesProviderVersion, home, cause,
		ProviderEnv, KubernetesProviderVersion, ProviderEnv, home, KubernetesProviderVersion)
}

// ensureProvider makes the Kubernetes provider plugin available in the
// workspace's PULUMI_HOME, trying a given binary, then the plugin cache, then
// Pulumi's download. It never falls back to anything else.
func (d *Driver) ensureProvider(ctx context.Context, path string) (ProviderSource, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrNoProvider, ProviderEnv, path, err)
		}
		_, stderr, _, err := d.cmd.Run(ctx, d.opts.WorkDir, nil, nil, nil, d.envList(),
			"plugin", "install", "resource", "kubernetes", "v"+KubernetesProviderVersion, "--file", path, "--reinstall")
		if err != nil {
			return "", fmt.Errorf("installing the Kubernetes provider from %s: %w: %s", path, err, stderr)
		}
		return ProviderFromFile, nil
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
		return "", noProviderHelp(d.opts.Home, lastErrorLine(err))
	}
	return ProviderFromDownload, nil
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
