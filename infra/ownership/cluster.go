package ownership

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// ReadTimeout bounds each request of a lookup: a cluster that does not
// answer fails the check (and so the preview) instead of hanging it.
const ReadTimeout = 10 * time.Second

// Connect returns the Cluster that kubeconfig and kubeContext name, found as
// the Kubernetes provider finds its own: kubeconfig (its contents or a path)
// when not empty, else $KUBECONFIG, else ~/.kube/config, else the pod's
// service account; kubeContext, when not empty, replaces the current
// context. It returns ErrNoCluster when none of these is configured.
//
// Only metadata is read: the objects' annotations and labels.
func Connect(kubeconfig, kubeContext string) (Cluster, error) {
	overrides := &clientcmd.ConfigOverrides{CurrentContext: kubeContext}
	var loader clientcmd.ClientConfig
	switch {
	case kubeconfig != "" && isContents(kubeconfig):
		cfg, err := clientcmd.Load([]byte(kubeconfig))
		if err != nil {
			return nil, fmt.Errorf("reading the kubeconfig: %w", err)
		}
		loader = clientcmd.NewNonInteractiveClientConfig(*cfg, kubeContext, overrides, nil)
	case kubeconfig != "":
		loader = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}, overrides)
	default:
		loader = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), overrides)
	}
	rc, err := loader.ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, ErrNoCluster
	}
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	return ForConfig(rc)
}

// isContents tells a kubeconfig's contents from a path, as the provider does.
func isContents(kubeconfig string) bool {
	return strings.Contains(kubeconfig, "\n") || strings.HasPrefix(strings.TrimSpace(kubeconfig), "{") ||
		strings.HasPrefix(strings.TrimSpace(kubeconfig), "apiVersion")
}

// ForConfig returns the Cluster of a client configuration.
func ForConfig(rc *rest.Config) (Cluster, error) {
	rc = rest.CopyConfig(rc)
	rc.Timeout = ReadTimeout
	// client-go's default (5 a second after a burst of 10) made the 11th
	// lookup of a release and every one after it wait 200 ms, before
	// anything was registered.
	rc.QPS, rc.Burst = 50, 100
	disc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("creating a discovery client: %w", err)
	}
	md, err := metadata.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("creating a metadata client: %w", err)
	}
	return &liveCluster{
		config: rc,
		host:   rc.Host,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
		md:     md,
	}, nil
}

// liveCluster reads object metadata from an API server.
type liveCluster struct {
	config *rest.Config
	host   string
	mapper meta.RESTMapper
	md     metadata.Interface
}

// Lookup returns the metadata of the object ref names, or nil when the
// cluster has no such object, or does not serve its type at all (a custom
// resource whose definition the release has yet to create).
func (c *liveCluster) Lookup(ctx context.Context, ref Ref) (*Live, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("apiVersion %q: %w", ref.APIVersion, err)
	}
	mapping, err := c.mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: ref.Kind}, gv.Version)
	if meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the cluster at %s does not answer: %w", c.host, err)
	}
	var obj *metav1.PartialObjectMetadata
	if mapping.Scope.Name() == meta.RESTScopeNameRoot {
		obj, err = c.md.Resource(mapping.Resource).Get(ctx, ref.Name, metav1.GetOptions{})
	} else {
		obj, err = c.md.Resource(mapping.Resource).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading it from the cluster at %s: %w", c.host, err)
	}
	return &Live{Annotations: obj.Annotations, Labels: obj.Labels}, nil
}

// RESTConfig is the cluster's client configuration.
func (c *liveCluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }
