package chart

import (
	"cmp"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	helmchart "helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/releaseutil"
)

// crdObjects reads the objects of the crds/ files of ch and of its subcharts, as Helm's install
// collects them (ch.CRDObjects()), untemplated. Helm installs them in the order the files were
// loaded, which for subcharts is a map's order; here the chart's own files come first, then each
// subchart's (by its path), each chart's files by name, a file's documents in their order.
func crdObjects(ch *helmchart.Chart) ([]Object, error) {
	crds := ch.CRDObjects()
	slices.SortStableFunc(crds, func(x, y helmchart.CRD) int {
		return cmp.Or(
			slices.Compare(chartOf(x), chartOf(y)),
			cmp.Compare(x.Name, y.Name),
		)
	})
	var out []Object
	for _, crd := range crds {
		docs := releaseutil.SplitManifests(string(crd.File.Data))
		keys := make([]string, 0, len(docs))
		for k := range docs {
			keys = append(keys, k)
		}
		sort.Sort(releaseutil.BySplitManifestsOrder(keys))
		for _, k := range keys {
			obj, err := decode(docs[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w: a crds/ file holds YAML objects, which Helm does not template", crd.Filename, err)
			}
			if obj != nil {
				out = append(out, Object{Source: crd.Filename, Obj: obj})
			}
		}
	}
	return out, nil
}

// chartOf is the path of the chart a crds/ file belongs to, by segment (shop, charts, db), so
// that a chart sorts right before its subcharts.
func chartOf(crd helmchart.CRD) []string {
	dir := path.Clean(strings.TrimSuffix(filepath.ToSlash(crd.Filename), crd.Name))
	return strings.Split(dir, "/")
}
