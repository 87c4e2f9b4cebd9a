package jobs_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pulumi-jobs/pulumi-jobs/infra/jobs"
)

// TestResourceName: a job's resource name is <component>-<name> while it
// fits 54 characters (the provider adds "-" and 8 hex digits, and a Job's
// name must fit 63); a longer one, a chart hook's, is cut and ends in 8 hex
// digits of its SHA-256 (checked with sha256sum): the same on every run,
// different per hook.
func TestResourceName(t *testing.T) {
	hook60 := strings.Repeat("a", 50) + "-migration" // 60 characters, a name Helm accepts
	cases := []struct{ component, name, want string }{
		{"shop-pre-deploy", "migrate-schema", "shop-pre-deploy-migrate-schema"},
		{"shop-pre-deploy", strings.Repeat("m", 38), "shop-pre-deploy-" + strings.Repeat("m", 38)},
		{"shop-pre-deploy", hook60, "shop-pre-deploy-aaaaaaaaaaaaaaaaaaaaaaaaaaaaa-2dd7cd42"},
		{"shop-pre-deploy", strings.Repeat("a", 50) + "-backfill00", "shop-pre-deploy-aaaaaaaaaaaaaaaaaaaaaaaaaaaaa-34b15f6b"},
	}
	for _, c := range cases {
		got := jobs.ResourceName(c.component, c.name)
		assert.Equal(t, c.want, got, c.name)
		assert.LessOrEqual(t, len(got), 54, c.name)
	}
}
