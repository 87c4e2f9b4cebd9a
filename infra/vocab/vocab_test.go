package vocab_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"

	"github.com/pulumi-jobs/pulumi-jobs/infra/vocab"
)

func TestLiteral(t *testing.T) {
	s := pulumi.String("shop")
	cases := []struct {
		name string
		in   pulumi.StringInput
		want string
		ok   bool
	}{
		{"a string", pulumi.String("shop"), "shop", true},
		{"an empty string", pulumi.String(""), "", true},
		{"a pointer to a string", &s, "shop", true},
		{"a nil pointer", (*pulumi.String)(nil), "", false},
		{"nil", nil, "", false},
		{"an output", pulumi.String("shop").ToStringOutput(), "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := vocab.Literal(c.in)
			assert.Equal(t, c.want, got)
			assert.Equal(t, c.ok, ok)
		})
	}
}
