// Command infra is the pulumi-jobs Pulumi program for the Go language host:
// `pulumi up` in the repository root runs it. The program itself lives in
// package program, so the Automation API can run the same function inline.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/pulumi-jobs/pulumi-jobs/infra/program"
)

func main() {
	pulumi.Run(program.Run)
}
