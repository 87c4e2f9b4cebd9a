// Package helmstate reads what Helm itself recorded in the cluster about a
// release, so that pulumi-jobs can take over a release that `helm install`
// (or `helm upgrade`) made and continue it as an upgrade instead of an install.
//
// Helm 3 and Helm 4 store revision N of release <name> in namespace <ns> as
// the Secret sh.helm.release.v1.<name>.v<N>, of type helm.sh/release.v1,
// labelled owner=helm, name=<name>, status=<status>, version=<N>, whose
// data.release is the base64 text of the gzipped JSON of the release (so
// the API server shows it base64-encoded twice). The package picks revisions
// by those labels, as Helm's own storage does, and decodes the one it returns
// with Helm's own storage driver (helm.sh/helm/v3/pkg/storage/driver).
package helmstate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/storage/driver"
)

// Release is the latest deployed revision of a Helm release, as Helm
// recorded it in the cluster.
type Release struct {
	// Name and Namespace are the release's, as recorded.
	Name, Namespace string
	// Revision is the deployed revision N: the highest-numbered revision
	// whose status is deployed.
	Revision int
	// Chart, ChartVersion and AppVersion are the name, version and
	// appVersion of that revision's chart (Chart.yaml).
	Chart, ChartVersion, AppVersion string
	// Hooks are every hook of that revision's chart, in the order Helm
	// recorded them, with what Helm recorded of its last run.
	Hooks []Hook
	// Objects are the objects of that revision's manifest, in manifest
	// order; hooks are not among them (Helm keeps them apart).
	Objects []Object
	// Pending, when not nil, is a revision Helm recorded after Revision
	// (the highest-numbered one), which is therefore not deployed: an upgrade
	// or rollback that failed (status failed), is still running or was
	// interrupted (pending-upgrade, pending-rollback), or an uninstall
	// under way (uninstalling). The objects in the cluster may be partly
	// that revision's. Helm itself refuses to upgrade while the latest
	// revision is pending-*. Nil when Revision is the latest revision.
	Pending *Pending
}

// Pending is the latest revision of a release, recorded after its deployed
// revision and not deployed itself.
type Pending struct {
	// Revision is that revision's number, greater than Release.Revision.
	Revision int
	// Status is its status as Helm recorded it: failed, pending-upgrade,
	// pending-rollback, pending-install, uninstalling, ...
	Status string
}

// Hook is a hook of a release's chart and what Helm recorded of its last run.
type Hook struct {
	// Kind and Name are the hook object's kind and metadata.name.
	Kind, Name string
	// Events are the helm.sh/hook events it runs on, e.g. pre-install, post-upgrade.
	Events []string
	// LastRun is the phase of its last run: Succeeded, Failed, Running,
	// Unknown, or "" when Helm never ran it.
	LastRun string
}

// Object is an object of a release's manifest.
type Object struct {
	// APIVersion, Kind and Name are the object's, as rendered.
	APIVersion, Kind string
	// Namespace is as the manifest states it: "" when the manifest leaves
	// it out, in which case Helm put a namespaced object in the release's
	// namespace (and a cluster-scoped one has none).
	Namespace string
	Name      string
}

// Next is the revision number the next upgrade of the release records, as
// Helm numbers it: one more than the latest revision Helm recorded, which is
// Pending's when there is one, not Revision's.
func (r *Release) Next() int {
	if r.Pending != nil {
		return r.Pending.Revision + 1
	}
	return r.Revision + 1
}

