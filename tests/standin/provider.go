// Package standin is a stand-in for the Pulumi Kubernetes provider plugin
// (pulumi-resource-kubernetes), for offline end-to-end tests only. It manages
// objects on a real API server with client-go and mirrors the real provider's
// rules that pulumi-jobs relies on: auto-naming in Check, the forceNew table
// and replaceUnready in Diff, create-before-delete for auto-named objects,
// the Job and Deployment awaiters, the engine's timeouts, and foreground,
// awaited deletes. Each rule names the upstream file it mirrors. It
// implements nothing else (no schema, no invokes, no Helm).
package standin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	pbempty "google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// Version is the provider version the stand-in answers to: the one the
// pulumi-kubernetes SDK v4.33.0 asks the engine for.
const Version = "4.33.0"

// Name is the plugin's package name.
const Name = "kubernetes"

// Provider is the stand-in resource provider.
type Provider struct {
	pulumirpc.UnimplementedResourceProviderServer

	host *provider.HostClient

	// ctx is cancelled by Cancel, ending every await at once.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	clients *clients
}

type clients struct {
	dynamic dynamic.Interface
	typed   kubernetes.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
}

// New returns a provider that logs to the engine through host.
func New(host *provider.HostClient) *Provider {
	ctx, cancel := context.WithCancel(context.Background())
	return &Provider{host: host, ctx: ctx, cancel: cancel}
}

// GetPluginInfo returns the version the engine asked for.
func (p *Provider) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

// Attach is not supported: the stand-in is always started by the engine.
func (p *Provider) Attach(context.Context, *pulumirpc.PluginAttach) (*pbempty.Empty, error) {
	return nil, errors.New("the stand-in provider cannot be attached")
}

// CheckConfig accepts the provider config as given.
func (p *Provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// DiffConfig reports no change: the stand-in has one cluster.
func (p *Provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

// Configure connects to the cluster named by the provider config
// (kubernetes:kubeconfig, kubernetes:context) or else by KUBECONFIG, as the
// real provider does (provider/pkg/provider/provider.go Configure).
func (p *Provider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	args, err := unmarshal(req.GetArgs(), "config")
	if err != nil {
		return nil, err
	}
	str := func(key string) string {
		if v, ok := args[resource.PropertyKey(key)]; ok && v.IsString() {
			return v.StringValue()
		}
		return req.GetVariables()["kubernetes:config:"+key]
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	overrides := &clientcmd.ConfigOverrides{CurrentContext: str("context")}
	var cfg *rest.Config
	if kc := str("kubeconfig"); kc != "" {
		if _, statErr := os.Stat(kc); statErr == nil {
			rules.ExplicitPath = kc
		} else {
			cc, err := clientcmd.NewClientConfigFromBytes([]byte(kc))
			if err != nil {
				return nil, fmt.Errorf("parsing kubernetes:kubeconfig: %w", err)
			}
			if cfg, err = cc.ClientConfig(); err != nil {
				return nil, fmt.Errorf("loading kubernetes:kubeconfig: %w", err)
			}
		}
	}
	if cfg == nil {
		if cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig(); err != nil {
			return nil, fmt.Errorf("loading the kubeconfig: %w", err)
		}
	}
	cfg.QPS, cfg.Burst = 50, 100
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a dynamic client: %w", err)
	}
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a discovery client: %w", err)
	}
	p.mu.Lock()
	p.clients = &clients{dynamic: dyn, typed: typed, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))}
	p.mu.Unlock()
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (p *Provider) client() (*clients, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clients == nil {
		return nil, errors.New("the provider is not configured")
	}
	return p.clients, nil
}

// Cancel ends every operation in flight; the engine calls it on interrupt.
func (p *Provider) Cancel(context.Context, *pbempty.Empty) (*pbempty.Empty, error) {
	p.cancel()
	return &pbempty.Empty{}, nil
}

// GetSchema returns an empty schema; the program uses the published SDK.
func (p *Provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: "{}"}, nil
}

// Check mirrors provider/pkg/provider/provider.go Check with
// provider/pkg/metadata/naming.go AssignNameIfAutonamable: an object without
// metadata.name keeps the name it was given before, if that was generated,
// or else gets <logical name>-<8 hex> and the pulumi.com/autonamed
// annotation. The engine calls Check again without olds for a replacement,
// so a replacement gets a new name.
func (p *Provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := unmarshal(req.GetNews(), "inputs")
	if err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds(), "old inputs")
	if err != nil {
		return nil, err
	}
	meta := resource.PropertyMap{}
	if v, ok := news["metadata"]; ok && v.IsObject() {
		meta = v.ObjectValue().Copy()
	}
	if _, named := meta["name"]; !named {
		name := ""
		if annotation(olds, annotationAutonamed) == "true" {
			name = metadataString(olds, "name")
		}
		if name == "" {
			if opts := req.GetAutonaming(); opts != nil && opts.GetProposedName() != "" &&
				opts.GetMode() != pulumirpc.CheckRequest_AutonamingOptions_DISABLE {
				name = opts.GetProposedName()
			} else if name, err = resource.NewUniqueName(req.GetRandomSeed(), resource.URN(req.GetUrn()).Name()+"-", 8, 0,
				[]rune("0123456789abcdef")); err != nil {
				return nil, fmt.Errorf("generating a name: %w", err)
			}
		}
		meta["name"] = resource.NewProperty(name)
		annotations := resource.PropertyMap{}
		if v, ok := meta["annotations"]; ok && v.IsObject() {
			annotations = v.ObjectValue().Copy()
		}
		annotations[annotationAutonamed] = resource.NewProperty("true")
		meta["annotations"] = resource.NewProperty(annotations)
		news["metadata"] = resource.NewProperty(meta)
	}
	inputs, err := marshal(news, "checked inputs")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs}, nil
}

// Serve runs the stand-in as a plugin process.
func Serve() error {
	return provider.Main(Name, func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return New(host), nil
	})
}

// empty is an empty property struct.
func empty() *structpb.Struct { return &structpb.Struct{Fields: map[string]*structpb.Value{}} }
