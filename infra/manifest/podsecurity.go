package manifest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/pulumi-jobs/pulumi-jobs/infra/check"
)

// enforced ends every Pod Security message: why the value matters.
const enforced = "the namespace enforces Pod Security restricted"

// FillPodSecurity fills in, in every pod template of objs, the fields Pod
// Security "restricted" requires that the file leaves unset, and never
// overwrites a field the file sets (null counts as unset):
//
//   - the pod's securityContext.runAsNonRoot: true, unless every container
//     sets runAsNonRoot itself;
//   - the pod's securityContext.seccompProfile.type: RuntimeDefault, unless
//     every container sets a seccompProfile itself;
//   - in every container and init container, securityContext
//     .allowPrivilegeEscalation: false, and capabilities.drop: ["ALL"] when
//     capabilities.drop is unset.
//
// Windows pods (spec.os.name: windows) get only runAsNonRoot: restricted
// does not require the other fields of them and the API server refuses them.
//
// Then it evaluates every pod template against the "restricted" level, in
// its latest version, with Kubernetes' own Pod Security admission library,
// and returns one problem per value the file sets that restricted refuses
// (privileged: true, runAsUser: 0, hostNetwork, a hostPath volume,
// capabilities.add of SYS_ADMIN, …): Key is "<Source>: <Kind>/<name>:
// <field path>", e.g. "deploy/app.yaml: Deployment/shop:
// spec.template.spec.containers[0].securityContext.privileged", and Message
// is the library's reason followed by the fix.
func FillPodSecurity(objs []Object) []check.Problem {
	var problems []check.Problem
	for _, o := range objs {
		spec, path, ok := podSpec(o)
		if !ok {
			continue
		}
		fillPodSecurity(spec)
		problems = append(problems, evaluate(o, spec, path)...)
	}
	return problems
}

// fillPodSecurity fills the unset fields restricted requires into one pod
// template spec.
func fillPodSecurity(spec map[string]any) {
	windows, _ := nestedString(spec, "os", "name")
	linux := windows != string(corev1.Windows)
	var all []map[string]any
	for _, list := range containerLists {
		all = append(all, containers(spec, list)...)
	}
	everyContainerSets := func(key string) bool {
		for _, c := range all {
			sc, _ := c["securityContext"].(map[string]any)
			if !isSet(sc, key) {
				return false
			}
		}
		return true
	}
	podSet := func(key string) bool {
		sc, _ := spec["securityContext"].(map[string]any)
		return isSet(sc, key)
	}
	if !podSet("runAsNonRoot") && !everyContainerSets("runAsNonRoot") {
		if sc, ok := ensureMap(spec, "securityContext"); ok {
			sc["runAsNonRoot"] = true
		}
	}
	if linux && !podSet("seccompProfile") && !everyContainerSets("seccompProfile") {
		if sc, ok := ensureMap(spec, "securityContext"); ok {
			sc["seccompProfile"] = map[string]any{"type": string(corev1.SeccompProfileTypeRuntimeDefault)}
		}
	}
	if !linux {
		return
	}
	for _, c := range all {
		sc, ok := ensureMap(c, "securityContext")
		if !ok {
			continue
		}
		if !isSet(sc, "allowPrivilegeEscalation") {
			sc["allowPrivilegeEscalation"] = false
		}
		if caps, ok := ensureMap(sc, "capabilities"); ok && !isSet(caps, "drop") {
			caps["drop"] = []any{"ALL"}
		}
	}
}

// namedCheck is one Pod Security check, in the version that applies.
type namedCheck struct {
	id  policy.CheckID
	pod policy.CheckPodFn
}

