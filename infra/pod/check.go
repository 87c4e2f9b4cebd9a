package pod

import (
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
	"github.com/pulumi-jobs/pulumi-jobs/infra/manifest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

// Scope is what one pod block is checked against.
type Scope struct {
	// Base is the block it is merged over (the release's or component's
	// pod, for an app's or job's); nil for the release's own.
	Base *Settings
	// Restricted says that the pod's namespace enforces Pod Security
	// "restricted": what it forbids is refused.
	Restricted bool
	// Main is the main container's name, which no sidecar may have; empty
	// for a release-wide block.
	Main string
	// Env is the plain environment (env: a map) the main container has
	// besides the block's env, whose names the block may not repeat.
	Env map[string]string
	// DatabaseURL says that the release (or Jobs component) sets
	// DATABASE_URL from its secret database URL (databaseUrl): the block's
	// env may not set it too. Without one, DATABASE_URL may come from a
	// Secret of the team's (secretKeyRef), as any variable may.
	DatabaseURL bool
}

// ReservedLabels are the pod labels pulumi-jobs sets itself: a Job's
// identity and the app's selector. A pod block may not set them.
func ReservedLabels() []string {
	return []string{"app.kubernetes.io/name", vocab.LabelPartOf, vocab.LabelManagedBy, vocab.LabelJob, vocab.LabelPhase}
}

// Check adds to p every problem of the block s, given at key ("pod",
// "app.pod", "preDeploy[0].pod"), keys as the block spells them
// ("preDeploy[0].pod.volumes[1].hostPath"). When sc.Restricted, what Pod
// Security "restricted" forbids is refused under the key of the field that
// sets it.
func (s *Settings) Check(p *check.Problems, key string, sc Scope) {
	if s == nil {
		if sc.Base == nil {
			return
		}
		// The release's block still meets this job's or app's own env and name.
		s = &Settings{}
	}
	checkBase(p, key, s, sc)
	if s.ServiceAccountName != "" {
		check.Name(p, key+".serviceAccountName", s.ServiceAccountName, validation.IsDNS1123Subdomain)
	}
	if s.PriorityClassName != "" {
		check.Name(p, key+".priorityClassName", s.PriorityClassName, validation.IsDNS1123Subdomain)
	}
	for i, r := range s.ImagePullSecrets {
		k := fmt.Sprintf("%s.imagePullSecrets[%d].name", key, i)
		if r.Name == nil || *r.Name == "" {
			p.Add(k, "required; the name of a Secret of type kubernetes.io/dockerconfigjson in the namespace, e.g. {name: registry}")
		} else {
			check.Name(p, k, *r.Name, validation.IsDNS1123Subdomain)
		}
	}
	labels(p, key+".nodeSelector", s.NodeSelector, nil)
	labels(p, key+".labels", s.Labels, ReservedLabels())
	check.Annotations(p, key+".annotations", s.Annotations)
	checkTolerations(p, key+".tolerations", s.Tolerations)
	volumes := checkVolumes(p, key+".volumes", s.Volumes)
	if sc.Base != nil {
		for _, v := range sc.Base.Volumes {
			volumes[v.Name] = true
		}
	}
	checkMounts(p, key+".volumeMounts", s.VolumeMounts, volumes)
	checkEnv(p, key+".env", s.Env, sc.Env, sc.DatabaseURL)
	checkEnvFrom(p, key+".envFrom", s.EnvFrom)
	checkSidecars(p, key+".sidecars", s.Sidecars, sc.Main)
	if sc.Restricted {
		restricted(p, key, s)
	}
}

// labels checks label keys and values, and that none is reserved.
func labels(p *check.Problems, key string, m map[string]string, reserved []string) {
	for _, k := range check.SortedKeys(m) {
		kk := fmt.Sprintf("%s[%q]", key, k)
		for _, msg := range validation.IsQualifiedName(k) {
			p.Add(kk, "not a valid label key: %s", msg)
		}
		for _, msg := range validation.IsValidLabelValue(m[k]) {
			p.Add(kk, "%q is not a valid label value: %s", m[k], msg)
		}
		if slices.Contains(reserved, k) {
			p.Add(kk, "is set by pulumi-jobs (it selects or identifies the pod); use another label key")
		}
	}
}

func checkTolerations(p *check.Problems, key string, list []corev1.Toleration) {
	for i, t := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		op, effect := str(t.Operator), str(t.Effect)
		switch op {
		case "", "Equal":
			if str(t.Key) == "" {
				p.Add(k+".key", `required unless operator is Exists (an empty key with Exists tolerates every taint)`)
			}
		case "Exists":
			if str(t.Value) != "" {
				p.Add(k+".value", "must be empty when operator is Exists; remove it, or use operator Equal")
			}
		default:
			p.Add(k+".operator", "%q is not an operator; use Equal (the default) or Exists", op)
		}
		switch effect {
		case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			p.Add(k+".effect", "%q is not a taint effect; use NoSchedule, PreferNoSchedule or NoExecute, or leave it out for all", effect)
		}
		if t.TolerationSeconds != nil && effect != "NoExecute" {
			p.Add(k+".tolerationSeconds", "applies only to effect NoExecute; set effect: NoExecute or remove it")
		}
	}
}

