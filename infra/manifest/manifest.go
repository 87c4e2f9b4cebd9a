// Package manifest reads the Kubernetes objects a project already keeps as
// files — a YAML file, a directory of YAML files, or a kustomization — and
// prepares them for a release: the release's namespace, the release's image,
// and the fields Pod Security "restricted" requires. It makes no Pulumi calls:
// it works on the objects as decoded YAML, and the components register them.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Object is one Kubernetes object read from the project's files.
type Object struct {
	// Source is where the object came from, for messages: the file's path
	// relative to the project directory ("deploy/deployment.yaml"), or a
	// kustomization's directory followed by " (kustomization)".
	Source string
	// Obj is the object as decoded YAML or JSON: map[string]any, []any,
	// string, int64, float64, bool and nil.
	Obj map[string]any
}

// Kind returns the object's kind, or "" when it has none.
func Kind(o Object) string {
	s, _ := o.Obj["kind"].(string)
	return s
}

// Name returns the object's metadata.name, or "" when it has none.
func Name(o Object) string {
	s, _ := nestedString(o.Obj, "metadata", "name")
	return s
}

// APIVersion returns the object's apiVersion, or "" when it has none.
func APIVersion(o Object) string {
	s, _ := o.Obj["apiVersion"].(string)
	return s
}

// Namespace returns the object's metadata.namespace, or "" when it has none.
func Namespace(o Object) string {
	s, _ := nestedString(o.Obj, "metadata", "namespace")
	return s
}

// Annotate sets the annotation key to value on every object's metadata
// (never on a pod template: a change there would roll pods or re-run Jobs).
func Annotate(objs []Object, key, value string) {
	for _, o := range objs {
		meta, ok := ensureMap(o.Obj, "metadata")
		if !ok {
			continue
		}
		if ann, ok := ensureMap(meta, "annotations"); ok {
			ann[key] = value
		}
	}
}

// Kept reports whether the files ask that the object outlive its release,
// and which annotation asks it: Helm's "helm.sh/resource-policy: keep",
// Argo CD's "argocd.argoproj.io/sync-options: Delete=false" and Flux's
// "kustomize.toolkit.fluxcd.io/prune: disabled" (each as its tool reads
// it). Such an object is never deleted: not on destroy, not when it
// leaves the files.
func Kept(o Object) (annotation string, kept bool) {
	meta, _ := o.Obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	value := func(k string) string { s, _ := ann[k].(string); return strings.TrimSpace(s) }
	if value("helm.sh/resource-policy") == "keep" {
		return "helm.sh/resource-policy: keep", true
	}
	for _, opt := range strings.Split(value("argocd.argoproj.io/sync-options"), ",") {
		if strings.TrimSpace(opt) == "Delete=false" {
			return "argocd.argoproj.io/sync-options: Delete=false", true
		}
	}
	if strings.EqualFold(value("kustomize.toolkit.fluxcd.io/prune"), "disabled") {
		return "kustomize.toolkit.fluxcd.io/prune: disabled", true
	}
	return "", false
}

// String renders the object as "Deployment/shop (deploy/deployment.yaml)".
func (o Object) String() string {
	return fmt.Sprintf("%s/%s (%s)", Kind(o), Name(o), o.Source)
}

// manifestExts are the extensions of the files read from a plain directory.
var manifestExts = []string{".yaml", ".yml", ".json"}

