package driver

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEngineError(t *testing.T) {
	job := "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:PreDeploy$kubernetes:batch/v1:Job::migrate"
	stack := "urn:pulumi:dev::pulumi-jobs::pulumi:pulumi:Stack::pulumi-jobs-dev"
	diag := func(urn, sev, msg string) events.EngineEvent {
		return events.EngineEvent{EngineEvent: apitype.EngineEvent{DiagnosticEvent: &apitype.DiagnosticEvent{URN: urn, Severity: sev, Message: msg}}}
	}
	cases := []struct {
		name string
		err  error
		evts []events.EngineEvent
		want string
	}{
		{"stderr kept, progress dropped",
			errors.New("failed to run update: exit status 255\ncode: 255\nstdout: Updating (dev)\n  + 13 resources\nstderr: error: the stack is currently locked by 1 lock(s)\n"), nil,
			"update of stack \"dev\" failed\nerror: the stack is currently locked by 1 lock(s)"},
		{"the resource's error, not the stack's",
			errors.New("failed to run update: exit status 1\ncode: 1\nstdout: lots of progress\nstderr: \n"),
			[]events.EngineEvent{
				diag(job, "warning", "retrying"),
				diag(job, "error", "1 error occurred:\n[BackoffLimitExceeded] Job has reached the specified backoff limit\n"),
				diag(stack, "error", "update failed"),
			},
			"update of stack \"dev\" failed\n  migrate (Job): 1 error occurred:\n    [BackoffLimitExceeded] Job has reached the specified backoff limit"},
		{"the program's own error, which has no resource",
			errors.New("failed to run preview: exit status 1"),
			[]events.EngineEvent{diag("", "error", "an unhandled error occurred:\n* release pulumi-jobs/dev/shop would take over 1 object(s)\n  - Namespace shop (owner unknown)\n")},
			"update of stack \"dev\" failed\n  the program: an unhandled error occurred:\n    * release pulumi-jobs/dev/shop would take over 1 object(s)\n      - Namespace shop (owner unknown)"},
		{"nothing else to say", errors.New("context canceled"), nil, `update of stack "dev" failed: context canceled`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := engineError("update", "dev", c.err, c.evts)
			assert.Equal(t, c.want, err.Error())
			assert.ErrorIs(t, err, c.err)
		})
	}
}

func TestAbsPathList(t *testing.T) {
	t.Chdir(t.TempDir())
	got := absPathList("a/kubeconfig:/etc/kube/config")
	assert.Regexp(t, `^/.+/a/kubeconfig:/etc/kube/config$`, got)
}

func TestTypeName(t *testing.T) {
	assert.Equal(t, "Deployment", typeName("kubernetes:apps/v1:Deployment"))
	assert.Equal(t, "Namespace", typeName("kubernetes:core/v1:Namespace"))
}

func TestReadCheckpoint(t *testing.T) {
	dir := t.TempDir()
	const doc = `{"version":3,"checkpoint":{"stack":"organization/pulumi-jobs/dev","latest":{"resources":[{"urn":"u","type":"kubernetes:core/v1:Namespace"}]}}}`
	const latest = `{"resources":[{"urn":"u","type":"kubernetes:core/v1:Namespace"}]}`

	_, found, err := readCheckpoint(filepath.Join(dir, "new"))
	require.NoError(t, err)
	assert.False(t, found, "a stack without a checkpoint")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "plain.json"), []byte(doc), 0o644))
	dep, found, err := readCheckpoint(filepath.Join(dir, "plain"))
	require.NoError(t, err)
	assert.True(t, found)
	assert.JSONEq(t, latest, string(dep))

	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, err = w.Write([]byte(doc))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "zipped.json.gz"), gz.Bytes(), 0o644))
	dep, found, err = readCheckpoint(filepath.Join(dir, "zipped"))
	require.NoError(t, err)
	assert.True(t, found)
	assert.JSONEq(t, latest, string(dep))

	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.json"), []byte("{"), 0o644))
	_, _, err = readCheckpoint(filepath.Join(dir, "broken"))
	assert.ErrorContains(t, err, "reading the checkpoint")
}