// Latest returns the latest revision of release name, among the records
// secrets holds (a Secrets client for the release's namespace), whose
// status is deployed, with Pending set when a later revision is not
// deployed. It returns nil and no error when Helm has no record of that
// release there, or no deployed revision of it (e.g. only failed ones, or
// after `helm uninstall --keep-history`). It returns an error, naming the
// Secret and a fix, when the records cannot be listed, or when the labels
// of one of them or the release data of the returned one cannot be read.
// Only that revision's data is decoded: a damaged record of an older
// revision does not stop it, as it does not stop Helm.
func Latest(ctx context.Context, secrets corev1client.SecretInterface, name string) (*Release, error) {
	selector, err := labels.ValidatedSelectorFromSet(labels.Set{"owner": "helm", "name": name})
	if name == "" || err != nil {
		return nil, fmt.Errorf("helmstate: %q is not a Helm release name; fix: pass the name the release was installed with (helm list shows it)", name)
	}
	list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, fmt.Errorf("helmstate: list the Secrets that record Helm release %q (labels %s): %w; fix: check the cluster is reachable and that the deployer may list Secrets in the release's namespace", name, selector, err)
	}

	var deployed, last *corev1.Secret
	var deployedRev, lastRev int
	for i := range list.Items {
		s := &list.Items[i]
		rev, err := strconv.Atoi(s.Labels["version"])
		if err != nil || rev < 1 {
			return nil, fmt.Errorf("helmstate: Secret %s/%s, a record of Helm release %q, has label version=%q where Helm writes the revision number; fix: repair or delete that Secret (kubectl get secret -n %s %s -o yaml)", s.Namespace, s.Name, name, s.Labels["version"], s.Namespace, s.Name)
		}
		if rev > lastRev {
			last, lastRev = s, rev
		}
		if s.Labels["status"] == string(release.StatusDeployed) && rev > deployedRev {
			deployed, deployedRev = s, rev
		}
	}
	if deployed == nil {
		return nil, nil
	}

	rel, err := decode(deployed)
	if err != nil {
		return nil, fmt.Errorf("helmstate: decode Secret %s/%s, Helm's record of release %q revision %d: %w; fix: check that `helm history %s -n %s` can read it; if Helm cannot either, the record is damaged: restore it, or delete the release's records and let pulumi-jobs install the release afresh", deployed.Namespace, deployed.Name, name, deployedRev, err, name, deployed.Namespace)
	}
	if rel.Name != name || rel.Version != deployedRev {
		return nil, fmt.Errorf("helmstate: Secret %s/%s records release %q revision %d, but its labels say release %q revision %d; fix: repair or delete that Secret (kubectl get secret -n %s %s -o yaml)", deployed.Namespace, deployed.Name, rel.Name, rel.Version, name, deployedRev, deployed.Namespace, deployed.Name)
	}
	objects, err := manifestObjects(rel.Manifest)
	if err != nil {
		return nil, fmt.Errorf("helmstate: read the manifest of Helm release %q revision %d (Secret %s/%s): %w; fix: check that `helm get manifest %s -n %s` is valid YAML", name, deployedRev, deployed.Namespace, deployed.Name, err, name, deployed.Namespace)
	}

	out := &Release{
		Name:      rel.Name,
		Namespace: rel.Namespace,
		Revision:  rel.Version,
		Objects:   objects,
	}
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		out.Chart = rel.Chart.Metadata.Name
		out.ChartVersion = rel.Chart.Metadata.Version
		out.AppVersion = rel.Chart.Metadata.AppVersion
	}
	for _, h := range rel.Hooks {
		if h == nil {
			continue
		}
		hook := Hook{Kind: h.Kind, Name: h.Name, LastRun: string(h.LastRun.Phase)}
		for _, e := range h.Events {
			hook.Events = append(hook.Events, string(e))
		}
		out.Hooks = append(out.Hooks, hook)
	}
	if lastRev > deployedRev {
		out.Pending = &Pending{Revision: lastRev, Status: last.Labels["status"]}
	}
	return out, nil
}

// ForConfig is Latest with a Secrets client made from cfg for namespace ns.
func ForConfig(ctx context.Context, cfg *rest.Config, ns, name string) (*Release, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("helmstate: make a Kubernetes client: %w; fix: check the kubeconfig", err)
	}
	return Latest(ctx, client.CoreV1().Secrets(ns), name)
}

// decode decodes the release that Secret s records, with Helm's own storage
// driver. Its Get would fetch the Secret again and, in Helm v3.21.4,
// dereferences a nil release when the data cannot be decoded (a panic);
// its List and Query skip such records silently, reporting them only to
// its Log. So the driver is given s alone through an in-memory
// SecretInterface, and Log keeps the reason.
func decode(s *corev1.Secret) (*release.Release, error) {
	var reason error
	d := driver.NewSecrets(one{s: s})
	d.Log = func(format string, args ...any) { reason = fmt.Errorf(format, args...) }
	rels, err := d.Query(map[string]string{})
	switch {
	case err != nil:
		return nil, err
	case len(rels) == 1 && rels[0] != nil:
		return rels[0], nil
	case reason != nil:
		return nil, reason
	default:
		return nil, errors.New("the storage driver returned no release")
	}
}

// one is a SecretInterface whose List returns Secret s, and nothing else;
// its other methods are not implemented (nil).
type one struct {
	corev1client.SecretInterface
	s *corev1.Secret
}

// List returns s.
func (o one) List(context.Context, metav1.ListOptions) (*corev1.SecretList, error) {
	return &corev1.SecretList{Items: []corev1.Secret{*o.s}}, nil
}

// manifestObjects is the objects of manifest, a release's rendered
// templates, split as Helm splits them, in order; documents without a kind
// (empty, or comments only) are left out.
func manifestObjects(manifest string) ([]Object, error) {
	docs := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))

	var objects []Object
	for i, k := range keys {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(docs[k]), &head); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if head.Kind == "" {
			continue
		}
		objects = append(objects, Object{
			APIVersion: head.APIVersion,
			Kind:       head.Kind,
			Namespace:  head.Metadata.Namespace,
			Name:       head.Metadata.Name,
		})
	}
	return objects, nil
}
