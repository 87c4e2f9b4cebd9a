package manifest

import "strings"

// clusterScoped are the cluster-scoped kinds of Kubernetes itself, by API
// group ("" is the core group), as `kubectl api-resources --namespaced=false`
// lists them for Kubernetes 1.36.
var clusterScoped = map[string][]string{
	"":                             {"ComponentStatus", "Namespace", "Node", "PersistentVolume"},
	"admissionregistration.k8s.io": {"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration"},
	"apiextensions.k8s.io":         {"CustomResourceDefinition"},
	"apiregistration.k8s.io":       {"APIService"},
	"authentication.k8s.io":        {"SelfSubjectReview", "TokenReview"},
	"authorization.k8s.io":         {"SelfSubjectAccessReview", "SelfSubjectRulesReview", "SubjectAccessReview"},
	"certificates.k8s.io":          {"CertificateSigningRequest", "ClusterTrustBundle"},
	"flowcontrol.apiserver.k8s.io": {"FlowSchema", "PriorityLevelConfiguration"},
	"internal.apiserver.k8s.io":    {"StorageVersion"},
	"networking.k8s.io":            {"IPAddress", "IngressClass", "ServiceCIDR"},
	"node.k8s.io":                  {"RuntimeClass"},
	"policy":                       {"PodSecurityPolicy"},
	"rbac.authorization.k8s.io":    {"ClusterRole", "ClusterRoleBinding"},
	"resource.k8s.io":              {"DeviceClass", "DeviceTaintRule", "ResourceSlice"},
	"scheduling.k8s.io":            {"PriorityClass"},
	"storage.k8s.io":               {"CSIDriver", "CSINode", "StorageClass", "VolumeAttachment", "VolumeAttributesClass"},
	"storagemigration.k8s.io":      {"StorageVersionMigration"},
}

// groupKind is an object's API group and kind.
type groupKind struct{ group, kind string }

// groupKindOf returns the API group (from apiVersion "group/version", or ""
// for the core group's "v1") and kind of obj.
func groupKindOf(obj map[string]any) groupKind {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	group, _, found := strings.Cut(apiVersion, "/")
	if !found {
		group = ""
	}
	return groupKind{group, kind}
}

// SetNamespace sets metadata.namespace to ns on every namespaced object that
// has none. Cluster-scoped kinds are left alone: those of Kubernetes itself,
// and custom resources whose CustomResourceDefinition is among objs with
// scope Cluster. Any other kind counts as namespaced.
func SetNamespace(objs []Object, ns string) {
	cluster := map[groupKind]bool{}
	for group, kinds := range clusterScoped {
		for _, kind := range kinds {
			cluster[groupKind{group, kind}] = true
		}
	}
	for _, o := range objs {
		if groupKindOf(o.Obj) != (groupKind{"apiextensions.k8s.io", "CustomResourceDefinition"}) {
			continue
		}
		scope, _ := nestedString(o.Obj, "spec", "scope")
		group, _ := nestedString(o.Obj, "spec", "group")
		kind, _ := nestedString(o.Obj, "spec", "names", "kind")
		if scope == "Cluster" {
			cluster[groupKind{group, kind}] = true
		}
	}
	for _, o := range objs {
		if cluster[groupKindOf(o.Obj)] {
			continue
		}
		meta, ok := ensureMap(o.Obj, "metadata")
		if !ok {
			continue
		}
		if v := meta["namespace"]; v == nil || v == "" {
			meta["namespace"] = ns
		}
	}
}
