// Command pulumi-resource-kubernetes is the stand-in Kubernetes provider
// plugin for offline end-to-end tests. See package standin.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi-jobs/pulumi-jobs/tests/standin"
)

func main() {
	if err := standin.Serve(); err != nil {
		fmt.Fprintln(os.Stderr, "pulumi-resource-kubernetes (stand-in):", err)
		os.Exit(1)
	}
}