// Load reads the Kubernetes objects at path, which is relative to root (the
// Pulumi project's directory) or absolute:
//
//   - a YAML or JSON file: every document of it, in order ("---" separates
//     documents; empty documents are skipped; a List is expanded into its
//     items);
//   - a directory with a kustomization.yaml, kustomization.yml or
//     Kustomization: the objects kustomize builds from it, with kustomize's
//     own library and its default options (plugins off, files only from
//     inside the directory); a path naming such a file builds its directory;
//   - any other directory: every *.yaml, *.yml and *.json file directly in it
//     (not in subdirectories), in order of their names, each read as a file.
//
// It fails when path holds no object at all, and on any document that is not
// a Kubernetes object with apiVersion and kind.
func Load(root, path string) ([]Object, error) {
	if strings.TrimSpace(path) == "" {
		return nil, errors.New("no path given; give a YAML file, a directory of YAML files or a directory with a kustomization.yaml, relative to the project directory")
	}
	full := path
	if !filepath.IsAbs(path) {
		full = filepath.Join(root, path)
	}
	display := displayPath(root, path)
	info, err := os.Stat(full)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a file or directory (%w); give a YAML file, a directory of YAML files or a directory with a kustomization.yaml, relative to the project directory %s", display, err, projectDir(root))
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", display, err)
	}
	var objs []Object
	switch {
	case info.IsDir():
		objs, err = loadDir(full, display)
	case info.Mode().IsRegular() && slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(full)):
		objs, err = loadKustomization(filepath.Dir(full), displayDir(display))
	case info.Mode().IsRegular():
		objs, err = loadFile(full, display)
	default:
		return nil, fmt.Errorf("%s is not a file or directory but a %s; give a YAML file, a directory of YAML files or a directory with a kustomization.yaml", display, info.Mode().Type())
	}
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%s has no Kubernetes objects: every document in it is empty; put the app's manifests there or give another path", display)
	}
	return objs, nil
}

// loadDir reads a directory: a kustomization, or the manifest files in it.
func loadDir(dir, display string) ([]Object, error) {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		if info, err := os.Stat(filepath.Join(dir, name)); err == nil && info.Mode().IsRegular() {
			return loadKustomization(dir, display)
		}
	}
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("reading the directory %s: %w", display, err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && slices.Contains(manifestExts, strings.ToLower(filepath.Ext(e.Name()))) {
			files = append(files, e.Name())
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s has no Kubernetes objects: it holds no *.yaml, *.yml or *.json file and no kustomization.yaml (subdirectories are not read); put the app's manifests there or give another path", display)
	}
	var objs []Object
	for _, name := range files {
		fileObjs, err := loadFile(filepath.Join(dir, name), joinDisplay(display, name))
		if err != nil {
			return nil, err
		}
		objs = append(objs, fileObjs...)
	}
	return objs, nil
}

// loadKustomization builds the kustomization in dir with kustomize's own
// library, as `kustomize build dir` does.
func loadKustomization(dir, display string) ([]Object, error) {
	source := display + " (kustomization)"
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("building the kustomization %s: %w; `kustomize build %s` shows the same", display, err, display)
	}
	out, err := resources.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("building the kustomization %s: %w", display, err)
	}
	return decode(out, source)
}

// loadFile reads one YAML or JSON file.
func loadFile(file, display string) ([]Object, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", display, err)
	}
	return decode(data, display)
}

// document is one YAML document of a file: its text and the line where its
// content starts.
type document struct {
	// text is the document, after as many empty lines as come before it in
	// the file, so that the line numbers of YAML errors are the file's.
	text []byte
	// line is the file's line where the document's content starts.
	line int
}

// splitDocuments splits a YAML stream at its "---" lines. Documents with no
// content (only blank lines and comments) are left out, so the first
// document is the first with content, whether or not the file starts with
// "---".
func splitDocuments(data []byte) []document {
	var (
		docs    []document
		cur     bytes.Buffer
		start   int // line of the first content line of cur, 0 while none
		lineNum int
	)
	flush := func() {
		if start > 0 {
			docs = append(docs, document{text: bytes.Clone(cur.Bytes()), line: start})
		}
		cur.Reset()
		start = 0
	}
	for line := range bytes.Lines(data) {
		lineNum++
		trimmed := bytes.TrimRight(line, "\r\n")
		if isSeparator(trimmed) {
			flush()
			// Content may follow the marker on its line: "--- {a: 1}".
			rest := bytes.TrimSpace(trimmed[3:])
			if len(rest) == 0 || rest[0] == '#' {
				cur.Write(bytes.Repeat([]byte("\n"), lineNum))
				continue
			}
			cur.Write(bytes.Repeat([]byte("\n"), lineNum-1))
			line = append(bytes.Clone(rest), '\n')
			trimmed = rest
		}
		cur.Write(line)
		if content := bytes.TrimSpace(trimmed); start == 0 && len(content) > 0 && content[0] != '#' {
			start = lineNum
		}
	}
	flush()
	return docs
}

