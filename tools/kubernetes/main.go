// Command pulumi-resource-kubernetes is the real Kubernetes provider plugin,
// pulumi-kubernetes v4.25.0, built from the module proxy.
//
// Upstream's cmd/pulumi-resource-kubernetes/main.go embeds schema-embed.json
// and terraform-mapping-embed.json, which upstream's build generates and which
// are not in the module zip. `go run ./gen` writes them here from the
// schema.json and terraform-mapping.json that the zip does hold (they are
// ignored, never committed); this main is otherwise upstream's.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
