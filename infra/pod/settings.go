package pod

import (
	"reflect"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
)

// Settings is the pod block: what a real cluster asks of a pod besides an
// image and a command — a service account, pull secrets, placement,
// volumes, secrets by reference, security-context fields and native
// sidecars. A release has one for every pod it builds (its `pod`), and the
// app and every job may have their own (`app.pod`, `preDeploy[i].pod`),
// merged over it (Merge). The Kubernetes parts are pulumi-kubernetes'
// own types, which the package schema refers to, so every language gets
// Kubernetes' Toleration, Affinity, Volume, … with their docs.
//
// Values are plain, not Inputs: they are checked, merged and evaluated
// against Pod Security "restricted" at preview, before anything is
// registered, which needs them known. A Secret or ConfigMap is referred to
// by name.
type Settings struct {
	// ServiceAccountName is the pod's service account (workload identity:
	// IRSA, GKE Workload Identity, Azure Workload Identity).
	ServiceAccountName string `pulumi:"serviceAccountName,optional"`
	// AutomountServiceAccountToken mounts the service account's API token
	// into the pod; false by default.
	AutomountServiceAccountToken *bool `pulumi:"automountServiceAccountToken,optional"`
	// ImagePullSecrets are the Secrets the kubelet pulls images with.
	ImagePullSecrets []corev1.LocalObjectReference `pulumi:"imagePullSecrets,optional" provider:"type=kubernetes@4.25.0:core/v1:LocalObjectReference"`
	// NodeSelector are the node labels the pod must be scheduled on.
	NodeSelector map[string]string `pulumi:"nodeSelector,optional"`
	// Tolerations are the taints the pod tolerates.
	Tolerations []corev1.Toleration `pulumi:"tolerations,optional" provider:"type=kubernetes@4.25.0:core/v1:Toleration"`
	// Affinity are the pod's scheduling constraints.
	Affinity *corev1.Affinity `pulumi:"affinity,optional" provider:"type=kubernetes@4.25.0:core/v1:Affinity"`
	// PriorityClassName is the pod's PriorityClass.
	PriorityClassName string `pulumi:"priorityClassName,optional"`
	// Labels are added to the pod template's labels.
	Labels map[string]string `pulumi:"labels,optional"`
	// Annotations are added to the pod template's annotations.
	Annotations map[string]string `pulumi:"annotations,optional"`
	// Volumes are the pod's volumes, besides its scratch volume tmp.
	Volumes []corev1.Volume `pulumi:"volumes,optional" provider:"type=kubernetes@4.25.0:core/v1:Volume"`
	// PodSecurityContext is merged over the pod's restricted security context.
	PodSecurityContext *corev1.PodSecurityContext `pulumi:"podSecurityContext,optional" provider:"type=kubernetes@4.25.0:core/v1:PodSecurityContext"`
	// Env are environment variables of the main container, with valueFrom.
	Env []corev1.EnvVar `pulumi:"env,optional" provider:"type=kubernetes@4.25.0:core/v1:EnvVar"`
	// EnvFrom are Secrets and ConfigMaps whose keys become the main
	// container's environment.
	EnvFrom []corev1.EnvFromSource `pulumi:"envFrom,optional" provider:"type=kubernetes@4.25.0:core/v1:EnvFromSource"`
	// VolumeMounts are mounts of the main container, besides /tmp.
	VolumeMounts []corev1.VolumeMount `pulumi:"volumeMounts,optional" provider:"type=kubernetes@4.25.0:core/v1:VolumeMount"`
	// ContainerSecurityContext is merged over the main container's
	// restricted security context.
	ContainerSecurityContext *corev1.SecurityContext `pulumi:"containerSecurityContext,optional" provider:"type=kubernetes@4.25.0:core/v1:SecurityContext"`
	// Sidecars are native sidecars: init containers with restartPolicy
	// Always, started before the main container and stopped after it, so a
	// Job completes when its main container exits.
	Sidecars []corev1.Container `pulumi:"sidecars,optional" provider:"type=kubernetes@4.25.0:core/v1:Container"`
}

