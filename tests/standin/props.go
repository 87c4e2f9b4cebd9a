package standin

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Annotations the real provider reads or writes
// (provider/pkg/metadata/annotations.go).
const (
	annotationAutonamed      = "pulumi.com/autonamed"
	annotationReplaceUnready = "pulumi.com/replaceUnready"
)

func unmarshal(s *structpb.Struct, label string) (resource.PropertyMap, error) {
	pm, err := plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true, SkipNulls: true,
	})
	if err != nil {
		return nil, fmt.Errorf("unmarshalling %s: %w", label, err)
	}
	return pm, nil
}

func marshal(pm resource.PropertyMap, label string) (*structpb.Struct, error) {
	s, err := plugin.MarshalProperties(pm, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true, SkipNulls: true,
	})
	if err != nil {
		return nil, fmt.Errorf("marshalling %s: %w", label, err)
	}
	return s, nil
}

// plain converts a property value to plain JSON-like Go values: secrets are
// unwrapped and unknowns become nil.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsComputed(), v.IsOutput() && !v.OutputValue().Known, v.IsNull():
		return nil
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsArray():
		out := make([]any, 0, len(v.ArrayValue()))
		for _, e := range v.ArrayValue() {
			out = append(out, plain(e))
		}
		return out
	case v.IsObject():
		return plainMap(v.ObjectValue())
	case v.IsNumber():
		n := v.NumberValue()
		if n == float64(int64(n)) {
			return int64(n)
		}
		return n
	default:
		return v.V
	}
}

func plainMap(pm resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(pm))
	for k, v := range pm {
		if p := plain(v); p != nil {
			out[string(k)] = p
		}
	}
	return out
}

func toObject(pm resource.PropertyMap) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: plainMap(pm)}
}

// liveOutputs turns a live object into resource outputs. A Secret's data is
// marked secret, as the real provider does, so it is encrypted in state.
func liveOutputs(obj *unstructured.Unstructured) resource.PropertyMap {
	pm := resource.NewPropertyMapFromMap(obj.Object)
	if obj.GetKind() == "Secret" {
		for _, k := range []resource.PropertyKey{"data", "stringData"} {
			if v, ok := pm[k]; ok {
				pm[k] = resource.MakeSecret(v)
			}
		}
	}
	return pm
}

// metadataString returns metadata.<field> of a property map, or "".
func metadataString(pm resource.PropertyMap, field string) string {
	meta, ok := pm["metadata"]
	if !ok || !meta.IsObject() {
		return ""
	}
	v, ok := meta.ObjectValue()[resource.PropertyKey(field)]
	if ok && v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !ok || !v.IsString() {
		return ""
	}
	return v.StringValue()
}

// annotation returns metadata.annotations[key] of a property map, or "".
func annotation(pm resource.PropertyMap, key string) string {
	meta, ok := pm["metadata"]
	if !ok || !meta.IsObject() {
		return ""
	}
	ann, ok := meta.ObjectValue()["annotations"]
	if !ok || !ann.IsObject() {
		return ""
	}
	v, ok := ann.ObjectValue()[resource.PropertyKey(key)]
	if !ok || !v.IsString() {
		return ""
	}
	return v.StringValue()
}
