// Command kwokconfig prints the kwok configuration of the local cluster: the
// node stages and the pod ready/delete stages that kwokctl uses by default
// (taken from the pinned kwok module itself), and this project's own stages
// for Job pods, which succeed after a delay or fail when their pod
// annotations say so. kwokctl replaces all of its default stages as soon as
// one Stage is given, hence the defaults are repeated here.
package main

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"strings"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodeheartbeat "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

//go:embed stages/*.yaml
var ownStages embed.FS

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kwokconfig:", err)
		os.Exit(1)
	}
}

func run() error {
	docs := []string{
		nodefast.DefaultNodeInit,
		nodeheartbeat.DefaultNodeHeartbeatWithLease,
		podfast.DefaultPodReady,
		podfast.DefaultPodDelete,
	}
	for _, name := range []string{"stages/pod-complete.yaml", "stages/pod-failed.yaml"} {
		b, err := fs.ReadFile(ownStages, name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		docs = append(docs, string(b))
	}
	for i, d := range docs {
		docs[i] = strings.TrimSpace(d)
	}
	_, err := fmt.Println(strings.Join(docs, "\n---\n"))
	return err
}