// restrictedChecks are the checks of the restricted level in its latest
// version, in the order the library's evaluator runs them (baseline checks
// first, then restricted, each by ID): every check in its newest version,
// except the baseline checks a restricted check replaces (hostPathVolumes by
// restrictedVolumes, capabilities_baseline by capabilities_restricted, …).
// It is policy.NewEvaluator's selection for api.LatestVersion(), made here
// because its results do not say which check they come from, and a field
// path needs that.
var restrictedChecks = sync.OnceValue(func() []namedCheck {
	checks := policy.DefaultChecks()
	replaced := map[policy.CheckID]bool{}
	for _, c := range checks {
		if c.Level == psaapi.LevelRestricted {
			for _, id := range c.Versions[len(c.Versions)-1].OverrideCheckIDs {
				replaced[id] = true
			}
		}
	}
	var baseline, restricted []namedCheck
	for _, c := range checks {
		if replaced[c.ID] {
			continue
		}
		nc := namedCheck{c.ID, c.Versions[len(c.Versions)-1].CheckPod}
		if c.Level == psaapi.LevelRestricted {
			restricted = append(restricted, nc)
		} else {
			baseline = append(baseline, nc)
		}
	}
	byID := func(a, b namedCheck) int { return cmp.Compare(a.id, b.id) }
	slices.SortFunc(baseline, byID)
	slices.SortFunc(restricted, byID)
	return append(baseline, restricted...)
})

// evaluate checks one filled pod template against restricted.
func evaluate(o Object, spec map[string]any, path []string) []check.Problem {
	prefix := fmt.Sprintf("%s: %s/%s: ", o.Source, Kind(o), Name(o))
	specPath := strings.Join(path, ".")
	pod, err := fromMap[corev1.PodSpec](spec)
	if err != nil {
		return []check.Problem{{Key: prefix + specPath, Message: fmt.Sprintf("is not a pod spec Kubernetes can read: %v; fix the field it names", err)}}
	}
	var meta metav1.ObjectMeta
	metaPath := podMetaPath(path)
	if m, ok := nestedMap(o.Obj, metaPath...); ok {
		if meta, err = fromMap[metav1.ObjectMeta](m); err != nil {
			return []check.Problem{{Key: prefix + strings.Join(metaPath, "."), Message: fmt.Sprintf("is not object metadata Kubernetes can read: %v; fix the field it names", err)}}
		}
	}
	loc := locator{spec: spec, pod: &pod, meta: &meta, specPath: specPath, metaPath: strings.Join(metaPath, ".")}
	var problems []check.Problem
	for _, c := range restrictedChecks() {
		result := c.pod(&meta, &pod)
		if result.Allowed {
			continue
		}
		reason := cmp.Or(result.ForbiddenReason, policy.UnknownForbiddenReason)
		if result.ForbiddenDetail != "" {
			reason += " (" + result.ForbiddenDetail + ")"
		}
		found := loc.locate(c.id, result)
		if len(found) == 0 {
			found = []finding{{specPath, "see https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted for what it allows"}}
		}
		for _, f := range found {
			problems = append(problems, check.Problem{Key: prefix + f.field, Message: fmt.Sprintf("%s: %s; %s", reason, f.fix, enforced)})
		}
	}
	return problems
}

// fromMap converts decoded YAML into a Kubernetes API type with apimachinery's
// unstructured converter. Its errors do not name the field ("unrecognized
// type: bool"), so on an error it decodes through JSON, whose errors do
// ("… Go struct field SecurityContext.containers.securityContext.privileged
// of type bool").
func fromMap[T any](m map[string]any) (T, error) {
	var v T
	err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &v)
	if err == nil {
		return v, nil
	}
	if data, jsonErr := json.Marshal(m); jsonErr == nil {
		var w T
		if jsonErr = json.Unmarshal(data, &w); jsonErr != nil {
			return v, jsonErr
		}
	}
	return v, err
}

// finding is one field a failed check refuses, and how to fix it.
type finding struct {
	field string
	fix   string
}

