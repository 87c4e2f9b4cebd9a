package release_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/sig"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi-jobs/pulumi-jobs/infra/internal/pulumitest"
	"github.com/pulumi-jobs/pulumi-jobs/infra/release"
)

// randomChart writes a chart that renders random values, as public charts
// do: a CA bundle from genCA, a Deployment whose pod template carries a
// random checksum, and an install hook ConfigMap with a generated id.
// (ConfigMaps, not Secrets: Pulumi's mock monitor cannot read an unknown
// value inside a secret; TestHelmContract previews a chart's genCA Secret
// on the real engine.)
func randomChart(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for file, text := range map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: random\nversion: 0.1.0\n",
		"templates/ca.yaml": "{{- $ca := genCA \"random-ca\" 365 }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: random-ca\n" +
			"data:\n  ca.crt: {{ $ca.Cert | quote }}\n  issuer: random-ca\n",
		"templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: random\nspec:\n" +
			"  selector: {matchLabels: {app: random}}\n  template:\n    metadata:\n      labels: {app: random}\n" +
			"      annotations:\n        checksum/token: {{ randAlphaNum 16 | quote }}\n" +
			"    spec:\n      containers:\n        - name: app\n          image: ghcr.io/acme/random:1.0.0\n",
		"templates/password.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: random-install\n  annotations:\n    helm.sh/hook: pre-install\n" +
			"data:\n  id: {{ randAlphaNum 24 | quote }}\n  user: admin\n",
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, file)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644))
	}
	return dir
}

// rawAt returns the value at path of a registration's raw inputs, secrets
// unwrapped, and whether it or a value above it is unknown.
func rawAt(obj *structpb.Struct, path ...string) (value *structpb.Value, unknown bool) {
	v := structpb.NewStructValue(obj)
	for _, key := range path {
		v = unwrapSecret(v)
		if v.GetStringValue() == plugin.UnknownStringValue {
			return v, true
		}
		s := v.GetStructValue()
		if s == nil {
			return nil, false
		}
		v = s.GetFields()[key]
	}
	v = unwrapSecret(v)
	return v, v.GetStringValue() == plugin.UnknownStringValue
}

func unwrapSecret(v *structpb.Value) *structpb.Value {
	if s := v.GetStructValue(); s != nil && s.GetFields()[sig.Key].GetStringValue() == sig.Secret {
		return s.GetFields()["value"]
	}
	return v
}

// TestPreviewShowsRandomValuesUnknown: a preview of an install renders the
// chart twice and registers what differs between the two renders unknown
// (the up renders again and applies its own values), and only that; an up
// registers its render's values.
func TestPreviewShowsRandomValuesUnknown(t *testing.T) {
	const (
		prefix     = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$pulumi-jobs:index:AppPhase$"
		ca         = prefix + "kubernetes:core/v1:ConfigMap::random-random/random-ca"
		deployment = prefix + "kubernetes:apps/v1:Deployment::random-random/random"
		install    = "urn:pulumi:dev::pulumi-jobs::pulumi-jobs:index:Release$kubernetes:core/v1:ConfigMap::random-hook-random/random-install"
	)
	dir := randomChart(t)
	for _, preview := range []bool{true, false} {
		args := &release.Args{
			Namespace: pulumi.String("random"), Image: pulumi.String("ghcr.io/acme/random:1.0.0"),
			App: release.App{Name: "random", Chart: &release.Chart{Path: dir}}, Cluster: &fakeCluster{},
		}
		m, err := pulumitest.Run(newRelease("random", args), "dev", pulumitest.Config{Preview: preview})
		require.NoError(t, err)
		raw := map[string]*structpb.Struct{}
		var urns []string
		for _, r := range m.Registrations() {
			raw[r.URN] = r.RegisterRPC.GetObject()
			urns = append(urns, r.URN)
		}
		for _, urn := range []string{ca, deployment, install} {
			require.Contains(t, raw, urn, "registered: %s", strings.Join(urns, "\n"))
		}
		for _, c := range []struct {
			urn     string
			path    []string
			unknown bool
		}{
			{ca, []string{"data", "ca.crt"}, preview},
			{ca, []string{"data", "issuer"}, false},
			{deployment, []string{"spec", "template", "metadata", "annotations", "checksum/token"}, preview},
			{deployment, []string{"spec", "template", "metadata", "labels", "app"}, false},
			{deployment, []string{"metadata", "name"}, false},
			{install, []string{"data", "id"}, preview},
			{install, []string{"data", "user"}, false},
		} {
			v, unknown := rawAt(raw[c.urn], c.path...)
			assert.Equal(t, c.unknown, unknown, "preview %v: %s %s", preview, c.urn, strings.Join(c.path, "."))
			if !c.unknown {
				assert.NotEmpty(t, v.GetStringValue(), "preview %v: %s %s has its value", preview, c.urn, strings.Join(c.path, "."))
			}
		}
	}
}
