// Package chart renders a Helm chart offline with the Helm Go SDK and splits its output the way a
// release of pulumi-jobs runs it: the chart's non-hook objects are the app, its install and upgrade
// hooks become pre-deploy and post-deploy phases, its pre-delete and post-delete hooks are kept
// for the release's destroy, and every hook it does not run is named in [Rendered.Skipped]. The chart's crds/ files are apart from the app, in [Rendered.CRDs], and
// [Rendered.InputDigest] says when the chart's inputs changed, whatever the templates render.
//
// Rendering is Helm's own client-only install (what `helm template` does): [action.Install] with
// ClientOnly and DryRun, the chart loaded by [loader.Load], values merged by Helm's [values.Options]
// and [chartutil.MergeTables], hooks parsed by Helm's [releaseutil.SortManifests]. Given a cluster,
// .Capabilities are the cluster's, read from its discovery, and lookup reads it, as `helm install`
// renders. The package makes no Pulumi calls and, for a local chart without a cluster, no network
// calls.
package chart

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	helmchart "helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/downloader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/repo"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/pulumi-jobs/pulumi-jobs/infra/hook"
)

// DefaultKubeVersion is the Kubernetes version the chart sees in .Capabilities when
// [Args.KubeVersion] is empty: the version of the project's own cluster. (Helm's client-only
// rendering would assume v1.20.0, which fails every chart that declares a recent kubeVersion.)
const DefaultKubeVersion = "v1.36.3"

// Args says which chart to render and how.
type Args struct {
	// Root is the project directory; relative Path and ValuesFiles are relative to it.
	// Empty means the current directory.
	Root string
	// Path is a local chart: a directory with a Chart.yaml, or a .tgz made by `helm package`.
	Path string
	// Repo, Chart and Version name a chart in a chart repository (an https URL, or an oci://
	// registry path that Chart is appended to). Fetching it needs the network; an empty Version
	// takes the repository's latest stable version.
	Repo, Chart, Version string
	// Values are merged on top of ValuesFiles, as `--set` is on top of `-f` in Helm.
	Values map[string]any
	// ValuesFiles are local YAML files merged in order (later files win), on top of the chart's
	// own values.yaml.
	ValuesFiles []string
	// ReleaseName is the chart's release name (.Release.Name): the app's name.
	ReleaseName string
	// Namespace is .Release.Namespace. Helm does not write it into the objects: objects without
	// metadata.namespace belong in the release's namespace. Empty means "default".
	Namespace string
	// KubeVersion is the Kubernetes version in .Capabilities.KubeVersion, checked against the
	// chart's kubeVersion constraint, e.g. "v1.36.3". Empty means the version of [Args.Cluster]
	// as its discovery (/version) says, or [DefaultKubeVersion] without a cluster. When set, it
	// wins over the cluster's version (the cluster's API versions stay).
	KubeVersion string
	// IsUpgrade renders as an upgrade (.Release.IsUpgrade true, .Release.IsInstall false) and
	// runs the upgrade hooks; the default renders as an install and runs the install hooks.
	IsUpgrade bool
	// Cluster, when not nil, is the cluster the chart is rendered for, as `helm install`
	// renders: its discovery gives .Capabilities (the Kubernetes version, unless KubeVersion is
	// set, and the API versions it serves) and the chart's `lookup` calls read it. nil renders
	// as `helm template` does: Helm's client defaults in .Capabilities, every lookup returning
	// nothing.
	Cluster *rest.Config
	// Tests puts the chart's `test` hooks into PostDeploy; without it they are Skipped.
	Tests bool
}

// Object is one rendered object of the chart.
type Object struct {
	// Source is the template it came from, e.g. "shop/templates/deployment.yaml" (a subchart's
	// are "shop/charts/db/templates/…").
	Source string
	// Obj is the object as decoded by sigs.k8s.io/yaml: numbers are float64.
	Obj map[string]any
}