// checkVolumes checks the volumes and returns their names.
func checkVolumes(p *check.Problems, key string, list []corev1.Volume) map[string]bool {
	names := map[string]bool{}
	for i, v := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case v.Name == "":
			p.Add(k+".name", "required; a DNS-1123 label the volumeMounts name, e.g. ca-bundle")
		case v.Name == TmpVolume:
			p.Add(k+".name", "%q is the pod's scratch volume, mounted at /tmp; use another name", TmpVolume)
		case names[v.Name]:
			p.Add(k+".name", "%q is the name of another volume; volume names must be unique", v.Name)
		default:
			check.Name(p, k+".name", v.Name, validation.IsDNS1123Label)
		}
		names[v.Name] = true
		if n := len(setFields(v, "Name")); n != 1 {
			p.Add(k, "must have exactly one volume source (secret, configMap, emptyDir, persistentVolumeClaim, projected, csi, …), has %d", n)
		}
	}
	return names
}

func checkMounts(p *check.Problems, key string, list []corev1.VolumeMount, volumes map[string]bool) {
	paths := map[string]bool{}
	for i, m := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		if m.Name == "" {
			p.Add(k+".name", "required; the name of a volume of the pod block")
		} else if !volumes[m.Name] && m.Name != TmpVolume {
			p.Add(k+".name", "%q names no volume; add it to volumes of this pod block (or of the release's pod)", m.Name)
		}
		switch {
		case !strings.HasPrefix(m.MountPath, "/"):
			p.Add(k+".mountPath", "must be an absolute path, e.g. /etc/ssl/custom, got %q", m.MountPath)
		case path.Clean(m.MountPath) == "/tmp":
			p.Add(k+".mountPath", "/tmp is the pod's scratch directory (volume %s); mount elsewhere", TmpVolume)
		case paths[m.MountPath]:
			p.Add(k+".mountPath", "%q is mounted twice; each mount needs its own path", m.MountPath)
		}
		paths[m.MountPath] = true
	}
}

func checkEnv(p *check.Problems, key string, list []corev1.EnvVar, plain map[string]string, databaseURL bool) {
	names := map[string]bool{}
	for i, e := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case e.Name == "":
			p.Add(k+".name", "required; the variable's name, e.g. DB_PASSWORD")
		case e.Name == check.DatabaseURLEnv && databaseURL:
			p.Add(k+".name", "%s is set from the secret database URL (databaseUrl) of this release; set it in one place: "+
				"drop databaseUrl to take it from your own Secret here, or drop this entry", check.DatabaseURLEnv)
		case names[e.Name]:
			p.Add(k+".name", "%q is set twice in this list", e.Name)
		default:
			if _, dup := plain[e.Name]; dup {
				p.Add(k+".name", "%q is also set in env (the map) of the same app or job; set it in one place", e.Name)
			}
			for _, msg := range validation.IsEnvVarName(e.Name) {
				p.Add(k+".name", "not a valid environment variable name: %s", msg)
			}
		}
		names[e.Name] = true
		if e.ValueFrom == nil {
			continue
		}
		if e.Value != nil {
			p.Add(k, "sets both value and valueFrom; keep one")
		}
		src := e.ValueFrom
		if n := len(setFields(*src)); n != 1 {
			p.Add(k+".valueFrom", "must have exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef, has %d", n)
		}
		if r := src.SecretKeyRef; r != nil {
			keyRef(p, k+".valueFrom.secretKeyRef", "Secret", r.Name, r.Key)
		}
		if r := src.ConfigMapKeyRef; r != nil {
			keyRef(p, k+".valueFrom.configMapKeyRef", "ConfigMap", r.Name, r.Key)
		}
		if r := src.FieldRef; r != nil && r.FieldPath == "" {
			p.Add(k+".valueFrom.fieldRef.fieldPath", "required, e.g. metadata.name or status.podIP")
		}
		if r := src.ResourceFieldRef; r != nil && r.Resource == "" {
			p.Add(k+".valueFrom.resourceFieldRef.resource", "required, e.g. limits.memory")
		}
	}
}

// keyRef checks a reference to one key of a Secret or ConfigMap.
func keyRef(p *check.Problems, key, kind string, name *string, k string) {
	if name == nil || *name == "" {
		p.Add(key+".name", "required; the name of the %s in the namespace", kind)
	} else {
		check.Name(p, key+".name", *name, validation.IsDNS1123Subdomain)
	}
	if k == "" {
		p.Add(key+".key", "required; the key of the %s whose value the variable gets", kind)
	} else {
		for _, msg := range validation.IsConfigMapKey(k) {
			p.Add(key+".key", "%q is not a valid key: %s", k, msg)
		}
	}
}