// isSeparator reports whether line starts a new YAML document.
func isSeparator(line []byte) bool {
	return bytes.HasPrefix(line, []byte("---")) && (len(line) == 3 || line[3] == ' ' || line[3] == '\t')
}

// decode reads every object of a YAML or JSON stream.
func decode(data []byte, source string) ([]Object, error) {
	var objs []Object
	for i, doc := range splitDocuments(data) {
		where := fmt.Sprintf("%s: document %d (line %d)", source, i+1, doc.line)
		var v any
		if err := yaml.Unmarshal(doc.text, &v); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", where, err)
		}
		if v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("decoding %s: a Kubernetes object is a mapping with apiVersion and kind, not a %s", where, describe(v))
		}
		if err := checkObject(m, where); err != nil {
			return nil, err
		}
		if !isList(m) {
			objs = append(objs, Object{Source: source, Obj: m})
			continue
		}
		items, ok := m["items"].([]any)
		if !ok && m["items"] != nil {
			return nil, fmt.Errorf("decoding %s: the items of a %s must be a list, not a %s", where, m["kind"], describe(m["items"]))
		}
		for j, item := range items {
			itemWhere := fmt.Sprintf("%s, items[%d]", where, j)
			im, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("decoding %s: a Kubernetes object is a mapping with apiVersion and kind, not a %s", itemWhere, describe(item))
			}
			if err := checkObject(im, itemWhere); err != nil {
				return nil, err
			}
			objs = append(objs, Object{Source: source, Obj: im})
		}
	}
	return objs, nil
}

// isList reports whether m is a list of objects, as `kubectl get -o yaml`
// writes them: kind List, or a kind ending in "List" that has items.
func isList(m map[string]any) bool {
	kind, _ := m["kind"].(string)
	if kind == "List" {
		return true
	}
	_, hasItems := m["items"]
	return strings.HasSuffix(kind, "List") && hasItems
}

// checkObject refuses a document without apiVersion or kind.
func checkObject(m map[string]any, where string) error {
	var missing []string
	for _, field := range []string{"apiVersion", "kind"} {
		if s, _ := m[field].(string); s == "" {
			missing = append(missing, field)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%s has no %s; every Kubernetes object needs apiVersion and kind (e.g. apiVersion: apps/v1, kind: Deployment)", where, strings.Join(missing, " and no "))
}

// describe names the YAML type of v for messages.
func describe(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	case map[string]any:
		return "mapping"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// displayPath is how messages name path: as given when relative, relative to
// root when absolute and inside it, with forward slashes.
func displayPath(root, path string) string {
	if filepath.IsAbs(path) {
		if absRoot, err := filepath.Abs(root); err == nil {
			if rel, err := filepath.Rel(absRoot, path); err == nil && filepath.IsLocal(rel) {
				path = rel
			}
		}
	}
	return filepath.ToSlash(filepath.Clean(path))
}

// displayDir is the directory of a displayed file path.
func displayDir(display string) string {
	return filepath.ToSlash(filepath.Dir(filepath.FromSlash(display)))
}

// joinDisplay names a file in a displayed directory.
func joinDisplay(dir, name string) string {
	if dir == "." {
		return name
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}

// projectDir names root for messages.
func projectDir(root string) string {
	if abs, err := filepath.Abs(root); err == nil {
		return abs
	}
	return root
}

// nestedMap returns the mapping at path inside m.
func nestedMap(m map[string]any, path ...string) (map[string]any, bool) {
	for _, key := range path {
		next, ok := m[key].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

// nestedString returns the string at path inside m.
func nestedString(m map[string]any, path ...string) (string, bool) {
	parent, ok := nestedMap(m, path[:len(path)-1]...)
	if !ok {
		return "", false
	}
	s, ok := parent[path[len(path)-1]].(string)
	return s, ok
}

// ensureMap returns m[key] as a mapping, creating it when it is absent or
// null. ok is false when m[key] holds something else, which is left alone.
func ensureMap(m map[string]any, key string) (child map[string]any, ok bool) {
	switch v := m[key].(type) {
	case map[string]any:
		return v, true
	case nil:
		child = map[string]any{}
		m[key] = child
		return child, true
	default:
		return nil, false
	}
}

// isSet reports whether m sets key to a value (null counts as unset).
func isSet(m map[string]any, key string) bool {
	return m != nil && m[key] != nil
}