// Rendered is a chart split into the phases of a release.
type Rendered struct {
	// CRDs holds every object of the crds/ directories of the chart and of its enabled
	// subcharts, as they are written (Helm does not template crds/), each with the file's path
	// as Helm names it (e.g. "shop/crds/widgets.yaml"; a file may hold several): the chart's
	// own files first, then each subchart's, each chart's files by name, a file's objects in
	// their order. Helm installs them before anything else, only when they are missing, and
	// never upgrades or deletes them: the caller creates each one that the cluster lacks, and
	// never updates or deletes one. They are not in App.
	CRDs []Object
	// App holds the chart's non-hook objects in Helm's install order
	// (releaseutil.InstallOrder by kind, then by template path). A CustomResourceDefinition
	// written under templates/ is one of them, as it is to Helm; the crds/ files are in CRDs.
	App []Object
	// PreDeploy holds the hooks this release runs before the app (pre-install on an install,
	// pre-upgrade on an upgrade), in the order they run: by weight, then by kind in Helm's
	// install order (so a ConfigMap or Secret comes before the Job of its weight that uses
	// it), then by name. (Helm itself runs the hooks of one weight by name, with the kind only
	// breaking ties between equal names.)
	PreDeploy []hook.Hook
	// PostDeploy holds the hooks this release runs after the app (post-install or
	// post-upgrade, and test when [Args.Tests] is set), in the same order.
	PostDeploy []hook.Hook
	// Idle holds the hooks that only the other kind of release runs (an upgrade-only backup on
	// an install, an install-only seed on an upgrade), in the same order.
	Idle []hook.Hook
	// PreDelete and PostDelete hold the pre-delete and post-delete hooks, which the release's
	// destroy runs (before the app's objects are deleted, and after), in the same order.
	PreDelete, PostDelete []hook.Hook
	// Skipped has one sentence for each hook with events that are not run (pre-rollback,
	// post-rollback, and test when [Args.Tests] is not set; the second of a pre and a post
	// event of the same release), naming the events, the hook and its template, in the order
	// of the hooks.
	Skipped []string
	// Lookup says whether the chart's templates call `lookup`, whose answer depends on the
	// cluster: rendered without [Args.Cluster], every lookup returned nothing.
	Lookup bool
	// Capabilities says where the chart's .Capabilities came from: [CapabilitiesCluster], or
	// [CapabilitiesClientDefaults] when no cluster was given, so that the caller can warn that
	// templates which test .Capabilities.APIVersions may render differently on the cluster.
	Capabilities CapabilitiesSource
	// InputDigest is the hex SHA-256 of what the release is made of: the chart's content, the
	// merged user values, the release name, the namespace and [Args.Tests] (see [Render]).
	// Unlike the rendered objects it does not change with random values (randAlphaNum, genCA,
	// now) or lookup answers, so it is what decides an upgrade, as Flux's helm-controller
	// decides one from the chart and its values.
	InputDigest string
}

