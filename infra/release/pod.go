package release

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/spec"
)

// tmpVolume is the writable scratch directory every container gets, since
// root filesystems are read-only.
const tmpVolume = "tmp"

// podSecurity is the pod-level part of Pod Security "restricted".
func podSecurity() corev1.PodSecurityContextArgs {
	return corev1.PodSecurityContextArgs{
		RunAsNonRoot:   pulumi.Bool(true),
		SeccompProfile: corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// containerSecurity is the container-level part of Pod Security "restricted",
// plus a read-only root filesystem.
func containerSecurity() corev1.SecurityContextArgs {
	return corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		Capabilities:             corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
		ReadOnlyRootFilesystem:   pulumi.Bool(true),
		RunAsNonRoot:             pulumi.Bool(true),
		SeccompProfile:           corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

func tmpVolumes() corev1.VolumeArray {
	return corev1.VolumeArray{corev1.VolumeArgs{Name: pulumi.String(tmpVolume), EmptyDir: corev1.EmptyDirVolumeSourceArgs{}}}
}

func tmpMounts() corev1.VolumeMountArray {
	return corev1.VolumeMountArray{corev1.VolumeMountArgs{Name: pulumi.String(tmpVolume), MountPath: pulumi.String("/tmp")}}
}

func resources(r spec.Resources) corev1.ResourceRequirementsArgs {
	return corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{"cpu": pulumi.String(r.Requests.CPU), "memory": pulumi.String(r.Requests.Memory)},
		Limits:   pulumi.StringMap{"cpu": pulumi.String(r.Limits.CPU), "memory": pulumi.String(r.Limits.Memory)},
	}
}

// env renders vars (already sorted, so the pod template is stable) and, when
// the release has a database URL, DATABASE_URL from its Secret.
func env(vars []spec.EnvVar, db *databaseSecret) corev1.EnvVarArray {
	out := make(corev1.EnvVarArray, 0, len(vars)+1)
	for _, v := range vars {
		out = append(out, corev1.EnvVarArgs{Name: pulumi.String(v.Name), Value: pulumi.String(v.Value)})
	}
	if db != nil {
		out = append(out, corev1.EnvVarArgs{
			Name: pulumi.String(config.DatabaseURLEnv),
			ValueFrom: corev1.EnvVarSourceArgs{SecretKeyRef: corev1.SecretKeySelectorArgs{
				Name: db.name,
				Key:  pulumi.String(config.DatabaseURLEnv),
			}},
		})
	}
	return out
}
