package pod

import (
	"reflect"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PodSecurityContext is the pod's security context: Security's fields, the
// part of Pod Security "restricted" at pod level, with over merged over
// them (Merge's rule: field by field).
func PodSecurityContext(over *corev1.PodSecurityContext) *corev1.PodSecurityContext {
	return mergeOf(&corev1.PodSecurityContext{
		RunAsNonRoot:   pulumi.BoolRef(true),
		SeccompProfile: &corev1.SeccompProfile{Type: "RuntimeDefault"},
	}, over)
}

// ContainerSecurityContext is the main container's security context:
// ContainerSecurity's fields with over merged over them.
func ContainerSecurityContext(over *corev1.SecurityContext) *corev1.SecurityContext {
	return mergeOf(&corev1.SecurityContext{
		AllowPrivilegeEscalation: pulumi.BoolRef(false),
		Capabilities:             &corev1.Capabilities{Drop: []string{"ALL"}},
		ReadOnlyRootFilesystem:   pulumi.BoolRef(true),
		RunAsNonRoot:             pulumi.BoolRef(true),
		SeccompProfile:           &corev1.SeccompProfile{Type: "RuntimeDefault"},
	}, over)
}

// sidecar is c as the pod runs it: an init container with restartPolicy
// Always, and the container-level fields Pod Security "restricted"
// requires (allowPrivilegeEscalation false, capabilities.drop ALL) where c
// leaves them unset.
func sidecar(c corev1.Container) corev1.Container {
	out := deep(reflect.ValueOf(c)).Interface().(corev1.Container)
	out.RestartPolicy = pulumi.StringRef("Always")
	out.SecurityContext = mergeOf(&corev1.SecurityContext{
		AllowPrivilegeEscalation: pulumi.BoolRef(false),
		Capabilities:             &corev1.Capabilities{Drop: []string{"ALL"}},
	}, c.SecurityContext)
	return out
}

// mergeOf merges over over base by Merge's rule.
func mergeOf[T any](base, over *T) *T {
	return merge(reflect.ValueOf(base), reflect.ValueOf(over), mergeKeys()).Interface().(*T)
}

// Apply puts the merged block s on a pod we build: spec (which has our
// defaults: Security, TmpVolumes, automountServiceAccountToken false), its
// main container and the pod template's labels and annotations (ours are
// set after, and win). Fields s leaves unset leave spec as it is, so a
// release without pod blocks registers what it did before them.
func (s *Settings) Apply(spec *corev1.PodSpecArgs, main *corev1.ContainerArgs, labels, annotations pulumi.StringMap) {
	if s.IsZero() {
		return
	}
	if s.ServiceAccountName != "" {
		spec.ServiceAccountName = pulumi.String(s.ServiceAccountName)
	}
	if s.AutomountServiceAccountToken != nil {
		spec.AutomountServiceAccountToken = pulumi.Bool(*s.AutomountServiceAccountToken)
	}
	if len(s.ImagePullSecrets) > 0 {
		spec.ImagePullSecrets = Plain(s.ImagePullSecrets).(corev1.LocalObjectReferenceArrayOutput)
	}
	if len(s.NodeSelector) > 0 {
		spec.NodeSelector = pulumi.ToStringMap(s.NodeSelector)
	}
	if len(s.Tolerations) > 0 {
		spec.Tolerations = Plain(s.Tolerations).(corev1.TolerationArrayOutput)
	}
	if s.Affinity != nil {
		spec.Affinity = Plain(s.Affinity).(corev1.AffinityPtrOutput)
	}
	if s.PriorityClassName != "" {
		spec.PriorityClassName = pulumi.String(s.PriorityClassName)
	}
	if s.PodSecurityContext != nil {
		spec.SecurityContext = Plain(PodSecurityContext(s.PodSecurityContext)).(corev1.PodSecurityContextPtrOutput)
	}
	if len(s.Volumes) > 0 {
		volumes := TmpVolumes()
		for _, v := range s.Volumes {
			volumes = append(volumes, Plain(v).(corev1.VolumeOutput))
		}
		spec.Volumes = volumes
	}
	if len(s.Sidecars) > 0 {
		init := corev1.ContainerArray{}
		for _, c := range s.Sidecars {
			init = append(init, Plain(sidecar(c)).(corev1.ContainerOutput))
		}
		spec.InitContainers = init
	}
	if len(s.Env) > 0 {
		env, _ := main.Env.(corev1.EnvVarArray)
		for _, e := range s.Env {
			env = append(env, Plain(e).(corev1.EnvVarOutput))
		}
		main.Env = env
	}
	if len(s.EnvFrom) > 0 {
		main.EnvFrom = Plain(s.EnvFrom).(corev1.EnvFromSourceArrayOutput)
	}
	if len(s.VolumeMounts) > 0 {
		mounts := TmpMounts()
		for _, m := range s.VolumeMounts {
			mounts = append(mounts, Plain(m).(corev1.VolumeMountOutput))
		}
		main.VolumeMounts = mounts
	}
	if s.ContainerSecurityContext != nil {
		main.SecurityContext = Plain(ContainerSecurityContext(s.ContainerSecurityContext)).(corev1.SecurityContextPtrOutput)
	}
	for k, v := range s.Labels {
		if _, ours := labels[k]; !ours {
			labels[k] = pulumi.String(v)
		}
	}
	for k, v := range s.Annotations {
		if _, ours := annotations[k]; !ours {
			annotations[k] = pulumi.String(v)
		}
	}
}

// Plain is the output of v, a value of pulumi-kubernetes' plain types,
// typed as the SDK registers it (corev1.TolerationArrayOutput for a
// []corev1.Toleration). It is resolved through an apply, which hands v on
// as it is: pulumi.ToOutput would copy it, turning every nil list into an
// empty one, and the Job or Deployment would be sent "command: []",
// "capabilities.add: []" for every list the block leaves out.
func Plain[T any](v T) pulumi.Output {
	return pulumi.ToOutput(pulumi.Int(0)).ApplyT(func(int) T { return v })
}