// Render renders the chart of a and splits it into its CRDs, the app's objects and its hooks.
//
// Given [Args.Cluster], Render first asks the cluster's discovery for its version and the API
// versions it serves (every group/version and group/version/Kind, as Helm's
// [action.GetVersionSet] lists them), which the chart sees in .Capabilities on top of Helm's
// client defaults; a cluster that does not answer discovery is an error.
//
// [Rendered.InputDigest] covers, for the chart and each of its subcharts (disabled ones
// included), in sorted order of their paths as Helm names them ("shop/templates/x.yaml",
// "shop/charts/db/values.yaml"): Chart.yaml as Helm read it (its metadata, so that a chart
// and its `helm package` .tgz give the same digest), values.yaml, values.schema.json, every
// template and every other file (crds/, README, …) as written; then the merged user values
// (ValuesFiles with Values on top, as canonical JSON), the release name, the namespace and
// Tests. It leaves out Chart.lock (the subcharts it pins are covered themselves), where the
// chart came from (path, repository), IsUpgrade, KubeVersion and the cluster.
//
// Errors name the chart and say how to fix them. Hooks whose name is random on every render
// (randAlphaNum, as test Pods often are) get a new name on every call.
func Render(a Args) (Rendered, error) {
	label := a.label()
	fail := func(format string, args ...any) (Rendered, error) {
		return Rendered{}, fmt.Errorf("chart %s: "+format, append([]any{label}, args...)...)
	}
	if a.ReleaseName == "" {
		return fail("no release name: set the app's name")
	}
	kubeVersion := a.KubeVersion
	if kubeVersion == "" && a.Cluster == nil {
		kubeVersion = DefaultKubeVersion
	}
	var kv *chartutil.KubeVersion
	if kubeVersion != "" {
		parsed, err := chartutil.ParseKubeVersion(kubeVersion)
		if err != nil {
			return fail("kube version %q: %w: write a version such as %q", kubeVersion, err, DefaultKubeVersion)
		}
		kv = parsed
	}

	archive, err := a.locate()
	if err != nil {
		return Rendered{}, err
	}
	ch, err := loader.Load(archive)
	if err != nil {
		return fail("cannot load it: %w: the path must be a chart directory with a Chart.yaml, or a .tgz made by `helm package`", err)
	}
	if label != ch.Name() {
		label = fmt.Sprintf("%s (%s)", ch.Name(), label)
	}
	if ch.Metadata.Type == "library" {
		return fail("it is a library chart, which cannot be installed: give an application chart")
	}
	if reqs := ch.Metadata.Dependencies; len(reqs) > 0 {
		if err := action.CheckDependencies(ch, reqs); err != nil {
			return fail("%w: run `helm dependency build` in the chart's directory so that its charts/ folder holds them", err)
		}
	}

	vals, err := a.values()
	if err != nil {
		return fail("%w", err)
	}
	namespace := cmp.Or(a.Namespace, "default")
	// Before the install, which changes the chart (it drops disabled subcharts) and the values.
	digest, err := inputDigest(ch, vals, a.ReleaseName, namespace, a.Tests)
	if err != nil {
		return fail("%w", err)
	}

	cfg := &action.Configuration{Log: func(string, ...any) {}}
	install := action.NewInstall(cfg)
	// Client-only: Helm builds .Capabilities from its defaults, install.KubeVersion and
	// install.APIVersions, and asks the cluster for nothing else.
	install.ClientOnly = true
	install.DryRun = true
	capabilities := CapabilitiesClientDefaults
	if a.Cluster != nil {
		clusterVersion, apiVersions, err := discover(a.Cluster)
		if err != nil {
			return fail("cannot read the cluster's capabilities: %w: the cluster must answer discovery (/version, /api, /apis and each API group's resource list) to the credentials given; check that it is reachable from here and that its API services are available (kubectl get apiservices)", err)
		}
		capabilities = CapabilitiesCluster
		install.APIVersions = apiVersions
		if kv == nil {
			kv, kubeVersion = clusterVersion, clusterVersion.Version
		}
		// Helm's own switch for a dry run that reads the cluster: lookup asks it, everything
		// else stays client-only.
		install.DryRunOption = "server"
		cfg.RESTClientGetter = restGetter{a.Cluster}
	}
	install.Replace = true
	install.IncludeCRDs = false // the crds/ files are read from the chart, apart from the app
	install.SkipSchemaValidation = true
	install.DisableHooks = false
	install.KubeVersion = kv
	install.IsUpgrade = a.IsUpgrade
	install.ReleaseName = a.ReleaseName
	install.Namespace = namespace
	rel, err := install.Run(ch, vals)
	if err != nil {
		hint := ""
		if strings.Contains(err.Error(), "kubeVersion") {
			if a.KubeVersion == "" && a.Cluster != nil {
				hint = ": the cluster runs " + kubeVersion + ": use a version of the chart made for it"
			} else {
				hint = ": set the Kubernetes version the chart is rendered for to the cluster's (it is " + kubeVersion + ")"
			}
		}
		return fail("cannot render it: %w%s", err, hint)
	}

	out := Rendered{Capabilities: capabilities, InputDigest: digest}
	// After the install: ch holds the enabled subcharts only, as when Helm installs the CRDs.
	if out.CRDs, err = crdObjects(ch); err != nil {
		return fail("%w", err)
	}
	if out.App, err = appObjects(rel.Manifest); err != nil {
		return fail("%w", err)
	}
	hooks, err := toHooks(rel.Hooks)
	if err != nil {
		return fail("%w", err)
	}
	for _, h := range hooks {
		h.Runs = hook.Place(h.Events, a.IsUpgrade, a.Tests)
		h.Home = cmp.Or(h.Runs, hook.Place(h.Events, !a.IsUpgrade, a.Tests))
		switch {
		case h.Runs == hook.Pre:
			out.PreDeploy = append(out.PreDeploy, h)
		case h.Runs == hook.Post:
			out.PostDeploy = append(out.PostDeploy, h)
		case h.Home != hook.None:
			out.Idle = append(out.Idle, h)
		}
		var run, skipped []string
		for _, e := range h.Events {
			switch e {
			case hook.PreInstall, hook.PreUpgrade, hook.PostInstall, hook.PostUpgrade:
				run = append(run, e)
			case hook.PreDelete:
				run = append(run, e)
				out.PreDelete = append(out.PreDelete, h)
			case hook.PostDelete:
				run = append(run, e)
				out.PostDelete = append(out.PostDelete, h)
			case hook.Test:
				if a.Tests {
					run = append(run, e)
				} else {
					skipped = append(skipped, e)
				}
			default:
				skipped = append(skipped, e)
			}
		}
		if len(skipped) > 0 {
			out.Skipped = append(out.Skipped, skipSentence(h, run, skipped))
		}
		if twice := twiceIn(h.Events, a.IsUpgrade); twice != "" {
			out.Skipped = append(out.Skipped, fmt.Sprintf("hook %s/%s (%s) is a %s hook: Helm runs it twice, it runs once, before the app", h.Kind, h.Name, h.Source, twice))
		}
	}
	out.Lookup = callsLookup(ch)
	return out, nil
}

