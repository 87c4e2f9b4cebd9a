package release

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"

	"github.com/pulumi-jobs/pulumi-jobs/infra/chart"
	"github.com/pulumi-jobs/pulumi-jobs/infra/hook"
)

func TestPathString(t *testing.T) {
	assert.Equal(t, `data.tls\.crt`, Path{"data", "tls.crt"}.String())
	assert.Equal(t, "spec.template.spec.containers[0].env[1].value", Path{"spec", "template", "spec", "containers", 0, "env", 1, "value"}.String())
}

// TestVaryingFields: two renders of one chart compared: the fields of app
// objects and hook objects that differ; a hook Job or a delete hook that
// differs is a warning; a list whose length differs and a key only one
// render has are one path each.
func TestVaryingFields(t *testing.T) {
	job := func(token string) map[string]any {
		return map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "seed"},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "seed", "env": []any{map[string]any{"name": "TOKEN", "value": token}}}}}}}}
	}
	render := func(cert, token string, hosts []any, extra bool) chart.Rendered {
		app := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "ca"},
			"data": map[string]any{"tls.crt": cert, "user": "admin"}, "hosts": hosts}
		if extra {
			app["nonce"] = "x"
		}
		return chart.Rendered{
			App:        []chart.Object{{Source: "c/templates/ca.yaml", Obj: app}},
			PreDeploy:  []hook.Hook{{Source: "c/templates/seed.yaml", Kind: "Job", Name: "seed", Object: job(token)}},
			PreDelete:  []hook.Hook{{Source: "c/templates/drain.yaml", Kind: "ConfigMap", Name: "drain", Object: map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "drain"}, "data": map[string]any{"at": token}}}},
			PostDeploy: []hook.Hook{{Source: "c/templates/same.yaml", Kind: "ConfigMap", Name: "same", Object: map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "same"}}}},
		}
	}
	varying, warnings := varyingFields(render("AAA", "t1", []any{"a"}, false), render("BBB", "t2", []any{"a", "b"}, true))
	assert.Equal(t, map[string][]Path{"Secret/ca": {{"data", "tls.crt"}, {"hosts"}, {"nonce"}}}, varying)
	assert.Equal(t, []string{
		"hook Job/seed (c/templates/seed.yaml) renders random values (spec.template.spec.containers[0].env[0].value): this preview shows one render of it, and the up renders it again",
		"hook ConfigMap/drain (c/templates/drain.yaml), a pre-delete hook, renders random values (data.at): this preview shows one render of it, and the up renders it again",
	}, warnings)
}

// TestWithUnknowns: the fields are set unknown on a copy, the maps and
// lists on their way copied; a path past a list's end is skipped.
func TestWithUnknowns(t *testing.T) {
	obj := map[string]any{"data": map[string]any{"a": "1", "b": "2"}, "list": []any{map[string]any{"v": "x"}}}
	got := withUnknowns(obj, []Path{{"data", "a"}, {"list", 0, "v"}, {"list", 3, "v"}, {"new", "k"}})
	assert.Equal(t, map[string]any{"data": map[string]any{"a": "1", "b": "2"}, "list": []any{map[string]any{"v": "x"}}}, obj, "obj is not changed")
	data := got["data"].(map[string]any)
	assert.Equal(t, "2", data["b"])
	for _, v := range []any{data["a"], got["list"].([]any)[0].(map[string]any)["v"], got["new"].(map[string]any)["k"]} {
		_, isOutput := v.(pulumi.Output)
		assert.True(t, isOutput, "%v is an unknown output", v)
	}
	assert.Len(t, got["list"].([]any), 1)
}
