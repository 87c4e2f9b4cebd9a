package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/pulumi-jobs/pulumi-jobs/deploy/driver"
	"github.com/pulumi-jobs/pulumi-jobs/tests/localcluster"
)

// The documentation's command blocks are tested the way a user types them.
// Every fenced block of README.md and of the pages under docs/ whose info
// string carries id=NAME is one a user copies; this file says what becomes
// of each:
//
//   - a shell block (sh) runs, command by command, in the order of docPages
//     (README.md, then the pages of docs/ in that order, then any other page of
//     docs/ in alphabetical order), in one shell session (what a line exports and where it cds carries over to
//     the next), in a fresh copy of the repository with a HOME of its own,
//     on a local cluster that the README's own `make up` / `make cluster-up`
//     start;
//   - a block with file=PATH is a program the user saves: it is written to
//     PATH, relative to the session's directory at that point;
//   - a block with excerpt=FILE is an excerpt of FILE: every line of it, those
//     with "…" aside, must be in FILE, in order;
//   - a block named in readmeSkipped cannot run here: the test says so and why.
//
// A shell block the test does not know fails it, and so does a check below
// whose command is no longer in the README.

// docPages are the pages whose blocks TestReadme types, in this order: the
// README, then a user's path through the docs (the getting-started session
// sets up the shell that components and troubleshooting use;
// troubleshooting's last block stops the local cluster). Any other page of
// docs/ follows, in alphabetical order.
var docPages = []string{"README.md", "docs/getting-started.md", "docs/components.md", "docs/troubleshooting.md"}

// readmeSkipped names each block that make test cannot run, with the reason.
var readmeSkipped = map[string]string{
	"make-test": "it is the command that runs this test",
	"job-logs": "no container runs on the local cluster's simulated nodes, so a successful Job's pod has no log to read; " +
		"TestFailureReport reads the logs kwok is told to serve for a failing pod",
	"laptop-go": "needs the Go language host (pulumi-language-go), which make tools does not build (its module is not " +
		"served by the module proxy); the next block, laptop-driver, runs the same program on the same stack instead",
	"gitops": "needs a Pulumi Cloud access token, the network and the Pulumi Kubernetes Operator, and its `pulumi up` " +
		"needs the Go language host; TestGitOpsStackAccepted checks the Stack it declares against the operator's CRD",
	"deployments-remote": "runs in Pulumi Deployments: needs a Pulumi Cloud access token and the network; " +
		"deploy/driver/remote_test.go asserts its exact remote arguments against a fake pulumi",
	"deployments-settings": "edits a stack's deployment settings in Pulumi Cloud: needs an access token and the network; " +
		"deploy/driver/remote_test.go asserts the exact command of each preset",
	"csharp-snippet": "needs the .NET SDK and language host and Pulumi's NuGet packages, none of which make tools " +
		"provides; TestGeneratedSDKs checks the generated C# types and args",
	"typescript-snippet": "needs the Node.js language host, which make tools does not build, and @pulumi/kubernetes, " +
		"whose install downloads its provider binary (offline it fails); TestGeneratedSDKs checks the generated TypeScript types",
	"python-snippet": "needs Pulumi's Python SDK from PyPI and the Python language host, neither of which make tools " +
		"provides; TestGeneratedSDKs checks the generated Python types",
}

// readmeExamplesBlock runs once per directory of examples/: the block names
// readmeFirstExample and says the others may stand in its place.
const (
	readmeExamplesBlock = "examples"
	readmeFirstExample  = "release-yaml"
)

// readmeBlock is a fenced block of a page of the documentation.
type readmeBlock struct {
	page  string // the page, relative to the repository root
	line  int    // of the opening fence, from 1
	lang  string
	attrs map[string]string
	body  string
}

func (b readmeBlock) id() string { return b.attrs["id"] }

// at is where the block is: page:line.
func (b readmeBlock) at() string { return fmt.Sprintf("%s:%d", b.page, b.line) }

// parseReadme returns the fenced blocks of a Markdown text, the page named
// page.
func parseReadme(page, text string) ([]readmeBlock, error) {
	var out []readmeBlock
	var cur *readmeBlock
	var body []string
	for i, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "```") {
			if cur != nil {
				body = append(body, line)
			}
			continue
		}
		if cur != nil {
			if strings.TrimSpace(line) != "```" {
				return nil, fmt.Errorf("%s:%d: a fence opens inside the block of line %d", page, i+1, cur.line)
			}
			cur.body = strings.Join(body, "\n")
			out = append(out, *cur)
			cur, body = nil, nil
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, "```"))
		b := readmeBlock{page: page, line: i + 1, attrs: map[string]string{}}
		for j, f := range fields {
			if j == 0 && !strings.Contains(f, "=") {
				b.lang = f
				continue
			}
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return nil, fmt.Errorf("%s:%d: info string word %q is not key=value", page, i+1, f)
			}
			b.attrs[k] = v
		}
		cur = &b
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: the block is never closed", page, cur.line)
	}
	return out, nil
}

// isShell reports whether a block's language is a shell's.
func isShell(lang string) bool {
	return slices.Contains([]string{"sh", "bash", "shell", "console", "zsh"}, lang)
}

// readmeCommand is one command of a shell block: what bash runs, and the same
// without its comment, for reading and matching.
type readmeCommand struct {
	raw, text string
}