// twiceIn names the pre and post event of one kind of release that events both hold
// ("pre-install and post-install"), or is empty.
func twiceIn(events []string, upgrade bool) string {
	pre, post := hook.PreInstall, hook.PostInstall
	if upgrade {
		pre, post = hook.PreUpgrade, hook.PostUpgrade
	}
	if slices.Contains(events, pre) && slices.Contains(events, post) {
		return pre + " and " + post
	}
	return ""
}

// callsLookup says whether a template of ch or of its subcharts calls lookup.
func callsLookup(ch *helmchart.Chart) bool {
	for _, t := range ch.Templates {
		if bytes.Contains(t.Data, []byte("lookup")) {
			return true
		}
	}
	return slices.ContainsFunc(ch.Dependencies(), callsLookup)
}

// label names the chart as the user wrote it, for errors.
func (a Args) label() string {
	if a.Path != "" {
		return a.Path
	}
	if a.Version != "" {
		return fmt.Sprintf("%s %s from %s", a.Chart, a.Version, a.Repo)
	}
	return fmt.Sprintf("%s from %s", a.Chart, a.Repo)
}

// path resolves p against Root.
func (a Args) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(a.Root, p)
}

// locate returns the chart's directory or archive, fetching it from its repository if need be.
func (a Args) locate() (string, error) {
	remote := a.Repo != "" || a.Chart != "" || a.Version != ""
	switch {
	case a.Path != "" && remote:
		return "", fmt.Errorf("chart %s: both a path and a repository chart (%s from %s): give one of them", a.Path, a.Chart, a.Repo)
	case a.Path != "":
		p := a.path(a.Path)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("chart %s: %w: the path is relative to the project directory and must be a chart directory or a .tgz", a.Path, err)
		}
		return p, nil
	case a.Repo == "" && a.Chart == "":
		return "", errors.New("no chart: give a path, or a repo, chart and version")
	case a.Chart == "":
		return "", fmt.Errorf("chart repository %s: no chart: give the name of the chart in it", cmp.Or(a.Repo, "(none)"))
	case a.Repo == "":
		return "", fmt.Errorf("chart %s: no repo: give the repository's URL (https://… or oci://…), or the chart's path", a.Chart)
	}
	return a.fetch()
}

