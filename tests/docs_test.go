package tests

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// The documentation's own checks, none of which needs a cluster: the
// configuration reference lists exactly the keys the code reads, every
// relative link names a file (and heading) that exists, and no page uses a
// word a reader cannot know.

// docFiles returns the documentation's pages, relative to root: the README,
// the changelog, every page of docs/ and the READMEs of test fixtures.
func docFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md", "CHANGELOG.md"}
	for _, pattern := range []string{"docs/*.md", "tests/testdata/*/README.md"} {
		found, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		for _, f := range found {
			rel, err := filepath.Rel(root, f)
			require.NoError(t, err)
			files = append(files, filepath.ToSlash(rel))
		}
	}
	return files
}

// pulumiTags returns the names in the pulumi tags of the fields of the
// struct v, each with prefix: the config keys of one config object.
func pulumiTags(v any, prefix string) []string {
	t := reflect.TypeOf(v)
	var out []string
	for i := range t.NumField() {
		if tag, ok := t.Field(i).Tag.Lookup("pulumi"); ok {
			out = append(out, prefix+strings.Split(tag, ",")[0])
		}
	}
	return out
}

// referenceRow is the first cell of a table row: `key` or `a`, `b`.
var (
	referenceRow = regexp.MustCompile("^\\| *(`[^|]*`) *\\|")
	backticked   = regexp.MustCompile("`([^`]+)`")
)

// referenceKeys returns the keys of the tables of docs/configuration.md, by
// the heading ("## …") they are under.
func referenceKeys(t *testing.T, text string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	heading, fence := "", false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			fence = !fence
		case fence:
		case strings.HasPrefix(line, "## "):
			heading = strings.TrimPrefix(line, "## ")
		default:
			if m := referenceRow.FindStringSubmatch(line); m != nil {
				for _, k := range backticked.FindAllStringSubmatch(m[1], -1) {
					out[heading] = append(out[heading], k[1])
				}
			}
		}
	}
	return out
}

// TestConfigReference: docs/configuration.md has one row for every config
// key the program reads (the pulumi tags of the release's args types, as
// config.Load reads them) and no row for a key it does not read; Pulumi.yaml
// declares the same top-level keys and names every field of its objects.
func TestConfigReference(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	keys := referenceKeys(t, string(mustRead(t, filepath.Join(root, "docs", "configuration.md"))))

	app := append(pulumiTags(release.App{}, "app."), "app.image")
	chart := pulumiTags(release.Chart{}, "app.chart.")
	gitops := pulumiTags(release.GitOpsSettings{}, "gitops.")
	job := pulumiTags(jobs.Job{}, "")
	top := config.TopLevelKeys()
	for _, c := range []struct {
		heading string
		want    []string
	}{
		{"Top-level keys", top},
		{"App keys", app},
		{"Chart keys", chart},
		{"GitOps keys", gitops},
		{"Job keys", job},
	} {
		assert.ElementsMatch(t, c.want, keys[c.heading], "the rows under %q of docs/configuration.md are the keys the program reads", c.heading)
	}
	// The names the code reads, pinned: a key renamed in the code must be
	// renamed in the docs and in users' stack files (an upgrade note).
	assert.Subset(t, top, []string{"namespace", "createNamespace", "adopt", "adoptFrom", "app", "preDeploy", "postDeploy", "release", "databaseUrl", "gitops"})
	assert.Subset(t, job, []string{"name", "command", "args", "image", "wave", "rerun", "backoffLimit", "timeout", "env", "resources", "annotations", "manifest"})

	var project struct {
		Config map[string]struct {
			Description string `yaml:"description"`
		} `yaml:"config"`
	}
	require.NoError(t, yaml.Unmarshal(mustRead(t, filepath.Join(root, "Pulumi.yaml")), &project))
	var declared []string
	for k := range project.Config {
		declared = append(declared, k)
	}
	assert.ElementsMatch(t, top, declared, "Pulumi.yaml declares the top-level keys the program reads")
	for key, fields := range map[string][]string{"app": app, "preDeploy": job, "gitops": gitops} {
		desc := project.Config[key].Description
		for _, f := range fields {
			name := f[strings.LastIndex(f, ".")+1:]
			assert.Regexp(t, `\b`+regexp.QuoteMeta(name)+`\b`, desc, "Pulumi.yaml's description of %s names its field %s", key, name)
		}
	}
}

