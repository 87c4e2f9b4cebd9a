package tests

import (
	"context"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentUps: two ups of one stack at once. The stack lock refuses
// one, the other releases, and the state is intact: a following up finds
// nothing to change.
func TestConcurrentUps(t *testing.T) {
	e := setup(t)
	cfg := stackConfig{
		App:       app("1.0.0"),
		PreDeploy: []map[string]any{job("migrate", 0, "3s", nil)},
	}
	r := newStackWith(t, e, cfg)
	ctx := context.Background()
	_, err := r.Up(ctx)
	require.NoError(t, err)

	cfg.App = app("1.1.0")
	r.write(t, cfg)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { _, errs[i] = r.Up(ctx) })
	}
	wg.Wait()

	var refused, succeeded int
	for _, err := range errs {
		switch {
		case err == nil:
			succeeded++
		default:
			assert.Contains(t, err.Error(), "currently locked", "the only acceptable failure is the stack lock")
			refused++
		}
	}
	assert.Equal(t, 1, succeeded, "one up released: %v", errs)
	assert.Equal(t, 1, refused, "the other was refused by the stack lock: %v", errs)

	after, err := r.Up(ctx)
	require.NoError(t, err, "the state is usable after the race")
	assert.Equal(t, map[apitype.OpType]int{apitype.OpSame: summary(t, after.Events)[apitype.OpSame]}, summary(t, after.Events),
		"the state matches the cluster: nothing left to do")
	assert.Equal(t, "ghcr.io/acme/shop:1.1.0", only(t, jobsOf(t, e.cluster.Client, r.namespace), "migrate").Spec.Template.Spec.Containers[0].Image)
}