// mergeKeys are the fields that name the items of a list, as Kubernetes'
// strategic merge patch names them (patchMergeKey): lists of these merge
// item by item; every other list is replaced whole.
func mergeKeys() map[reflect.Type]string {
	return map[reflect.Type]string{
		reflect.TypeFor[corev1.EnvVar]():               "Name",
		reflect.TypeFor[corev1.Volume]():               "Name",
		reflect.TypeFor[corev1.VolumeMount]():          "MountPath",
		reflect.TypeFor[corev1.LocalObjectReference](): "Name",
		reflect.TypeFor[corev1.Container]():            "Name",
	}
}

// Merge returns over merged over base, the rule of every pod block:
//
//   - a value over sets replaces base's (strings, numbers, booleans, and
//     lists without names: tolerations, envFrom, a container's command);
//   - maps (nodeSelector, labels, annotations) merge key by key, over's
//     value winning;
//   - objects (affinity, podSecurityContext, containerSecurityContext and
//     everything inside them) merge field by field, by these same rules;
//   - lists of named items merge by name — env, volumes, imagePullSecrets
//     and sidecars by name, volumeMounts by mountPath: an item of over
//     replaces base's item of that name whole, in its place; over's other
//     items follow base's, in order.
//
// A value left out (an empty string, a nil list or map) keeps base's. base
// and over may be nil; the result shares nothing with either.
func Merge(base, over *Settings) *Settings {
	switch {
	case base == nil && over == nil:
		return nil
	case base == nil:
		base = &Settings{}
	case over == nil:
		over = &Settings{}
	}
	out := merge(reflect.ValueOf(*base), reflect.ValueOf(*over), mergeKeys()).Interface().(Settings)
	return &out
}

// merge merges over over base, both of one type, into a new value.
func merge(base, over reflect.Value, keys map[reflect.Type]string) reflect.Value {
	switch base.Kind() {
	case reflect.Pointer:
		if over.IsNil() {
			return deep(base)
		}
		if base.IsNil() || base.Elem().Kind() != reflect.Struct {
			return deep(over)
		}
		out := reflect.New(base.Type().Elem())
		out.Elem().Set(merge(base.Elem(), over.Elem(), keys))
		return out
	case reflect.Struct:
		out := reflect.New(base.Type()).Elem()
		for i := range base.NumField() {
			if out.Field(i).CanSet() {
				out.Field(i).Set(merge(base.Field(i), over.Field(i), keys))
			}
		}
		return out
	case reflect.Map:
		if over.IsNil() {
			return deep(base)
		}
		out := deep(over)
		if base.IsNil() {
			return out
		}
		iter := base.MapRange()
		for iter.Next() {
			if !over.MapIndex(iter.Key()).IsValid() {
				out.SetMapIndex(iter.Key(), deep(iter.Value()))
			}
		}
		return out
	case reflect.Slice:
		if over.IsNil() {
			return deep(base)
		}
		field, named := keys[base.Type().Elem()]
		if !named || base.IsNil() {
			return deep(over)
		}
		out := deep(base)
		at := map[string]int{}
		for i := range out.Len() {
			at[nameOf(out.Index(i), field)] = i
		}
		for i := range over.Len() {
			item := over.Index(i)
			if j, ok := at[nameOf(item, field)]; ok {
				out.Index(j).Set(deep(item))
				continue
			}
			at[nameOf(item, field)] = out.Len()
			out = reflect.Append(out, deep(item))
		}
		return out
	case reflect.Interface:
		if over.IsNil() {
			return deep(base)
		}
		return deep(over)
	default:
		if over.IsZero() {
			return base
		}
		return over
	}
}

// nameOf is the merge key of a list item: its field, a string or *string.
func nameOf(item reflect.Value, field string) string {
	f := item.FieldByName(field)
	if f.Kind() == reflect.Pointer {
		if f.IsNil() {
			return ""
		}
		f = f.Elem()
	}
	return f.String()
}

// deep copies v, so that a merged block shares no pointer, slice or map
// with the blocks it came from.
func deep(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(deep(v.Elem()))
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		for i := range v.NumField() {
			if out.Field(i).CanSet() {
				out.Field(i).Set(deep(v.Field(i)))
			}
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(deep(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out.SetMapIndex(iter.Key(), deep(iter.Value()))
		}
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(deep(v.Elem()))
		return out
	default:
		return v
	}
}

// IsZero says whether s sets nothing.
func (s *Settings) IsZero() bool {
	return s == nil || reflect.ValueOf(*s).IsZero()
}
