package tests

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pulumi-jobs/pulumi-jobs/deploy/driver"
	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
)

// syncBuffer collects the engine's progress text for a failure report.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testStack is one test's stack: its own work dir (a copy of Pulumi.yaml and
// of a shipped stack file), state backend and namespace.
type testStack struct {
	*driver.Driver
	name       string
	namespace  string
	workDir    string
	backendDir string
	progress   *syncBuffer
}

var nonDNS = regexp.MustCompile(`[^a-z0-9]+`)

// newStack opens a stack for the test from the shipped stack file of
// shippedStack, in a namespace of its own. The stack is destroyed and removed
// when the test ends, pass or fail.
func newStack(t testing.TB, e *env, shippedStack string) *testStack {
	t.Helper()
	return newStackSuffixed(t, e, shippedStack, "")
}

// newStackSuffixed is newStack for a test that needs several stacks: suffix
// tells them apart.
func newStackSuffixed(t testing.TB, e *env, shippedStack, suffix string) *testStack {
	t.Helper()
	name := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	if suffix != "" {
		name += "-" + suffix
	}
	stack := "e2e-" + name
	work := t.TempDir()
	copyFile(t, filepath.Join(e.root, "Pulumi.yaml"), filepath.Join(work, "Pulumi.yaml"))
	// The CLI checks that Pulumi.yaml's main (infra/) exists even though the
	// program runs inline.
	require.NoError(t, os.MkdirAll(filepath.Join(work, "infra"), 0o755))
	copyFile(t, filepath.Join(e.root, "Pulumi."+shippedStack+".yaml"), filepath.Join(work, "Pulumi."+stack+".yaml"))
	backend := filepath.Join(work, ".state", "backend")
	require.NoError(t, os.MkdirAll(backend, 0o755))

	progress := &syncBuffer{}
	ctx := context.Background()
	d, err := driver.Open(ctx, driver.Options{
		WorkDir:      work,
		Stack:        stack,
		PulumiRoot:   e.root,
		Home:         e.home,
		BackendURL:   "file://" + backend,
		Kubeconfig:   e.cluster.Kubeconfig,
		ProviderPath: e.provider,
		Progress:     progress,
	})
	require.NoError(t, err)
	r := &testStack{Driver: d, name: stack, namespace: stack, workDir: work, backendDir: backend, progress: progress}
	r.setConfig(t, config.KeyNamespace, r.namespace)

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if _, err := d.Destroy(ctx); err != nil {
			t.Errorf("destroying %s: %v", stack, err)
		}
		if t.Failed() {
			t.Logf("engine progress of %s:\n%s", stack, progress.String())
		}
		_ = d.Workspace().RemoveStack(ctx, stack)
	})
	return r
}

// newStackWith opens a stack for the test whose config is c.
func newStackWith(t testing.TB, e *env, c stackConfig) *testStack {
	t.Helper()
	r := newStack(t, e, "dev")
	r.write(t, c)
	return r
}

func (r *testStack) setConfig(t testing.TB, key, value string) {
	t.Helper()
	stack := r.Stack()
	require.NoError(t, stack.SetConfig(context.Background(), config.Key(key), auto.ConfigValue{Value: value}))
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o644))
}

// ops returns, per resource URN, the operation the engine reported for it.
func ops(evts []events.EngineEvent) map[string]apitype.OpType {
	out := map[string]apitype.OpType{}
	for _, e := range evts {
		if o := e.ResOutputsEvent; o != nil {
			out[o.Metadata.URN] = o.Metadata.Op
		}
	}
	return out
}

// summary returns the engine's summary of resource changes.
func summary(t testing.TB, evts []events.EngineEvent) map[apitype.OpType]int {
	t.Helper()
	for _, e := range evts {
		if e.SummaryEvent != nil {
			return e.SummaryEvent.ResourceChanges
		}
	}
	require.FailNow(t, "the engine reported no summary event")
	return nil
}

// typeOf returns the resource type of a URN.
func typeOf(urn string) string {
	parts := strings.Split(urn, "::")
	qualified := parts[len(parts)-2]
	return qualified[strings.LastIndex(qualified, "$")+1:]
}

func listOpts(selector string) metav1.ListOptions { return metav1.ListOptions{LabelSelector: selector} }

// upChangesNothing runs an up of the stack as it is and fails the test if
// the engine did anything: no step but "same".
func upChangesNothing(t *testing.T, r *testStack) {
	t.Helper()
	res, err := r.Up(context.Background())
	require.NoError(t, err)
	assert.Empty(t, changed(res.Events), "a no-change up changes nothing")
}
