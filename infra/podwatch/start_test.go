package podwatch

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
)

// TestStartIdleUnderMocks: a program run with Pulumi's mocks (unit tests)
// never asks the cluster for pods: no Job is awaited there.
func TestStartIdleUnderMocks(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"PodList","apiVersion":"v1","items":[]}`))
	}))
	defer srv.Close()
	_, err := pulumitest.Run(func(ctx *pulumi.Context) error {
		Start(ctx, &rest.Config{Host: srv.URL}, "shop", "shop")
		return nil
	}, "dev", pulumitest.Config{Values: map[string]string{}})
	require.NoError(t, err)
	time.Sleep(1500 * time.Millisecond)
	assert.Equal(t, int32(0), requests.Load())
}