// markdownLink is a link of a Markdown text: [text](target).
var markdownLink = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown text: lower case, punctuation dropped, spaces made hyphens, a
// repeated anchor numbered.
func headingAnchors(text string) map[string]bool {
	out := map[string]bool{}
	fence := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if fence || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		anchor := b.String()
		for i := 1; out[anchor]; i++ {
			anchor = b.String() + "-" + strconv.Itoa(i)
		}
		out[anchor] = true
	}
	return out
}

// inlineCode is a code span of a Markdown line.
var inlineCode = regexp.MustCompile("`[^`]*`")

// withoutCode returns text without its fenced blocks and inline code, where
// a link is not a link.
func withoutCode(text string) string {
	var out []string
	fence := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
			continue
		}
		if !fence {
			out = append(out, inlineCode.ReplaceAllString(line, ""))
		}
	}
	return strings.Join(out, "\n")
}

// TestDocLinks: every relative link of the documentation names a file that
// exists, and a heading of it that exists when it names one.
func TestDocLinks(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	for _, page := range docFiles(t, root) {
		text := withoutCode(string(mustRead(t, filepath.Join(root, page))))
		for _, m := range markdownLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := filepath.Join(root, filepath.Dir(page), file)
			if file == "" {
				path = filepath.Join(root, page)
			}
			b, err := os.ReadFile(path)
			if !assert.NoError(t, err, "%s links to %s, which does not exist", page, target) || anchor == "" {
				continue
			}
			assert.True(t, headingAnchors(string(b))[anchor], "%s links to %s: %s has no heading whose anchor is #%s", page, target, file, anchor)
		}
	}
}

// internalWords are words a reader of the documentation cannot know: where
// and by whom the project was built, not what it does.
var internalWords = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\bthese machines\b`),
	regexp.MustCompile(`(?i)\bthis session\b`),
	regexp.MustCompile(`(?i)\bstand-in\b`),
	regexp.MustCompile(`(?i)\bflux seed\b`),
	regexp.MustCompile(`(?i)\bissue \d+`),
	regexp.MustCompile(`\.\./shared\b`),
}

// TestDocWords: no page of the documentation uses an internal word.
func TestDocWords(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	for _, page := range docFiles(t, root) {
		for i, line := range strings.Split(string(mustRead(t, filepath.Join(root, page))), "\n") {
			for _, w := range internalWords {
				assert.False(t, w.MatchString(line), "%s:%d says %q, which a reader cannot know: %s", page, i+1, w.FindString(line), line)
			}
		}
	}
}

// testName is a test the documentation names: `TestX`, or `pkg.TestX` for
// a test of package pkg.
var testName = regexp.MustCompile("`(?:([a-z][a-z0-9]*)\\.)?((?:Test|Benchmark)[A-Za-z0-9_]*)`")

// TestDocTestNames: every test the documentation credits with a promise
// exists, in the package it names.
func TestDocTestNames(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	// Every test function of the repository, by the name of its package's
	// directory.
	funcs := map[string][]string{}
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Benchmark)[A-Za-z0-9_]*)\(`)
	for _, dir := range []string{"infra", "deploy", "provider", "tests", "tools"} {
		require.NoError(t, filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
				funcs[m[1]] = append(funcs[m[1]], filepath.Base(filepath.Dir(path)))
			}
			return nil
		}))
	}
	for _, page := range docFiles(t, root) {
		for _, m := range testName.FindAllStringSubmatch(string(mustRead(t, filepath.Join(root, page))), -1) {
			pkg, name := m[1], m[2]
			if !assert.Contains(t, funcs, name, "%s names %s, which no test file declares", page, m[0]) || pkg == "" {
				continue
			}
			assert.Contains(t, funcs[name], pkg, "%s names %s, but %s is a test of %v", page, m[0], name, funcs[name])
		}
	}
}
