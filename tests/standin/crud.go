package standin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil/rpcerror"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	pbempty "google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/client-go/dynamic"
)

// fieldManager is the field manager the real provider writes with.
const fieldManager = "pulumi-kubernetes"

// defaultTimeout is the await and delete timeout when the engine gives none
// (provider/pkg/await/await.go: 10 minutes).
const defaultTimeout = 10 * time.Minute

// opContext derives an operation's context from the request's and the
// provider's, so that Cancel ends it too.
func (p *Provider) opContext(ctx context.Context, seconds float64) (context.Context, context.CancelFunc) {
	timeout := defaultTimeout
	if seconds > 0 {
		timeout = time.Duration(seconds * float64(time.Second))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	stop := context.AfterFunc(p.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// resourceFor returns the dynamic client of obj's kind and namespace.
func (c *clients) resourceFor(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		c.mapper.Reset()
		if m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, fmt.Errorf("finding the API of %s: %w", gvk, err)
		}
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			ns = "default"
			obj.SetNamespace(ns)
		}
		return c.dynamic.Resource(m.Resource).Namespace(ns), nil
	}
	return c.dynamic.Resource(m.Resource), nil
}

// objectID is the real provider's resource ID: namespace/name, or name.
func objectID(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}

// initFailed reports an object that exists but did not become ready, as the
// real provider does (provider/pkg/provider/provider.go Create/Update,
// partialError): the engine records it with its init errors, and the next
// update re-awaits it, or replaces it when it is an unready Job annotated
// replaceUnready.
func initFailed(verb string, live *unstructured.Unstructured, inputs resource.PropertyMap, awaitErr error) error {
	props, err := marshal(liveOutputs(live), "live state")
	if err != nil {
		props = empty()
	}
	in, err := marshal(inputs, "inputs")
	if err != nil {
		in = empty()
	}
	msg := fmt.Sprintf("resource %s was successfully %s, but the Kubernetes API server reported that it failed to fully initialize or become live: %v",
		objectID(live), verb, awaitErr)
	return rpcerror.WithDetails(rpcerror.New(codes.Unknown, msg), &pulumirpc.ErrorResourceInitFailed{
		Id: objectID(live), Properties: props, Inputs: in, Reasons: []string{awaitErr.Error()},
	})
}

// target decodes a request's properties into the object they describe and
// the client of its kind and namespace.
func (p *Provider) target(raw *structpb.Struct, label string) (resource.PropertyMap, *unstructured.Unstructured, dynamic.ResourceInterface, error) {
	props, err := unmarshal(raw, label)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := p.client()
	if err != nil {
		return nil, nil, nil, err
	}
	obj := toObject(props)
	ri, err := c.resourceFor(obj)
	if err != nil {
		return nil, nil, nil, err
	}
	return props, obj, ri, nil
}

// awaitOutputs awaits a created or updated object and returns its live
// state as outputs, or the partial failure the engine records.
func (p *Provider) awaitOutputs(ctx context.Context, verb, urn string, ri dynamic.ResourceInterface, obj *unstructured.Unstructured, inputs resource.PropertyMap) (*structpb.Struct, error) {
	live, err := p.await(ctx, resource.URN(urn), ri, obj)
	if err != nil {
		return nil, initFailed(verb, live, inputs, err)
	}
	return marshal(liveOutputs(live), "live state")
}

// Create creates the object with a client-side create (not an upsert: the
// real provider stopped upserting in v4.29.0, provider/pkg/await/await.go
// Creation) and awaits it. In a preview it only echoes the inputs.
func (p *Provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if req.GetPreview() {
		return &pulumirpc.CreateResponse{Properties: req.GetProperties()}, nil
	}
	ctx, cancel := p.opContext(ctx, req.GetTimeout())
	defer cancel()
	inputs, obj, ri, err := p.target(req.GetProperties(), "inputs")
	if err != nil {
		return nil, err
	}
	created, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: fieldManager})
	if err != nil {
		return nil, fmt.Errorf("creating %s %s: %w", obj.GetKind(), objectID(obj), err)
	}
	props, err := p.awaitOutputs(ctx, "created", req.GetUrn(), ri, created, inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: objectID(created), Properties: props}, nil
}