// readmeCommands splits a shell block into the commands a user types: a line
// (with its backslash continuations), blank and comment lines left out.
func readmeCommands(body string) []readmeCommand {
	var out []readmeCommand
	var cur []string
	for _, l := range strings.Split(body, "\n") {
		if len(cur) == 0 && (strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#")) {
			continue
		}
		cur = append(cur, l)
		if strings.HasSuffix(l, `\`) {
			continue
		}
		raw := strings.Join(cur, "\n")
		var parts []string
		for _, c := range cur {
			parts = append(parts, strings.TrimSuffix(stripShellComment(c), `\`))
		}
		out = append(out, readmeCommand{raw: raw, text: strings.Join(strings.Fields(strings.Join(parts, " ")), " ")})
		cur = nil
	}
	return out
}

// stripShellComment removes a trailing # comment that is outside quotes.
func stripShellComment(line string) string {
	var quote rune
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return strings.TrimSpace(line[:i])
		}
	}
	return strings.TrimSpace(line)
}

// readmeCheck runs after one command of the README: the stepth command of
// block, which must read cmd (comment removed).
type readmeCheck struct {
	block string
	step  int
	cmd   string
	check func(t *testing.T, s *readmeSession, output string)
}

// The documentation's figures for the dev stack, as Pulumi.dev.yaml and
// docs/getting-started.md ("2. From a laptop with the `pulumi` CLI") set
// them.
const (
	readmeDevNamespace = "shop-dev"
	readmeDatabaseURL  = "postgres://shop:…@db:5432/shop"
)

var readmePreDeploy = []string{"migrate-schema", "migrate-search-index", "seed-reference-data"}
var readmePostDeploy = []string{"warm-cache", "smoke-test"}

func readmeChecks() []readmeCheck {
	return []readmeCheck{
		{"make-up", 1, "make up", func(t *testing.T, s *readmeSession, _ string) {
			assert.True(t, hasSalt(mustRead(t, filepath.Join(s.repo, "Pulumi.dev.yaml"))), "make up created the stack with the exported passphrase and wrote its salt")
			s.checkDevRelease(t, "ghcr.io/acme/shop:1.4.2")
		}},
		{"make-up", 2, "make down", func(t *testing.T, s *readmeSession, _ string) {
			s.checkClusterGone(t)
		}},
		{"fresh-stack", 2, "git checkout Pulumi.dev.yaml", func(t *testing.T, s *readmeSession, _ string) {
			assert.False(t, hasSalt(mustRead(t, filepath.Join(s.repo, "Pulumi.dev.yaml"))), "the shipped stack file is back, without a salt")
			assert.NoDirExists(t, filepath.Join(s.repo, ".state", "backend"))
		}},
		{"laptop-setup", 0, "make tools plugins cluster-up driver", func(t *testing.T, s *readmeSession, _ string) {
			s.checkPlugins(t)
			// Through the kubeconfig make cluster-up wrote (its CA, its port).
			_, err := s.client(t).Discovery().ServerVersion()
			for deadline := time.Now().Add(30 * time.Second); err != nil && time.Now().Before(deadline); {
				time.Sleep(500 * time.Millisecond)
				_, err = s.client(t).Discovery().ServerVersion()
			}
			require.NoError(t, err, "the local cluster answers")
			assert.FileExists(t, filepath.Join(s.repo, "bin", "pulumi-jobs"))
		}},
		{"laptop-config", 0, "pulumi stack select --create dev", func(t *testing.T, s *readmeSession, _ string) {
			assert.True(t, hasSalt(mustRead(t, filepath.Join(s.repo, "Pulumi.dev.yaml"))), "the new stack's salt, for the exported passphrase")
		}},
		{"laptop-config", 4, "pulumi config set --secret databaseUrl 'postgres://shop:…@db:5432/shop'", func(t *testing.T, s *readmeSession, _ string) {
			stackFile := string(mustRead(t, filepath.Join(s.repo, "Pulumi.dev.yaml")))
			assert.Contains(t, stackFile, "secure:", "the database URL is stored encrypted")
			assert.NotContains(t, stackFile, readmeDatabaseURL)
		}},
		{"laptop-driver", 0, "bin/pulumi-jobs preview && bin/pulumi-jobs up", func(t *testing.T, s *readmeSession, _ string) {
			s.checkDevRelease(t, "ghcr.io/acme/shop:1.4.3")
			secrets, err := s.client(t).CoreV1().Secrets(readmeDevNamespace).List(context.Background(), listOpts(labelPartOf+"=shop"))
			require.NoError(t, err)
			require.Len(t, secrets.Items, 1, "the release's database Secret")
			assert.Equal(t, readmeDatabaseURL, string(secrets.Items[0].Data["DATABASE_URL"]), "the secret set with the CLI reached the cluster")
		}},
		{"laptop-next", 0, "bin/pulumi-jobs up", func(t *testing.T, s *readmeSession, _ string) {
			before, generation := s.devUIDs, s.devGeneration
			s.checkDevRelease(t, "ghcr.io/acme/shop:1.4.3")
			assert.Equal(t, before, s.devUIDs, "an up with no change ran no Job")
			assert.Equal(t, generation, s.devGeneration, "an up with no change left the Deployment alone")
		}},
		{"laptop-next", 2, "bin/pulumi-jobs up", func(t *testing.T, s *readmeSession, _ string) {
			before := s.devUIDs
			s.checkDevRelease(t, "ghcr.io/acme/shop:1.4.4")
			for _, name := range append(slices.Clone(readmePreDeploy), readmePostDeploy...) {
				if name == "seed-reference-data" {
					assert.Equal(t, before[name], s.devUIDs[name], "the once Job did not run again")
				} else {
					assert.NotEqual(t, before[name], s.devUIDs[name], "the new image ran %s again", name)
				}
			}
		}},
		{"laptop-next", 3, "pulumi stack output preDeployJobs", func(t *testing.T, s *readmeSession, output string) {
			for _, name := range readmePreDeploy {
				assert.Contains(t, output, s.devNames[name], "the CLI reads the run of %s that the driver made", name)
			}
		}},
		{"yaml-program-up", 2, "pulumi up --yes", func(t *testing.T, s *readmeSession, _ string) {
			s.checkOwnProgram(t)
			// `make plugins` is what lets a CLI that does not have bin/ on PATH
			// run the programs offline: the plugin cache alone serves a preview.
			out, err := s.command(t, s.cwd, s.withoutBinOnPath(), 5*time.Minute,
				filepath.Join(s.repo, "bin", "pulumi"), "preview", "--non-interactive")
			require.NoError(t, err, "a preview of my-app with the plugins from the plugin cache only:\n%s", out)
		}},
		{"yaml-program-up", 3, "pulumi destroy --yes", func(t *testing.T, s *readmeSession, _ string) {
			s.checkNamespaceGone(t, "my-app")
		}},
		{readmeExamplesBlock, 2, "pulumi up --yes", func(t *testing.T, s *readmeSession, _ string) {
			s.checkExample(t)
		}},
		{readmeExamplesBlock, 3, "pulumi destroy --yes", func(t *testing.T, s *readmeSession, _ string) {
			s.checkNamespaceGone(t, s.exampleNamespace(t))
		}},
		{"job-runs", 0, "kubectl -n shop-dev get jobs -L pulumi-jobs/phase,pulumi-jobs/wave,pulumi-jobs/job", func(t *testing.T, s *readmeSession, output string) {
			for _, name := range append(slices.Clone(readmePreDeploy), readmePostDeploy...) {
				assert.Contains(t, output, s.devNames[name], "kubectl lists the last run of %s", name)
			}
		}},
		{"rerun-job", 2, "bin/pulumi-jobs up", func(t *testing.T, s *readmeSession, _ string) {
			s.checkRerun(t, "seed-reference-data")
		}},
	}
}

// pagesInOrder returns the pages of the documentation in the order their
// blocks run: docPages, then every other page of docs/, alphabetically.
func pagesInOrder(t *testing.T, root string) []string {
	t.Helper()
	pages := slices.Clone(docPages)
	others, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	slices.Sort(others)
	for _, f := range others {
		if rel := "docs/" + filepath.Base(f); !slices.Contains(pages, rel) {
			pages = append(pages, rel)
		}
	}
	return pages
}

// readReadme parses the README and the pages of docs/, in the order their
// blocks run.
func readReadme(t *testing.T, root string) []readmeBlock {
	t.Helper()
	var blocks []readmeBlock
	for _, page := range pagesInOrder(t, root) {
		text, err := os.ReadFile(filepath.Join(root, page))
		require.NoError(t, err, "docPages names %s", page)
		b, err := parseReadme(page, string(text))
		require.NoError(t, err)
		blocks = append(blocks, b...)
	}
	return blocks
}

// checkReadmeMarks fails the test for a shell block without an id, an id
// used twice, a marked block the test does not know what to do with, and a
// skip or check that names no block of the README.
func checkReadmeMarks(t *testing.T, blocks []readmeBlock) {
	t.Helper()
	seen := map[string]readmeBlock{}
	for _, b := range blocks {
		id := b.id()
		if id == "" {
			assert.False(t, isShell(b.lang), "%s: a %s block without an id= in its info string: mark it, and run it or name it in readmeSkipped with the reason", b.at(), b.lang)
			continue
		}
		if prev, dup := seen[id]; dup {
			t.Errorf("%s: id %q is also the id of the block at %s", b.at(), id, prev.at())
		}
		seen[id] = b
		_, skipped := readmeSkipped[id]
		kinds := 0
		for _, k := range []bool{skipped, b.attrs["file"] != "", b.attrs["excerpt"] != "", isShell(b.lang) && !skipped} {
			if k {
				kinds++
			}
		}
		assert.Equal(t, 1, kinds, "%s: block %q must be exactly one of: a shell block that runs, file=, excerpt=, named in readmeSkipped", b.at(), id)
	}
	for id := range readmeSkipped {
		assert.Contains(t, seen, id, "readmeSkipped names block %q, which no page of the documentation has", id)
	}
	for _, c := range readmeChecks() {
		b, ok := seen[c.block]
		if !assert.True(t, ok, "a check runs after block %q, which no page of the documentation has", c.block) {
			continue
		}
		cmds := readmeCommands(b.body)
		if assert.Less(t, c.step, len(cmds), "%s: block %q has no command %d for its check (%q)", b.at(), c.block, c.step, c.cmd) {
			assert.Equal(t, c.cmd, cmds[c.step].text, "%s: command %d of block %q, which a check follows", b.at(), c.step, c.block)
		}
	}
	ex, ok := seen[readmeExamplesBlock]
	if assert.True(t, ok, "no page of the documentation has the block %q", readmeExamplesBlock) {
		cmds := readmeCommands(ex.body)
		require.NotEmpty(t, cmds)
		assert.Equal(t, "cd examples/"+readmeFirstExample, cmds[0].text, "%s: the examples block starts in examples/%s", ex.at(), readmeFirstExample)
	}
}

// checkExcerpt fails the test unless every line of the block, those with
// "…" aside, is in the file it names, in order (comments and spacing
// aside).
func checkExcerpt(t *testing.T, root string, b readmeBlock) {
	t.Helper()
	norm := func(l string) string {
		for i := 0; i+1 < len(l); i++ {
			if l[i] == '/' && l[i+1] == '/' && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t') {
				l = l[:i]
				break
			}
		}
		return strings.Join(strings.Fields(l), " ")
	}
	var file []string
	for _, l := range strings.Split(string(mustRead(t, filepath.Join(root, b.attrs["excerpt"]))), "\n") {
		if n := norm(l); n != "" {
			file = append(file, n)
		}
	}
	at := 0
	for _, l := range strings.Split(b.body, "\n") {
		n := norm(l)
		if n == "" || strings.Contains(l, "…") {
			continue
		}
		for at < len(file) && !strings.Contains(file[at], n) {
			at++
		}
		if !assert.Less(t, at, len(file), "%s: %q is not in %s (after the lines before it)", b.at(), n, b.attrs["excerpt"]) {
			return
		}
		at++
	}
}

// saltLine is the line of a stack file that binds it to a passphrase.
var saltLine = regexp.MustCompile(`(?m)^encryptionsalt:`)

// hasSalt reports whether a stack file binds a passphrase.
func hasSalt(stackFile []byte) bool { return saltLine.Match(stackFile) }

// shippedStackFiles returns the stack files (Pulumi.<stack>.yaml) the
// repository ships, as committed: what a fresh clone has.
func shippedStackFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	names, err := exec.Command("git", "-C", root, "ls-tree", "--name-only", "HEAD").Output()
	if err != nil {
		t.Logf("not a git checkout (%v): checking the working tree's stack files", err)
		files, _ := filepath.Glob(filepath.Join(root, "Pulumi.*.yaml"))
		for _, f := range files {
			out[filepath.Base(f)] = string(mustRead(t, f))
		}
		return out
	}
	for _, name := range strings.Fields(string(names)) {
		if strings.HasPrefix(name, "Pulumi.") && strings.HasSuffix(name, ".yaml") && name != "Pulumi.yaml" {
			b, err := exec.Command("git", "-C", root, "show", "HEAD:"+name).Output()
			require.NoError(t, err)
			out[name] = string(b)
		}
	}
	return out
}

// TestReadmeBlocks checks, without a cluster, that every command block of
// the README and of docs/ is marked and known to TestReadme, that the
// excerpts are excerpts of the code they name, and that the shipped stack
// files bind no passphrase.
func TestReadmeBlocks(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	blocks := readReadme(t, root)
	checkReadmeMarks(t, blocks)
	for _, b := range blocks {
		if b.attrs["excerpt"] != "" {
			checkExcerpt(t, root, b)
		}
	}

	stacks := shippedStackFiles(t, root)
	require.Contains(t, stacks, "Pulumi.dev.yaml")
	for name, text := range stacks {
		assert.False(t, hasSalt([]byte(text)), "%s as committed binds a passphrase: remove its encryptionsalt line (the stack's creator writes their own)", name)
		assert.NotContains(t, text, "secure:", "%s as committed holds a secret value, which only the passphrase it was set with opens", name)
		if local, err := os.ReadFile(filepath.Join(root, name)); err == nil && hasSalt(local) {
			t.Logf("%s in the working tree has an encryptionsalt a local run wrote: keep it out of commits", name)
		}
	}

	examples, err := os.ReadDir(filepath.Join(root, "examples"))
	require.NoError(t, err)
	for _, d := range examples {
		assert.FileExists(t, filepath.Join(root, "examples", d.Name(), "Pulumi.yaml"), "TestReadme runs the examples block in each directory of examples/")
	}
}

// TestReadme types the commands of the README and of docs/ (docPages), in
// order, as a user does: in a fresh copy of the repository with a HOME of its
// own, on the local cluster the README's `make up` starts. Between commands
// it checks the cluster (client-go), the stack files and the plugin cache.
// The blocks that cannot run here are reported as skipped subtests, with the
// reason.
func TestReadme(t *testing.T) {
	e := setup(t)
	blocks := readReadme(t, e.root)
	checkReadmeMarks(t, blocks)
	if t.Failed() {
		t.FailNow()
	}
	s := newReadmeSession(t, e)
	examples := readmeExampleDirs(t, e.root)

	for _, b := range blocks {
		id := b.id()
		if id == "" {
			continue
		}
		var ok bool
		switch {
		case readmeSkipped[id] != "":
			ok = t.Run(id, func(t *testing.T) { t.Skip("not run here: " + readmeSkipped[id]) })
		case b.attrs["excerpt"] != "":
			ok = t.Run(id, func(t *testing.T) {
				checkExcerpt(t, e.root, b)
				if strings.HasSuffix(b.attrs["excerpt"], ".go") {
					t.Skipf("not run here: it needs the Go language host, which make tools does not build; its lines are those of %s, whose Example `make test` runs on Pulumi's mocked monitor", b.attrs["excerpt"])
				}
				t.Logf("an excerpt of %s: its lines are that file's", b.attrs["excerpt"])
			})
		case b.attrs["file"] != "":
			ok = t.Run(id, func(t *testing.T) {
				path := filepath.Join(s.cwd, b.attrs["file"])
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, []byte(b.body+"\n"), 0o644))
				t.Logf("saved the block as %s", b.attrs["file"])
			})
		case id == readmeExamplesBlock:
			ok = true
			for _, dir := range examples {
				body := strings.ReplaceAll(b.body, "examples/"+readmeFirstExample, "examples/"+dir)
				ok = ok && t.Run(id+"/"+dir, func(t *testing.T) {
					if dir != readmeFirstExample {
						t.Logf("the block as written runs examples/%s; here with examples/%s in its place, as its comment says", readmeFirstExample, dir)
					}
					s.example = dir
					s.runBlock(t, id, body)
				})
			}
		default:
			ok = t.Run(id, func(t *testing.T) { s.runBlock(t, id, b.body) })
		}
		if !ok {
			t.Fatalf("block %q (%s) failed: the blocks after it depend on it", id, b.at())
		}
	}

	for _, c := range readmeChecks() {
		assert.True(t, s.checked[c.block+"/"+strconv.Itoa(c.step)], "the check after command %d of block %q (%s) never ran", c.step, c.block, c.cmd)
	}
}

// readmeExampleDirs returns the directories of examples/, the one the
// examples block of docs/components.md names first.
func readmeExampleDirs(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "examples"))
	require.NoError(t, err)
	dirs := []string{readmeFirstExample}
	for _, d := range entries {
		if d.IsDir() && d.Name() != readmeFirstExample {
			dirs = append(dirs, d.Name())
		}
	}
	return dirs
}

// readmeSession is the user's shell: its environment and directory carry
// from one command to the next.
type readmeSession struct {
	e    *env
	root string // the temporary directory: repo/, home/, the session's files
	repo string // the fresh copy of the repository
	env  []string
	cwd  string
	// pids are the local cluster's processes seen so far: kwokctl starts them
	// detached, and this process (a child subreaper) inherits them.
	pids    map[int]bool
	checked map[string]bool
	checks  map[string]readmeCheck
	example string // the directory of examples/ the examples block runs in

	// The dev release as the last check saw it.
	devUIDs       map[string]types.UID
	devNames      map[string]string
	devGeneration int64
}

const readmeTempPrefix = "pulumi-jobs-readme-"

// newReadmeSession copies the repository's working tree into a new directory
// as a fresh clone would have it, and prepares a user's environment there.
func newReadmeSession(t *testing.T, e *env) *readmeSession {
	t.Helper()
	sweepReadmeOrphans(t)
	root, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", readmeTempPrefix, os.Getpid()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	s := &readmeSession{e: e, root: root, repo: filepath.Join(root, "repo"), pids: map[int]bool{}, checked: map[string]bool{}, checks: map[string]readmeCheck{}}
	for _, c := range readmeChecks() {
		s.checks[c.block+"/"+strconv.Itoa(c.step)] = c
	}
	s.cwd = s.repo
	home := filepath.Join(root, "home")
	require.NoError(t, os.MkdirAll(home, 0o755))

	copyWorkingTree(t, e.root, s.repo)
	// bin/ as `make tools` left it, but the driver, which `make up` builds.
	bin, err := filepath.Abs(e.bin)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(s.repo, "bin"), 0o755))
	entries, err := os.ReadDir(bin)
	require.NoError(t, err)
	for _, f := range entries {
		if f.Name() != "pulumi-jobs" && !f.IsDir() {
			require.NoError(t, os.Symlink(filepath.Join(bin, f.Name()), filepath.Join(s.repo, "bin", f.Name())))
		}
	}
	git := func(args ...string) {
		out, err := exec.Command("git", append([]string{"-C", s.repo, "-c", "user.name=readme", "-c", "user.email=readme@localhost",
			"-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)...).CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "a fresh clone")

	// The user's environment: this one, less what configures Pulumi, the
	// cluster or make, with a HOME of its own (and a new ~/.pulumi) and
	// Go's caches where they are (so nothing is downloaded or rebuilt cold).
	goEnv := map[string]string{}
	out, err := exec.Command("go", "env", "-json", "GOENV", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(out, &goEnv))
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PULUMI_") || strings.HasPrefix(k, "KWOK_") || strings.HasPrefix(k, "MAKE") ||
			slices.Contains([]string{"MFLAGS", "KUBECONFIG", "HOME", "PWD", "OLDPWD", "GOWORK"}, k) {
			continue
		}
		s.env = append(s.env, kv)
	}
	// Pulumi finds its home (~/.pulumi: plugins, selected stacks) through the
	// account's passwd entry, not $HOME, so it is named: a new user's.
	s.env = append(s.env, "HOME="+home, "PULUMI_HOME="+filepath.Join(home, ".pulumi"))
	for k, v := range goEnv {
		s.env = append(s.env, k+"="+v)
	}

	// Nothing may be rebuilt behind the test's back: the copy's bin/ must be
	// what `make tools` would leave.
	targets := []string{"pulumi", "pulumi-language-yaml", driver.ProviderBinary, "pulumi-resource-pulumi-jobs", "kube-apiserver",
		"kube-controller-manager", "kube-scheduler", "etcd", "kwok", "kwokctl", "kubectl"}
	for i, f := range targets {
		targets[i] = filepath.Join(s.repo, "bin", f)
	}
	if out, err := s.command(t, s.repo, s.env, time.Minute, "make", append([]string{"-q"}, targets...)...); err != nil {
		msg := fmt.Sprintf("bin/ is not what `make tools` would build from this tree (run `make tools` first): make -q says %v\n%s", err, out)
		if os.Getenv("PULUMI_JOBS_E2E") == "require" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	t.Cleanup(func() { s.stop(t) })
	if deadline, ok := t.Deadline(); ok && time.Until(deadline) > time.Minute {
		// go test's -timeout panics without running cleanups.
		timer := time.AfterFunc(time.Until(deadline)-45*time.Second, s.killCluster)
		t.Cleanup(func() { timer.Stop() })
	}
	return s
}

// copyWorkingTree copies the files git tracks or would track (the working
// tree's content, symlinks as symlinks, modification times kept so that make
// sees bin/ as current) from one directory into another. A stack file whose
// working copy has an encryptionsalt that the committed one has not (a local
// run wrote it) is copied as committed, as a fresh clone has it.
func copyWorkingTree(t *testing.T, from, to string) {
	t.Helper()
	list, err := exec.Command("git", "-C", from, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	require.NoError(t, err, "listing the repository's files (the README test needs a git checkout)")
	for _, rel := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		src, dst := filepath.Join(from, rel), filepath.Join(to, rel)
		fi, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			require.NoError(t, err)
			require.NoError(t, os.Symlink(target, dst))
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		if !strings.Contains(rel, "/") && strings.HasPrefix(rel, "Pulumi.") && rel != "Pulumi.yaml" && hasSalt(b) {
			if committed, err := exec.Command("git", "-C", from, "show", "HEAD:"+rel).Output(); err == nil && !hasSalt(committed) {
				t.Logf("%s: the working tree's copy has an encryptionsalt a local run wrote; the fresh copy gets the committed one", rel)
				b = committed
			}
		}
		require.NoError(t, os.WriteFile(dst, b, fi.Mode().Perm()))
		require.NoError(t, os.Chtimes(dst, fi.ModTime(), fi.ModTime()))
	}
}

// runBlock types a shell block's commands one by one, with the checks that
// follow them.
func (s *readmeSession) runBlock(t *testing.T, id, body string) {
	t.Helper()
	for i, c := range readmeCommands(body) {
		out := s.step(t, c)
		if check, ok := s.checks[id+"/"+strconv.Itoa(i)]; ok {
			require.Equal(t, check.cmd, c.text, "the command a check follows")
			check.check(t, s, out)
			s.checked[id+"/"+strconv.Itoa(i)] = true
			if t.Failed() {
				t.FailNow()
			}
		}
	}
}

// step runs one command in the session and returns its output; it fails the
// test when the command fails.
func (s *readmeSession) step(t *testing.T, c readmeCommand) string {
	t.Helper()
	envFile, cwdFile := filepath.Join(s.root, "session.env"), filepath.Join(s.root, "session.cwd")
	_ = os.Remove(envFile)
	_ = os.Remove(cwdFile)
	start := time.Now()
	// What the user typed runs as typed (eval); then the shell's environment
	// and directory are kept for the next command.
	out, err := s.command(t, s.cwd, s.env, 10*time.Minute, "bash", "--noprofile", "--norc", "-c",
		`eval "$1"; rc=$?; env -0 >"$2"; pwd >"$3"; exit $rc`, "bash", c.raw, envFile, cwdFile)
	s.watchCluster()
	t.Logf("$ %s    (%.1fs)", c.text, time.Since(start).Seconds())
	if err != nil {
		t.Fatalf("`%s` failed: %v\n%s", c.text, err, tail(out, 80))
	}
	if b, err := os.ReadFile(envFile); err == nil {
		s.env = s.env[:0]
		for _, kv := range strings.Split(strings.TrimRight(string(b), "\x00"), "\x00") {
			if k, _, _ := strings.Cut(kv, "="); k != "_" && k != "SHLVL" && kv != "" {
				s.env = append(s.env, kv)
			}
		}
	}
	if b, err := os.ReadFile(cwdFile); err == nil {
		s.cwd = strings.TrimSpace(string(b))
	}
	return out
}

// command runs a program in dir with env, in a process group of its own that
// is killed when timeout passes, and returns its output.
func (s *readmeSession) command(t *testing.T, dir string, env []string, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// A file, not a pipe: a process the command leaves running must not
	// hold the test up.
	f, err := os.CreateTemp(s.root, "output-")
	require.NoError(t, err)
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	_, _ = f.Seek(0, io.SeekStart)
	out, _ := io.ReadAll(f)
	return string(out), err
}

// tail returns the last n lines of out.
func tail(out string, n int) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[… %d lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// withoutBinOnPath is the session's environment without bin/ on PATH and
// with ambient plugins ignored: the CLI then has its plugin cache only.
func (s *readmeSession) withoutBinOnPath() []string {
	var out []string
	for _, kv := range s.env {
		if path, ok := strings.CutPrefix(kv, "PATH="); ok {
			var keep []string
			for _, p := range filepath.SplitList(path) {
				if filepath.Clean(p) != filepath.Join(s.repo, "bin") {
					keep = append(keep, p)
				}
			}
			kv = "PATH=" + strings.Join(keep, string(os.PathListSeparator))
		}
		out = append(out, kv)
	}
	return append(out, "PULUMI_IGNORE_AMBIENT_PLUGINS=true")
}

// clusterPidFiles are the pid files of the clusters kwokctl runs for the
// copy (the Makefile's KWOK_WORKDIR).
func clusterPidFiles(repo string) []string {
	files, _ := filepath.Glob(filepath.Join(repo, ".state", "kwok", "clusters", "*", "pids", "*.pid"))
	return files
}

func readPid(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// processState returns the state letter of a process ('Z' for a zombie), or
// 0 when there is none.
func processState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	stat := string(b)
	if i := strings.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2]
	}
	return 0
}

// watchCluster notes the cluster's processes and reaps those that have
// exited (`make down` stops them; this process inherited them).
func (s *readmeSession) watchCluster() {
	for _, f := range clusterPidFiles(s.repo) {
		if pid := readPid(f); pid > 0 {
			s.pids[pid] = true
		}
	}
	for pid := range s.pids {
		switch processState(pid) {
		case 0:
			delete(s.pids, pid)
		case 'Z':
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		}
	}
}

// killCluster kills the cluster's processes and reaps them.
func (s *readmeSession) killCluster() {
	s.watchCluster()
	for pid := range s.pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for pid := range s.pids {
		for processState(pid) != 0 && time.Now().Before(deadline) {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// stop ends what the README's commands left running: `make down`, as the
// README says to when done, then anything of the cluster still there.
func (s *readmeSession) stop(t *testing.T) {
	if len(clusterPidFiles(s.repo)) > 0 {
		start := time.Now()
		out, err := s.command(t, s.repo, s.env, 5*time.Minute, "make", "down")
		t.Logf("$ make down    (%.1fs; at the end, as the README says when you are done)", time.Since(start).Seconds())
		if err != nil {
			if t.Failed() {
				t.Logf("make down at the end: %v\n%s", err, tail(out, 40))
			} else {
				t.Errorf("make down at the end: %v\n%s", err, tail(out, 40))
			}
			_, _ = s.command(t, s.repo, s.env, 2*time.Minute, "make", "cluster-down")
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	s.watchCluster()
	for pid := range s.pids {
		for processState(pid) != 0 && processState(pid) != 'Z' && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	s.killCluster()
}

// sweepReadmeOrphans kills the clusters that earlier test processes, now
// gone, left in their README copies, and removes the copies.
func sweepReadmeOrphans(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), readmeTempPrefix+"*"))
	for _, dir := range dirs {
		owner, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), readmeTempPrefix), "-")
		pid, err := strconv.Atoi(owner)
		if err != nil || pid == os.Getpid() || processState(pid) != 0 {
			continue
		}
		for _, f := range clusterPidFiles(filepath.Join(dir, "repo")) {
			if p := readPid(f); p > 0 {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
		_ = os.RemoveAll(dir)
		t.Logf("removed %s, left by test process %d, which is gone", dir, pid)
	}
}

// client is a client of the copy's local cluster (a new one each time: the
// cluster may have been recreated on other ports, with a new CA at the same
// path: see localcluster.RESTConfig).
func (s *readmeSession) client(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg, err := localcluster.RESTConfig(filepath.Join(s.repo, ".state", "kubeconfig"))
	require.NoError(t, err)
	c, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return c
}

// checkClusterGone: `make down` stopped the cluster.
func (s *readmeSession) checkClusterGone(t *testing.T) {
	t.Helper()
	assert.Empty(t, clusterPidFiles(s.repo), "kwokctl keeps no cluster")
	// kwokctl signals the cluster's processes and does not wait for them.
	running := func() []int {
		s.watchCluster()
		var out []int
		for pid := range s.pids {
			if st := processState(pid); st != 0 && st != 'Z' {
				out = append(out, pid)
			}
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(running()) > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	assert.Empty(t, running(), "processes of the cluster still run 30 s after make down")
}

// checkPlugins: `make plugins` put the plugins bin/ holds into the CLI's
// plugin cache, at the versions the SDKs ask for, and knows when they are
// current.
func (s *readmeSession) checkPlugins(t *testing.T) {
	t.Helper()
	var schema struct {
		Version string `json:"version"`
	}
	require.NoError(t, json.Unmarshal(mustRead(t, filepath.Join(s.repo, "provider", "schema.json")), &schema))
	want := map[string]string{"kubernetes": driver.KubernetesProviderVersion, "pulumi-jobs": schema.Version}

	out, err := s.command(t, s.repo, s.env, time.Minute, filepath.Join(s.repo, "bin", "pulumi"), "plugin", "ls", "--json")
	require.NoError(t, err, out)
	var plugins []struct{ Name, Kind, Version string }
	start := strings.Index(out, "[")
	require.GreaterOrEqual(t, start, 0, "pulumi plugin ls --json printed no list:\n%s", out)
	require.NoError(t, json.Unmarshal([]byte(out[start:]), &plugins), out)
	for name, version := range want {
		assert.Contains(t, plugins, struct{ Name, Kind, Version string }{name, "resource", version}, "pulumi plugin ls")
		installed := filepath.Join(s.root, "home", ".pulumi", "plugins", "resource-"+name+"-v"+version, "pulumi-resource-"+name)
		assert.True(t, sameFile(t, filepath.Join(s.repo, "bin", "pulumi-resource-"+name), installed), "%s is bin/'s plugin", installed)
	}
	out, err = s.command(t, s.repo, s.env, time.Minute, "make", "plugins")
	require.NoError(t, err, out)
	assert.Equal(t, len(want), strings.Count(out, "is current"), "a second make plugins installs nothing:\n%s", out)
}

// sameFile reports whether two files have the same content.
func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Open(a)
	require.NoError(t, err)
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false
		}
		if ea != nil || eb != nil {
			return ea != nil && eb != nil
		}
	}
}

// checkDevRelease checks the dev stack's release on the cluster: the app at
// image, Available; every Job of the stack file run once and complete; the
// new ReplicaSet after the last migration, the post-deploy Jobs after it.
// It keeps the Jobs' UIDs and the Deployment's generation for the next check.
func (s *readmeSession) checkDevRelease(t *testing.T, image string) {
	t.Helper()
	c := s.client(t)
	ctx := context.Background()
	dep, err := c.AppsV1().Deployments(readmeDevNamespace).Get(ctx, "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, image, dep.Spec.Template.Spec.Containers[0].Image)
	available := condition(dep, appsv1.DeploymentAvailable)
	require.NotNil(t, available)
	assert.Equal(t, corev1.ConditionTrue, available.Status, "the Deployment is Available")

	jobs := jobsOf(t, c, readmeDevNamespace)
	s.devUIDs, s.devNames, s.devGeneration = map[string]types.UID{}, map[string]string{}, dep.Generation
	rs := newReplicaSet(t, c, readmeDevNamespace, "shop")
	for _, name := range append(slices.Clone(readmePreDeploy), readmePostDeploy...) {
		j := only(t, jobs, name)
		require.True(t, complete(j), "Job %s completed", j.Name)
		s.devUIDs[name], s.devNames[name] = j.UID, j.Name
		if slices.Contains(readmePreDeploy, name) {
			assert.False(t, rs.CreationTimestamp.Time.Before(j.Status.CompletionTime.Time), "the new ReplicaSet was made before %s completed", name)
		} else {
			assert.False(t, j.CreationTimestamp.Time.Before(rs.CreationTimestamp.Time), "%s started before the new ReplicaSet", name)
		}
	}
	assert.Len(t, jobs, len(readmePreDeploy)+len(readmePostDeploy), "the stack file's Jobs and no other")
}

// checkRerun checks a Job run again by hand (its URN tainted, then an up):
// a new run of it, complete, the old one gone; every other Job's run and the
// Deployment as they were.
func (s *readmeSession) checkRerun(t *testing.T, rerun string) {
	t.Helper()
	c := s.client(t)
	dep, err := c.AppsV1().Deployments(readmeDevNamespace).Get(context.Background(), "shop", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, s.devGeneration, dep.Generation, "the Deployment was left alone")
	jobs := jobsOf(t, c, readmeDevNamespace)
	for _, name := range append(slices.Clone(readmePreDeploy), readmePostDeploy...) {
		j := only(t, jobs, name)
		require.True(t, complete(j), "Job %s completed", j.Name)
		if name == rerun {
			assert.NotEqual(t, s.devUIDs[name], j.UID, "%s ran again", name)
			assert.NotEqual(t, s.devNames[name], j.Name, "the new run of %s has a new name", name)
		} else {
			assert.Equal(t, s.devUIDs[name], j.UID, "%s did not run again", name)
		}
		s.devUIDs[name], s.devNames[name] = j.UID, j.Name
	}
}

// checkOwnProgram checks the YAML program of docs/components.md ("Use",
// the yaml-program block) on the cluster and in its state: the migrations
// before the Deployment's ReplicaSet, the smoke test after the Deployment
// became Available, the edges on the resources.
func (s *readmeSession) checkOwnProgram(t *testing.T) {
	t.Helper()
	c := s.client(t)
	dep, err := c.AppsV1().Deployments("my-app").Get(context.Background(), "shop", metav1.GetOptions{})
	require.NoError(t, err)
	available := condition(dep, appsv1.DeploymentAvailable)
	require.NotNil(t, available)
	jobs := jobsOf(t, c, "my-app")
	rs := newReplicaSet(t, c, "my-app", "shop")
	for _, name := range []string{"migrate-schema", "seed-reference-data"} {
		j := only(t, jobs, name)
		require.True(t, complete(j), "Job %s completed", j.Name)
		assert.False(t, rs.CreationTimestamp.Time.Before(j.Status.CompletionTime.Time), "the ReplicaSet was made before %s completed", name)
	}
	smoke := only(t, jobs, "smoke-test")
	require.True(t, complete(smoke))
	assert.False(t, smoke.CreationTimestamp.Time.Before(available.LastTransitionTime.Time), "the smoke test started before the Deployment was Available")

	out, err := s.command(t, s.cwd, s.env, time.Minute, filepath.Join(s.repo, "bin", "pulumi"), "stack", "export")
	require.NoError(t, err, out)
	var d struct {
		Deployment struct {
			Resources []stateResource `json:"resources"`
		} `json:"deployment"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	st := map[string]stateResource{}
	for _, r := range d.Deployment.Resources {
		st[shortURN(r.URN)] = r
	}
	app := st[deploymentT+"app"]
	assert.Contains(t, app.Dependencies, st[jobsT+"migrations"].URN, "the Deployment depends on the migrations, in state")
	assert.Contains(t, st[jobT+"smoke-smoke-test"].Dependencies, app.URN, "the smoke test Job depends on the Deployment, in state")
}

// exampleNamespace is the namespace the current example releases to (its
// Pulumi.yaml's default for the namespace config).
func (s *readmeSession) exampleNamespace(t *testing.T) string {
	t.Helper()
	var project struct {
		Config map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"config"`
	}
	require.NoError(t, yaml.Unmarshal(mustRead(t, filepath.Join(s.repo, "examples", s.example, "Pulumi.yaml")), &project))
	ns, ok := project.Config["namespace"].Default.(string)
	require.True(t, ok, "examples/%s/Pulumi.yaml has a default namespace", s.example)
	return ns
}

// checkExample checks an example's release on the cluster: each Deployment
// Available, every Job complete, the pre-deploy Jobs before the Deployment's
// ReplicaSet and the post-deploy ones after it.
func (s *readmeSession) checkExample(t *testing.T) {
	t.Helper()
	c := s.client(t)
	ctx := context.Background()
	ns := s.exampleNamespace(t)
	deps, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, deps.Items, "examples/%s released a Deployment in %s", s.example, ns)
	jobs, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, jobs.Items, "examples/%s ran Jobs in %s", s.example, ns)
	// Every Job is one of a phase, and each phase ran.
	phases := map[string]int{}
	for _, j := range jobs.Items {
		phase := j.Labels["pulumi-jobs/phase"]
		require.Contains(t, []string{"pre-deploy", "post-deploy"}, phase, "Job %s is labelled with its phase", j.Name)
		phases[phase]++
	}
	require.Len(t, phases, 2, "examples/%s ran pre-deploy and post-deploy Jobs: %v", s.example, phases)
	for _, d := range deps.Items {
		available := condition(&d, appsv1.DeploymentAvailable)
		require.NotNil(t, available)
		assert.Equal(t, corev1.ConditionTrue, available.Status, "Deployment %s is Available", d.Name)
		rs := newReplicaSet(t, c, ns, d.Name)
		for _, j := range jobs.Items {
			require.True(t, complete(j), "Job %s completed", j.Name)
			switch j.Labels["pulumi-jobs/phase"] {
			case "pre-deploy":
				assert.False(t, rs.CreationTimestamp.Time.Before(j.Status.CompletionTime.Time), "ReplicaSet %s was made before %s completed", rs.Name, j.Name)
			case "post-deploy":
				assert.False(t, j.CreationTimestamp.Time.Before(rs.CreationTimestamp.Time), "%s started before ReplicaSet %s", j.Name, rs.Name)
			}
		}
	}
}

// checkNamespaceGone: a destroy removed the namespace (or is removing it)
// and every Job in it.
func (s *readmeSession) checkNamespaceGone(t *testing.T, ns string) {
	t.Helper()
	c := s.client(t)
	ctx := context.Background()
	got, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err) || (err == nil && got.DeletionTimestamp != nil), "namespace %s is gone or going: %v", ns, err)
	deps, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, deps.Items, "no Deployment is left in %s", ns)
	var left []batchv1.Job
	if jobs, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, j := range jobs.Items {
			if j.DeletionTimestamp == nil {
				left = append(left, j)
			}
		}
	}
	assert.Empty(t, left, "no Job is left in %s", ns)
}