// fetch downloads the chart from its repository into Helm's repository cache
// ($HELM_REPOSITORY_CACHE, by default ~/.cache/helm/repository).
func (a Args) fetch() (string, error) {
	settings := cli.New()
	getters := getter.All(settings)
	dl := downloader.ChartDownloader{
		Out:              io.Discard,
		Getters:          getters,
		RepositoryConfig: settings.RepositoryConfig,
		RepositoryCache:  settings.RepositoryCache,
	}
	ref := ""
	if registry.IsOCI(a.Repo) {
		rc, err := registry.NewClient(registry.ClientOptWriter(io.Discard), registry.ClientOptCredentialsFile(settings.RegistryConfig))
		if err != nil {
			return "", fmt.Errorf("chart %s: registry client: %w", a.label(), err)
		}
		dl.RegistryClient = rc
		dl.Options = append(dl.Options, getter.WithRegistryClient(rc))
		ref = strings.TrimSuffix(a.Repo, "/") + "/" + a.Chart
	} else {
		if u, err := url.Parse(a.Repo); err != nil || u.Scheme == "" || u.Host == "" {
			return "", fmt.Errorf("chart %s: repo %q is not a URL: write it as https://… or oci://…", a.label(), a.Repo)
		}
		u, err := repo.FindChartInRepoURL(a.Repo, a.Chart, a.Version, "", "", "", getters)
		if err != nil {
			return "", fmt.Errorf("chart %s: cannot find it in repository %s: %w: check that the repository is reachable from here and holds that chart and version, or vendor the chart and give its path", a.label(), a.Repo, err)
		}
		ref = u
	}
	if err := os.MkdirAll(settings.RepositoryCache, 0o755); err != nil {
		return "", fmt.Errorf("chart %s: helm repository cache: %w", a.label(), err)
	}
	file, _, err := dl.DownloadTo(ref, a.Version, settings.RepositoryCache)
	if err != nil {
		return "", fmt.Errorf("chart %s: cannot download it from %s: %w: check that the repository is reachable from here and holds that chart and version, or vendor the chart and give its path", a.label(), a.Repo, err)
	}
	return file, nil
}

// values merges ValuesFiles in order and Values on top, with Helm's own functions. The chart's
// values.yaml is coalesced under them by the install.
func (a Args) values() (map[string]any, error) {
	opts := values.Options{}
	for _, f := range a.ValuesFiles {
		opts.ValueFiles = append(opts.ValueFiles, a.path(f))
	}
	merged, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return nil, fmt.Errorf("values files %v: %w: values files are YAML files relative to the project directory", a.ValuesFiles, err)
	}
	if len(a.Values) == 0 {
		return merged, nil
	}
	// MergeTables changes both maps: give it copies, so that a.Values stays as it was.
	top, err := throughYAML(a.Values)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	return chartutil.MergeTables(top, merged), nil
}

