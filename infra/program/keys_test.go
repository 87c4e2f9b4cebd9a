package program

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
)

func TestCheckKeys(t *testing.T) {
	cases := []struct {
		name string
		all  string
		keys []string
	}{
		{"no config handed over (inline program)", "", nil},
		{"known keys and other namespaces", `{"pulumi-jobs:namespace":"shop","pulumi-jobs:app":"{}","kubernetes:context":"kind"}`, nil},
		{"a typo", `{"pulumi-jobs:namespace":"shop","pulumi-jobs:preDeploys":"[]"}`, []string{"pulumi-jobs:preDeploys"}},
		{"two unknown keys", `{"pulumi-jobs:relase":"1","pulumi-jobs:wat":"x"}`, []string{"pulumi-jobs:relase", "pulumi-jobs:wat"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkKeys("dev", c.all)
			if c.keys == nil {
				require.NoError(t, err)
				return
			}
			var cfgErr *config.Error
			require.ErrorAs(t, err, &cfgErr)
			var got []string
			for _, p := range cfgErr.Problems {
				got = append(got, p.Key)
			}
			assert.Equal(t, c.keys, got)
		})
	}
	assert.ErrorContains(t, checkKeys("dev", "{not json"), "reading PULUMI_CONFIG")
}