// Fixes, by what the refused field holds.
const (
	fixFalse      = "remove it or set it to false"
	fixTrue       = "remove it or set it to true"
	fixSeccomp    = "set it to RuntimeDefault or Localhost, or remove it"
	fixAppArmor   = "set it to RuntimeDefault or Localhost, or remove it"
	fixRunAsUser  = "remove it or set a user ID other than 0, e.g. 1000 (and use an image that runs as that user)"
	fixProcMount  = "remove it or set it to Default"
	fixSELinux    = "remove it, or set no user or role and a type of container_t, container_init_t, container_kvm_t or container_engine_t"
	fixDropAll    = `add "ALL" to it, e.g. drop: ["ALL"]`
	fixCapAdd     = "remove it; restricted allows adding only NET_BIND_SERVICE"
	fixHostPort   = "remove it; reach the pod through a Service"
	fixHost       = "remove it; a probe or lifecycle hook may only reach its own pod"
	fixVolume     = "use a volume type restricted allows: configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret"
	fixSysctl     = "remove it; restricted allows only the safe sysctls"
	fixAnnotation = "remove it, or set it to runtime/default or localhost/<profile>"
)

// locator finds the fields of one pod template that a failed check refuses.
// The library decides whether the pod is allowed; the locator only points at
// the fields its rules are about.
type locator struct {
	spec     map[string]any
	pod      *corev1.PodSpec
	meta     *metav1.ObjectMeta
	specPath string // e.g. "spec.template.spec"
	metaPath string // e.g. "spec.template.metadata"
}

// container is one container of the pod with the path to it.
type container struct {
	path string // e.g. "spec.template.spec.containers[0]"
	c    *corev1.Container
}

// containers lists the pod's containers in the order the library visits them.
func (l locator) containers() []container {
	var out []container
	for i := range l.pod.InitContainers {
		out = append(out, container{fmt.Sprintf("%s.initContainers[%d]", l.specPath, i), &l.pod.InitContainers[i]})
	}
	for i := range l.pod.Containers {
		out = append(out, container{fmt.Sprintf("%s.containers[%d]", l.specPath, i), &l.pod.Containers[i]})
	}
	for i := range l.pod.EphemeralContainers {
		out = append(out, container{fmt.Sprintf("%s.ephemeralContainers[%d]", l.specPath, i), (*corev1.Container)(&l.pod.EphemeralContainers[i].EphemeralContainerCommon)})
	}
	return out
}

// securityContexts finds field (a path inside a security context) in the
// pod's security context where podField reports it refused (podField nil:
// the pod's has no such field), and in every container's where
// containerField does; pod first, then containers in the library's order.
func (l locator) securityContexts(podField func(*corev1.PodSecurityContext) bool, containerField func(*corev1.SecurityContext) bool, field, fix string) []finding {
	var out []finding
	if l.pod.SecurityContext != nil && podField != nil && podField(l.pod.SecurityContext) {
		out = append(out, finding{l.specPath + ".securityContext." + field, fix})
	}
	for _, c := range l.containers() {
		if c.c.SecurityContext != nil && containerField(c.c.SecurityContext) {
			out = append(out, finding{c.path + ".securityContext." + field, fix})
		}
	}
	return out
}

