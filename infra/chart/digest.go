package chart

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"

	helmchart "helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// inputDigest is [Rendered.InputDigest]: the hex SHA-256 of the content of ch and its subcharts
// (see chartFiles), then of the merged user values, the release name, the namespace and tests
// as canonical JSON. ch must be as loaded, before an install processes its dependencies.
func inputDigest(ch *helmchart.Chart, values map[string]any, releaseName, namespace string, tests bool) (string, error) {
	files, err := chartFiles(ch)
	if err != nil {
		return "", err
	}
	slices.SortFunc(files, func(x, y *helmchart.File) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), bytes.Compare(x.Data, y.Data))
	})
	h := sha256.New()
	for _, f := range files {
		// Each file framed by its path and length, so that no two sets of files hash alike.
		h.Write([]byte(f.Name + "\x00" + strconv.Itoa(len(f.Data)) + "\x00"))
		h.Write(f.Data)
	}
	// encoding/json writes a map's keys sorted: the same values give the same bytes.
	inputs, err := json.Marshal(struct {
		Values      map[string]any `json:"values"`
		ReleaseName string         `json:"releaseName"`
		Namespace   string         `json:"namespace"`
		Tests       bool           `json:"tests"`
	}{values, releaseName, namespace, tests})
	if err != nil {
		return "", fmt.Errorf("input digest: values: %w", err)
	}
	h.Write([]byte("\x00inputs\x00"))
	h.Write(inputs)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// chartFiles lists the content of ch and of each of its subcharts, each file named by its path
// as Helm names it ("shop/templates/deployment.yaml", "shop/charts/db/values.yaml"): Chart.yaml
// as its metadata in JSON (a chart packaged by `helm package` holds the same metadata, not the
// same bytes), values.yaml as written, values.schema.json, the templates and every other file.
// A subchart is covered whether it was loaded from a directory or a .tgz in charts/, and
// Chart.lock is not: what it pins is covered itself.
func chartFiles(ch *helmchart.Chart) ([]*helmchart.File, error) {
	base := ch.ChartFullPath()
	name := func(n string) string { return path.Join(base, n) }
	metadata, err := json.Marshal(ch.Metadata)
	if err != nil {
		return nil, fmt.Errorf("input digest: %s: %w", name(chartutil.ChartfileName), err)
	}
	files := []*helmchart.File{{Name: name(chartutil.ChartfileName), Data: metadata}}
	for _, f := range ch.Raw {
		if f.Name == chartutil.ValuesfileName {
			files = append(files, &helmchart.File{Name: name(f.Name), Data: f.Data})
		}
	}
	if ch.Schema != nil {
		files = append(files, &helmchart.File{Name: name(chartutil.SchemafileName), Data: ch.Schema})
	}
	for _, f := range slices.Concat(ch.Templates, ch.Files) {
		files = append(files, &helmchart.File{Name: name(f.Name), Data: f.Data})
	}
	for _, sub := range ch.Dependencies() {
		subFiles, err := chartFiles(sub)
		if err != nil {
			return nil, err
		}
		files = append(files, subFiles...)
	}
	return files, nil
}