// throughYAML copies a values map by writing and reading it as YAML: a deep
// copy, with Go values (ints, typed slices) turned into what Helm reads
// from a values file.
func throughYAML(m map[string]any) (map[string]any, error) {
	b, err := yaml.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if err := yaml.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// appObjects decodes the release's manifest, which Helm wrote in install order, each document
// headed by "# Source: <template>".
func appObjects(manifest string) ([]Object, error) {
	docs := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	var objs []Object
	for _, k := range keys {
		doc := docs[k]
		source := ""
		if line, _, _ := strings.Cut(strings.TrimLeft(doc, "\n"), "\n"); strings.HasPrefix(line, "# Source: ") {
			source = strings.TrimPrefix(line, "# Source: ")
		}
		obj, err := decode(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if obj != nil {
			objs = append(objs, Object{Source: source, Obj: obj})
		}
	}
	return objs, nil
}

// decode reads one YAML document; nil when it holds no object (only comments).
func decode(doc string) (map[string]any, error) {
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		return nil, fmt.Errorf("not a YAML object: %w", err)
	}
	if len(obj) == 0 {
		return nil, nil
	}
	return obj, nil
}

// toHooks converts Helm's hooks and sorts them: by weight, then kind in install order, then name.
func toHooks(hs []*release.Hook) ([]hook.Hook, error) {
	var out []hook.Hook
	for _, h := range hs {
		obj, err := decode(h.Manifest)
		if err != nil {
			return nil, fmt.Errorf("hook %s/%s (%s): %w", h.Kind, h.Name, h.Path, err)
		}
		// Helm reads a weight that is not a whole number as 0, which silently reorders the
		// hooks; refuse it instead.
		if w := annotation(obj, release.HookWeightAnnotation); w != "" {
			if _, err := strconv.Atoi(w); err != nil {
				return nil, fmt.Errorf("hook %s/%s (%s): %s %q is not a whole number: write one such as \"-5\" (Helm would run it at weight 0)", h.Kind, h.Name, h.Path, release.HookWeightAnnotation, w)
			}
		}
		hk := hook.Hook{
			Source: h.Path, Object: obj, Kind: h.Kind, Name: h.Name, Weight: h.Weight,
			Events: make([]string, 0, len(h.Events)),
		}
		for _, e := range h.Events {
			hk.Events = append(hk.Events, string(e))
		}
		for _, p := range h.DeletePolicies {
			hk.DeletePolicies = append(hk.DeletePolicies, string(p))
		}
		out = append(out, hk)
	}
	slices.SortStableFunc(out, func(x, y hook.Hook) int {
		return cmp.Or(
			cmp.Compare(x.Weight, y.Weight),
			compareKinds(x.Kind, y.Kind),
			cmp.Compare(x.Name, y.Name),
		)
	})
	return out, nil
}

// compareKinds orders kinds as Helm installs them: releaseutil.InstallOrder, then unknown kinds
// by name.
func compareKinds(x, y string) int {
	rank := func(k string) int {
		if i := slices.Index(releaseutil.InstallOrder, k); i >= 0 {
			return i
		}
		return len(releaseutil.InstallOrder)
	}
	return cmp.Or(cmp.Compare(rank(x), rank(y)), cmp.Compare(x, y))
}

// annotation returns one annotation of a decoded object, "" when absent.
func annotation(obj map[string]any, key string) string {
	meta, _ := obj["metadata"].(map[string]any)
	anns, _ := meta["annotations"].(map[string]any)
	v, _ := anns[key].(string)
	return v
}

// skipSentence says which events of h are not run, and why.
func skipSentence(h hook.Hook, run, skipped []string) string {
	why := "pulumi-jobs runs install, upgrade and delete hooks only"
	if slices.Equal(skipped, []string{hook.Test}) {
		why = "test hooks run as post-deploy smoke tests only with tests: true"
	} else if slices.Contains(skipped, hook.Test) {
		why += ", and test hooks only with tests: true"
	}
	if len(run) > 0 {
		return fmt.Sprintf("hook %s/%s (%s) runs for %s but not for %s: %s",
			h.Kind, h.Name, h.Source, strings.Join(run, ","), strings.Join(skipped, ","), why)
	}
	return fmt.Sprintf("%s hook %s/%s (%s) is not run: %s", strings.Join(skipped, ","), h.Kind, h.Name, h.Source, why)
}

// restGetter gives Helm's dry run the cluster for lookup. A client-only install never asks it
// for discovery or a REST mapper: its .Capabilities are set before it renders (Render reads the
// cluster's discovery itself, see discover), and it installs no CRDs.
type restGetter struct{ config *rest.Config }

// ToRESTConfig returns a copy of the cluster's config, for lookup.
func (g restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

// ToDiscoveryClient refuses: a client-only install does not ask for it.
func (g restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return nil, errors.New("a client-only render reads no discovery through Helm")
}

// ToRESTMapper refuses: a client-only install does not ask for it.
func (g restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	return nil, errors.New("a client-only render maps no resources")
}