func checkEnvFrom(p *check.Problems, key string, list []corev1.EnvFromSource) {
	for i, e := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		var name *string
		switch {
		case e.SecretRef != nil && e.ConfigMapRef != nil:
			p.Add(k, "must have one of secretRef and configMapRef, not both; use two items")
			continue
		case e.SecretRef != nil:
			name, k = e.SecretRef.Name, k+".secretRef.name"
		case e.ConfigMapRef != nil:
			name, k = e.ConfigMapRef.Name, k+".configMapRef.name"
		default:
			p.Add(k, "must have secretRef or configMapRef, e.g. {secretRef: {name: shop-env}}")
			continue
		}
		if name == nil || *name == "" {
			p.Add(k, "required; the name of the Secret or ConfigMap in the namespace")
		} else {
			check.Name(p, k, *name, validation.IsDNS1123Subdomain)
		}
	}
}

func checkSidecars(p *check.Problems, key string, list []corev1.Container, main string) {
	names := map[string]bool{}
	for i, c := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case c.Name == "":
			p.Add(k+".name", "required; a DNS-1123 label, e.g. cloud-sql-proxy")
		case c.Name == main:
			p.Add(k+".name", "%q is the main container's name; use another", c.Name)
		case names[c.Name]:
			p.Add(k+".name", "%q is the name of another sidecar; sidecar names must be unique", c.Name)
		default:
			check.Name(p, k+".name", c.Name, validation.IsDNS1123Label)
		}
		names[c.Name] = true
		if c.Image == nil || *c.Image == "" {
			p.Add(k+".image", `required; the sidecar's image, e.g. "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0"`)
		}
		if r := str(c.RestartPolicy); r != "" && r != "Always" {
			p.Add(k+".restartPolicy", "%q: a sidecar is an init container with restartPolicy Always (set for you); remove it", r)
		}
	}
}

// restrictedPath maps a field path inside the pod spec restricted checks
// to the block's own key.
var restrictedPath = regexp.MustCompile(`^(securityContext|containers\[0\]\.securityContext|initContainers\[(\d+)\]|volumes\[(\d+)\])(.*)$`)

// restricted refuses what Pod Security "restricted" forbids in the pod s
// alone would make, each under the key of the field of s that sets it.
func restricted(p *check.Problems, key string, s *Settings) {
	var sidecars []any
	for _, c := range s.Sidecars {
		sidecars = append(sidecars, JSON(sidecar(c)))
	}
	spec := map[string]any{
		"securityContext": JSON(PodSecurityContext(s.PodSecurityContext)),
		"containers":      []any{map[string]any{"name": "main", "image": "main", "securityContext": JSON(ContainerSecurityContext(s.ContainerSecurityContext))}},
	}
	if v := JSON(s.Volumes); v != nil {
		spec["volumes"] = v
	}
	if sidecars != nil {
		spec["initContainers"] = sidecars
	}
	for _, q := range manifest.RestrictedPodSpec(spec) {
		k := key
		if m := restrictedPath.FindStringSubmatch(q.Key); m != nil {
			switch {
			case m[1] == "securityContext":
				k += ".podSecurityContext" + m[4]
			case m[2] != "":
				k += ".sidecars[" + m[2] + "]" + m[4]
			case m[3] != "":
				k += ".volumes[" + m[3] + "]" + m[4]
			default:
				k += ".containerSecurityContext" + m[4]
			}
		}
		p.Add(k, "%s", q.Message)
	}
}

// setFields names the fields of the struct v that are set, but skip.
func setFields(v any, skip ...string) []string {
	rv := reflect.ValueOf(v)
	var out []string
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if !rv.Field(i).IsZero() && !slices.Contains(skip, f.Name) {
			out = append(out, f.Name)
		}
	}
	return out
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkBase refuses what the block s is merged over (sc.Base) brings that
// clashes with the job or app itself: an env entry of the release's that
// its env (the map) sets too, a sidecar of the release's with the main
// container's name. Entries s replaces by name are s's to answer for.
func checkBase(p *check.Problems, key string, s *Settings, sc Scope) {
	if sc.Base == nil {
		return
	}
	parent := strings.TrimSuffix(key, ".pod")
	own := map[string]bool{}
	for _, e := range s.Env {
		own[e.Name] = true
	}
	for _, e := range sc.Base.Env {
		if _, dup := sc.Env[e.Name]; dup && !own[e.Name] {
			p.Add(parent+".env."+e.Name, "is also set by the release's pod.env; set it in one place")
		}
	}
	for _, c := range s.Sidecars {
		own["sidecar "+c.Name] = true
	}
	for _, c := range sc.Base.Sidecars {
		if sc.Main != "" && c.Name == sc.Main && !own["sidecar "+c.Name] {
			p.Add(parent+".name", "%q is also the name of a sidecar of the release's pod; rename one", c.Name)
		}
	}
}
