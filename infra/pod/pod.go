// Package pod builds the parts of a pod template every pulumi-jobs container
// shares: Pod Security "restricted" at pod and container level, a writable
// /tmp beside a read-only root filesystem, resources, and the environment
// with DATABASE_URL from its Secret.
package pod

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
)

// TmpVolume is the writable scratch directory every container gets, since
// root filesystems are read-only.
const TmpVolume = "tmp"

// Defaults of a container's resources.
const (
	DefaultCPURequest    = "100m"
	DefaultMemoryRequest = "128Mi"
	DefaultCPULimit      = "500m"
	DefaultMemoryLimit   = "256Mi"
)

// Resources are a container's resource requests and limits.
type Resources struct {
	// Requests are what the scheduler reserves.
	Requests *Quantities `pulumi:"requests,optional"`
	// Limits are the most the container may use.
	Limits *Quantities `pulumi:"limits,optional"`
}

// Quantities are CPU and memory amounts in Kubernetes quantity notation.
type Quantities struct {
	// CPU, e.g. "100m".
	CPU string `pulumi:"cpu,optional"`
	// Memory, e.g. "128Mi".
	Memory string `pulumi:"memory,optional"`
}

// WithDefaults returns r with every unset amount taken from base, and from
// the package defaults where base has none either. r and base may be nil.
func (r *Resources) WithDefaults(base *Resources) Resources {
	pick := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	get := func(rs *Resources, limit bool, cpu bool) string {
		if rs == nil {
			return ""
		}
		q := rs.Requests
		if limit {
			q = rs.Limits
		}
		if q == nil {
			return ""
		}
		if cpu {
			return q.CPU
		}
		return q.Memory
	}
	return Resources{
		Requests: &Quantities{
			CPU:    pick(get(r, false, true), get(base, false, true), DefaultCPURequest),
			Memory: pick(get(r, false, false), get(base, false, false), DefaultMemoryRequest),
		},
		Limits: &Quantities{
			CPU:    pick(get(r, true, true), get(base, true, true), DefaultCPULimit),
			Memory: pick(get(r, true, false), get(base, true, false), DefaultMemoryLimit),
		},
	}
}

// Check applies the quantity rules to the amounts r sets, keys under key.
// Requests are compared with limits once the defaults are applied, those of
// base first (the component's resources for a job's; nil for none), and
// only when both amounts are valid quantities.
func (r *Resources) Check(p *check.Problems, key string, base *Resources) {
	if r == nil {
		return
	}
	before := len(p.List)
	for _, part := range []struct {
		name    string
		q       *Quantities
		isLimit bool
	}{{"requests", r.Requests, false}, {"limits", r.Limits, true}} {
		if part.q == nil {
			continue
		}
		if part.q.CPU != "" {
			check.Quantity(p, key+"."+part.name+".cpu", part.q.CPU, "250m", part.isLimit)
		}
		if part.q.Memory != "" {
			check.Quantity(p, key+"."+part.name+".memory", part.q.Memory, "256Mi", part.isLimit)
		}
	}
	if len(p.List) > before {
		return
	}
	full := r.WithDefaults(base)
	check.RequestWithinLimit(p, key+".requests.cpu", full.Requests.CPU, full.Limits.CPU)
	check.RequestWithinLimit(p, key+".requests.memory", full.Requests.Memory, full.Limits.Memory)
}

// Args renders resources that have their defaults applied.
func (r Resources) Args() corev1.ResourceRequirementsArgs {
	return corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{"cpu": pulumi.String(r.Requests.CPU), "memory": pulumi.String(r.Requests.Memory)},
		Limits:   pulumi.StringMap{"cpu": pulumi.String(r.Limits.CPU), "memory": pulumi.String(r.Limits.Memory)},
	}
}

// Security is the pod-level part of Pod Security "restricted".
func Security() corev1.PodSecurityContextArgs {
	return corev1.PodSecurityContextArgs{
		RunAsNonRoot:   pulumi.Bool(true),
		SeccompProfile: corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// ContainerSecurity is the container-level part of Pod Security
// "restricted", plus a read-only root filesystem.
func ContainerSecurity() corev1.SecurityContextArgs {
	return corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		Capabilities:             corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
		ReadOnlyRootFilesystem:   pulumi.Bool(true),
		RunAsNonRoot:             pulumi.Bool(true),
		SeccompProfile:           corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// TmpVolumes is the pod's scratch volume.
func TmpVolumes() corev1.VolumeArray {
	return corev1.VolumeArray{corev1.VolumeArgs{Name: pulumi.String(TmpVolume), EmptyDir: corev1.EmptyDirVolumeSourceArgs{}}}
}

// TmpMounts mounts the scratch volume at /tmp.
func TmpMounts() corev1.VolumeMountArray {
	return corev1.VolumeMountArray{corev1.VolumeMountArgs{Name: pulumi.String(TmpVolume), MountPath: pulumi.String("/tmp")}}
}

// Env renders vars sorted by name, so the pod template never changes with
// map order, and, when databaseSecret is not nil, DATABASE_URL from the key
// DATABASE_URL of that Secret.
func Env(vars map[string]string, databaseSecret pulumi.StringInput) corev1.EnvVarArray {
	out := make(corev1.EnvVarArray, 0, len(vars)+1)
	for _, name := range check.SortedKeys(vars) {
		out = append(out, corev1.EnvVarArgs{Name: pulumi.String(name), Value: pulumi.String(vars[name])})
	}
	if databaseSecret != nil {
		out = append(out, corev1.EnvVarArgs{
			Name: pulumi.String(check.DatabaseURLEnv),
			ValueFrom: corev1.EnvVarSourceArgs{SecretKeyRef: corev1.SecretKeySelectorArgs{
				Name: databaseSecret,
				Key:  pulumi.String(check.DatabaseURLEnv),
			}},
		})
	}
	return out
}
