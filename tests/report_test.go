package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/deploy/driver"
)

// TestFailureReport: after a failed migration the driver reports the Job,
// its phase and wave, the reason, and each failed pod's termination reason,
// exit code, message and log tail, as kwok was told to produce them.
func TestFailureReport(t *testing.T) {
	e := setup(t)
	r := newStackWith(t, e, stackConfig{
		App: app("1.0.0"),
		PreDeploy: []map[string]any{
			job("seed", 0, "1s", nil),
			job("migrate", 1, "1s", map[string]any{"backoffLimit": 1, "annotations": failing()}),
		},
	})
	ctx := context.Background()
	start := time.Now()
	_, err := r.Up(ctx)
	require.Error(t, err)

	failed, err := r.FailedJobs(ctx, start)
	require.NoError(t, err)
	require.Len(t, failed, 1, "only the failed migration is reported")
	f := failed[0]
	assert.True(t, strings.HasPrefix(f.Name, "shop-pre-deploy-migrate-"), "a release named shop names its Job shop-pre-deploy-migrate-<8 hex>: %s", f.Name)
	assert.Equal(t, "migrate", f.ConfigName)
	assert.Equal(t, "pre-deploy", f.Phase)
	assert.Equal(t, "1", f.Wave)
	assert.Equal(t, "BackoffLimitExceeded", f.Reason)
	require.Len(t, f.Containers, 2, "backoffLimit 1: two pods failed")
	for _, c := range f.Containers {
		assert.Equal(t, "migrate", c.Container)
		assert.Equal(t, int32(3), c.ExitCode)
		assert.Equal(t, "Error", c.Reason)
		assert.Equal(t, `relation "users" already exists`, c.Message)
		assert.Empty(t, c.LogError)
		assert.Equal(t, containerLog, c.Log)
	}
	var report strings.Builder
	driver.WriteFailureReport(&report, r.namespace, failed)
	text := report.String()
	t.Logf("the report the driver prints:\n%s", text)
	for _, want := range []string{
		"Failed Jobs in namespace " + r.namespace + ":",
		f.Name + ` — pre-deploy job "migrate", wave 1`,
		"BackoffLimitExceeded: Job has reached the specified backoff limit",
		`container migrate: Error, exit code 3: relation "users" already exists`,
		"last 3 log line(s):",
		"| migrating schema to version 42",
		`| ERROR: relation "users" already exists`,
		"the same with kubectl: kubectl -n " + r.namespace + " describe pods -l batch.kubernetes.io/job-name=" + f.Name,
	} {
		assert.Contains(t, text, want)
	}
}
