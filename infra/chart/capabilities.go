package chart

import (
	"cmp"
	"fmt"
	"slices"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// CapabilitiesSource says where a chart's .Capabilities came from ([Rendered.Capabilities]).
type CapabilitiesSource string

const (
	// CapabilitiesCluster: .Capabilities are the cluster's, read from its discovery, as
	// `helm install` reads them: its version (unless [Args.KubeVersion] is set) and the API
	// versions it serves, on top of Helm's client defaults.
	CapabilitiesCluster CapabilitiesSource = "cluster"
	// CapabilitiesClientDefaults: no cluster was given, so .Capabilities are Helm's client
	// defaults, as `helm template` renders: the API versions built into Helm and
	// [Args.KubeVersion] or [DefaultKubeVersion]; a template that tests an API version the
	// cluster serves (a ServiceMonitor's) may render differently on the cluster.
	CapabilitiesClientDefaults CapabilitiesSource = "client defaults"
)

// discover reads what `helm install` puts into .Capabilities from the cluster's discovery: the
// Kubernetes version (/version), as Helm takes it, and the API versions the cluster serves,
// sorted, as Helm's [action.GetVersionSet] lists them (each group/version and
// group/version/Kind). Unlike Helm, which only logs it, an API group whose resources the
// cluster cannot list is an error: the chart would render as if the cluster lacked it.
func discover(config *rest.Config) (*chartutil.KubeVersion, chartutil.VersionSet, error) {
	client, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, nil, fmt.Errorf("discovery client: %w", err)
	}
	info, err := client.ServerVersion()
	if err != nil {
		return nil, nil, fmt.Errorf("server version: %w", err)
	}
	parsed, err := chartutil.ParseKubeVersion(info.GitVersion)
	if err != nil {
		return nil, nil, fmt.Errorf("server version: /version says gitVersion %q: %w", info.GitVersion, err)
	}
	// As Helm's getCapabilities: the cluster's gitVersion, major and minor as it says them
	// (a minor may read "35+"); the parsed ones only where it says none.
	kv := &chartutil.KubeVersion{
		Version: info.GitVersion,
		Major:   cmp.Or(info.Major, parsed.Major),
		Minor:   cmp.Or(info.Minor, parsed.Minor),
	}

	strict := &strictResources{ServerResourcesInterface: client}
	versions, err := action.GetVersionSet(strict)
	if err == nil {
		err = strict.failed
	}
	if err != nil {
		return nil, nil, fmt.Errorf("API versions: %w", err)
	}
	versions = slices.Clone(versions) // it may be Helm's DefaultVersionSet
	slices.Sort(versions)
	return kv, versions, nil
}

// strictResources remembers the error of the API groups whose resources the cluster could not
// list, which [action.GetVersionSet] drops.
type strictResources struct {
	discovery.ServerResourcesInterface
	failed error
}

// ServerGroupsAndResources lists the cluster's groups and resources and remembers a partial
// failure.
func (s *strictResources) ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	groups, resources, err := s.ServerResourcesInterface.ServerGroupsAndResources()
	if discovery.IsGroupDiscoveryFailedError(err) {
		s.failed = err
	}
	return groups, resources, err
}