// Read returns the live object, or no ID when it is gone
// (provider/pkg/provider/provider.go Read: a 404 means deleted).
func (p *Provider) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	state, err := unmarshal(req.GetProperties(), "state")
	if err != nil {
		return nil, err
	}
	c, err := p.client()
	if err != nil {
		return nil, err
	}
	obj := toObject(state)
	if ns, name, ok := strings.Cut(req.GetId(), "/"); ok {
		obj.SetNamespace(ns)
		obj.SetName(name)
	} else {
		obj.SetName(req.GetId())
	}
	ri, err := c.resourceFor(obj)
	if err != nil {
		return nil, err
	}
	live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if errors.IsNotFound(err) {
		return &pulumirpc.ReadResponse{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", obj.GetKind(), req.GetId(), err)
	}
	props, err := marshal(liveOutputs(live), "live state")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: objectID(live), Properties: props, Inputs: req.GetInputs()}, nil
}

// Update applies the change as a three-way JSON merge patch of the last
// applied inputs, the new inputs and the live object (the real provider's
// client-side apply path, provider/pkg/await/await.go Update) and awaits the
// object again.
func (p *Provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if req.GetPreview() {
		return &pulumirpc.UpdateResponse{Properties: req.GetNews()}, nil
	}
	oldRaw := req.GetOldInputs()
	if oldRaw == nil {
		oldRaw = req.GetOlds()
	}
	olds, err := unmarshal(oldRaw, "old inputs")
	if err != nil {
		return nil, err
	}
	ctx, cancel := p.opContext(ctx, req.GetTimeout())
	defer cancel()
	news, obj, ri, err := p.target(req.GetNews(), "inputs")
	if err != nil {
		return nil, err
	}
	current, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("update of %s failed: unable to get cluster state: %w", objectID(obj), err)
	}
	original, err := json.Marshal(plainMap(olds))
	if err != nil {
		return nil, err
	}
	modified, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	live, err := json.Marshal(current.Object)
	if err != nil {
		return nil, err
	}
	patch, err := jsonmergepatch.CreateThreeWayJSONMergePatch(original, modified, live)
	if err != nil {
		return nil, fmt.Errorf("computing the patch of %s: %w", objectID(obj), err)
	}
	updated, err := ri.Patch(ctx, obj.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
	if err != nil {
		return nil, fmt.Errorf("updating %s %s: %w", obj.GetKind(), objectID(obj), err)
	}
	props, err := p.awaitOutputs(ctx, "updated", req.GetUrn(), ri, updated, news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

// Delete deletes with foreground propagation (the real provider's default,
// provider/pkg/metadata/overrides.go DeletionPropagation) and waits until the
// object is gone (provider/pkg/await/await.go Deletion); an object already
// gone counts as deleted.
func (p *Provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*pbempty.Empty, error) {
	ctx, cancel := p.opContext(ctx, req.GetTimeout())
	defer cancel()
	_, obj, ri, err := p.target(req.GetProperties(), "state")
	if err != nil {
		return nil, err
	}
	foreground := metav1.DeletePropagationForeground
	err = ri.Delete(ctx, obj.GetName(), metav1.DeleteOptions{PropagationPolicy: &foreground})
	if errors.IsNotFound(err) {
		return &pbempty.Empty{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("deleting %s %s: %w", obj.GetKind(), objectID(obj), err)
	}
	for {
		_, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if errors.IsNotFound(err) {
			return &pbempty.Empty{}, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("timed out waiting for %s %s to be deleted: %w", obj.GetKind(), objectID(obj), ctxErr)
		}
		p.status(ctx, resource.URN(req.GetUrn()), fmt.Sprintf("Waiting for %s %q to be deleted", obj.GetKind(), objectID(obj)))
		sleep(ctx, pollInterval)
	}
}