// locate returns the fields check id refuses.
func (l locator) locate(id policy.CheckID, result policy.CheckResult) []finding {
	var out []finding
	switch id {
	case "privileged":
		out = l.securityContexts(nil, func(sc *corev1.SecurityContext) bool { return isTrue(sc.Privileged) }, "privileged", fixFalse)
	case "allowPrivilegeEscalation":
		for _, c := range l.containers() {
			if sc := c.c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				out = append(out, finding{c.path + ".securityContext.allowPrivilegeEscalation", fixFalse})
			}
		}
	case "capabilities_restricted", "capabilities_baseline":
		for _, c := range l.containers() {
			var caps *corev1.Capabilities
			if c.c.SecurityContext != nil {
				caps = c.c.SecurityContext.Capabilities
			}
			if id == "capabilities_restricted" && (caps == nil || !slices.Contains(caps.Drop, "ALL")) {
				out = append(out, finding{c.path + ".securityContext.capabilities.drop", fixDropAll})
			}
			if caps != nil && slices.ContainsFunc(caps.Add, func(c corev1.Capability) bool { return c != "NET_BIND_SERVICE" }) {
				out = append(out, finding{c.path + ".securityContext.capabilities.add", fixCapAdd})
			}
		}
	case "hostNamespaces":
		for _, f := range []struct {
			field string
			set   bool
		}{{"hostNetwork", l.pod.HostNetwork}, {"hostPID", l.pod.HostPID}, {"hostIPC", l.pod.HostIPC}} {
			if f.set {
				out = append(out, finding{l.specPath + "." + f.field, fixFalse})
			}
		}
	case "hostPathVolumes", "restrictedVolumes":
		out = l.volumes(id)
	case "hostPorts":
		for _, c := range l.containers() {
			for j, p := range c.c.Ports {
				if p.HostPort != 0 {
					out = append(out, finding{fmt.Sprintf("%s.ports[%d].hostPort", c.path, j), fixHostPort})
				}
			}
		}
	case "hostProbesAndHostLifecycle":
		for _, c := range l.containers() {
			for _, p := range []struct {
				name  string
				probe *corev1.Probe
			}{{"livenessProbe", c.c.LivenessProbe}, {"readinessProbe", c.c.ReadinessProbe}, {"startupProbe", c.c.StartupProbe}} {
				if p.probe != nil {
					out = append(out, handlerHosts(c.path+"."+p.name, p.probe.HTTPGet, p.probe.TCPSocket)...)
				}
			}
			if lc := c.c.Lifecycle; lc != nil {
				for _, h := range []struct {
					name    string
					handler *corev1.LifecycleHandler
				}{{"postStart", lc.PostStart}, {"preStop", lc.PreStop}} {
					if h.handler != nil {
						out = append(out, handlerHosts(c.path+".lifecycle."+h.name, h.handler.HTTPGet, h.handler.TCPSocket)...)
					}
				}
			}
		}
	case "procMount", "procMount_restricted":
		out = l.securityContexts(nil, func(sc *corev1.SecurityContext) bool {
			return sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount
		}, "procMount", fixProcMount)
	case "runAsNonRoot":
		out = l.securityContexts(
			func(sc *corev1.PodSecurityContext) bool { return isFalse(sc.RunAsNonRoot) },
			func(sc *corev1.SecurityContext) bool { return isFalse(sc.RunAsNonRoot) },
			"runAsNonRoot", fixTrue)
	case "runAsUser":
		out = l.securityContexts(
			func(sc *corev1.PodSecurityContext) bool { return sc.RunAsUser != nil && *sc.RunAsUser == 0 },
			func(sc *corev1.SecurityContext) bool { return sc.RunAsUser != nil && *sc.RunAsUser == 0 },
			"runAsUser", fixRunAsUser)
	case "seLinuxOptions":
		bad := func(o *corev1.SELinuxOptions) bool {
			return o != nil && (o.User != "" || o.Role != "" || !slices.Contains([]string{"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}, o.Type))
		}
		out = l.securityContexts(
			func(sc *corev1.PodSecurityContext) bool { return bad(sc.SELinuxOptions) },
			func(sc *corev1.SecurityContext) bool { return bad(sc.SELinuxOptions) },
			"seLinuxOptions", fixSELinux)
	case "seccompProfile_restricted", "seccompProfile_baseline":
		bad := func(p *corev1.SeccompProfile) bool {
			return p != nil && p.Type != corev1.SeccompProfileTypeRuntimeDefault && p.Type != corev1.SeccompProfileTypeLocalhost
		}
		out = l.securityContexts(
			func(sc *corev1.PodSecurityContext) bool { return bad(sc.SeccompProfile) },
			func(sc *corev1.SecurityContext) bool { return bad(sc.SeccompProfile) },
			"seccompProfile.type", fixSeccomp)
	case "appArmorProfile":
		bad := func(p *corev1.AppArmorProfile) bool {
			return p != nil && p.Type != corev1.AppArmorProfileTypeRuntimeDefault && p.Type != corev1.AppArmorProfileTypeLocalhost
		}
		out = l.securityContexts(
			func(sc *corev1.PodSecurityContext) bool { return bad(sc.AppArmorProfile) },
			func(sc *corev1.SecurityContext) bool { return bad(sc.AppArmorProfile) },
			"appArmorProfile.type", fixAppArmor)
		for _, key := range check.SortedKeys(l.meta.Annotations) {
			v := l.meta.Annotations[key]
			if strings.HasPrefix(key, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix) &&
				v != "" && v != corev1.DeprecatedAppArmorBetaProfileRuntimeDefault && !strings.HasPrefix(v, corev1.DeprecatedAppArmorBetaProfileNamePrefix) {
				out = append(out, finding{fmt.Sprintf("%s.annotations[%q]", l.metaPath, key), fixAnnotation})
			}
		}
	case "sysctls":
		forbidden := strings.Split(result.ForbiddenDetail, ", ")
		if l.pod.SecurityContext != nil {
			for i, s := range l.pod.SecurityContext.Sysctls {
				if slices.Contains(forbidden, s.Name) {
					out = append(out, finding{fmt.Sprintf("%s.securityContext.sysctls[%d]", l.specPath, i), fixSysctl})
				}
			}
		}
	case "windowsHostProcess":
		out = l.securityContexts(
			func(sc *corev1.PodSecurityContext) bool {
				return sc.WindowsOptions != nil && isTrue(sc.WindowsOptions.HostProcess)
			},
			func(sc *corev1.SecurityContext) bool {
				return sc.WindowsOptions != nil && isTrue(sc.WindowsOptions.HostProcess)
			},
			"windowsOptions.hostProcess", fixFalse)
	}
	return out
}

// volumes finds the volumes restrictedVolumes (or hostPathVolumes) refuses,
// naming the field that gives each its type.
func (l locator) volumes(id policy.CheckID) []finding {
	allowed := []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"}
	items, _ := l.spec["volumes"].([]any)
	var out []finding
	for i, item := range items {
		v, _ := item.(map[string]any)
		for _, key := range check.SortedKeys(v) {
			if key == "name" || v[key] == nil {
				continue
			}
			if (id == "hostPathVolumes" && key == "hostPath") || (id == "restrictedVolumes" && !slices.Contains(allowed, key)) {
				out = append(out, finding{fmt.Sprintf("%s.volumes[%d].%s", l.specPath, i, key), fixVolume})
			}
		}
	}
	return out
}

// handlerHosts finds the host fields of a probe's or lifecycle hook's HTTP
// and TCP handlers.
func handlerHosts(path string, http *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction) []finding {
	var out []finding
	if http != nil && http.Host != "" {
		out = append(out, finding{path + ".httpGet.host", fixHost})
	}
	if tcp != nil && tcp.Host != "" {
		out = append(out, finding{path + ".tcpSocket.host", fixHost})
	}
	return out
}

func isTrue(b *bool) bool  { return b != nil && *b }
func isFalse(b *bool) bool { return b != nil && !*b }

// RestrictedPodSpec evaluates one pod spec, given as decoded JSON, against
// Pod Security "restricted" as FillPodSecurity does, but fills nothing in:
// it is for a pod built from typed settings (pod.Settings), whose own
// fields are checked where they are set. Each problem's Key is the field's
// path inside the spec, e.g. "volumes[0].hostPath" or
// "initContainers[1].securityContext.privileged".
func RestrictedPodSpec(spec map[string]any) []check.Problem {
	o := Object{Obj: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{}, "spec": spec}}
	prefix := fmt.Sprintf("%s: %s/%s: spec", o.Source, Kind(o), Name(o))
	var out []check.Problem
	for _, q := range evaluate(o, spec, []string{"spec"}) {
		key := strings.TrimPrefix(strings.TrimPrefix(q.Key, prefix), ".")
		out = append(out, check.Problem{Key: key, Message: q.Message})
	}
	return out
}
