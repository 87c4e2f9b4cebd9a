package manifest

import (
	"slices"

	"github.com/distribution/reference"
)

// PodSpecPath returns where kind keeps its pod template spec:
// ["spec","template","spec"] for Deployment, StatefulSet, DaemonSet,
// ReplicaSet, Job and ReplicationController;
// ["spec","jobTemplate","spec","template","spec"] for CronJob; ["spec"] for
// Pod. ok is false for every other kind.
func PodSpecPath(kind string) (path []string, ok bool) {
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		return []string{"spec", "template", "spec"}, true
	case "CronJob":
		return []string{"spec", "jobTemplate", "spec", "template", "spec"}, true
	case "Pod":
		return []string{"spec"}, true
	}
	return nil, false
}

// podMetaPath returns where a pod template's metadata is, beside its spec.
func podMetaPath(specPath []string) []string {
	return append(slices.Clone(specPath[:len(specPath)-1]), "metadata")
}

// podSpec returns the pod template spec of o, if its kind has one and it is
// there.
func podSpec(o Object) (spec map[string]any, path []string, ok bool) {
	path, ok = PodSpecPath(Kind(o))
	if !ok {
		return nil, nil, false
	}
	spec, ok = nestedMap(o.Obj, path...)
	return spec, path, ok
}

// containerLists are the lists of containers of a pod template.
var containerLists = []string{"initContainers", "containers"}

// containers returns the containers of kind list ("containers",
// "initContainers") in spec, skipping entries that are not mappings.
func containers(spec map[string]any, list string) []map[string]any {
	items, _ := spec[list].([]any)
	out := make([]map[string]any, 0, len(items))
	for _, item := range items {
		if c, ok := item.(map[string]any); ok {
			out = append(out, c)
		}
	}
	return out
}

// SetImage sets the image of every container and init container in the pod
// templates of objs whose image has the same repository as image, as
// kustomize's `images:` does. Repositories are compared normalized, so
// "nginx", "library/nginx" and "docker.io/library/nginx" are the same; tags
// and digests do not matter. It returns how many containers it set (one
// whose image was already exactly image counts too, so 0 means no container
// matched and the files' own images stand). Images that do not parse, and
// an image that does not, match nothing.
func SetImage(objs []Object, image string) int {
	want, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return 0
	}
	n := 0
	for _, o := range objs {
		spec, _, ok := podSpec(o)
		if !ok {
			continue
		}
		for _, list := range containerLists {
			for _, c := range containers(spec, list) {
				current, _ := c["image"].(string)
				ref, err := reference.ParseNormalizedNamed(current)
				if err != nil || ref.Name() != want.Name() {
					continue
				}
				c["image"] = image
				n++
			}
		}
	}
	return n
}
