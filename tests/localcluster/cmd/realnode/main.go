// Command realnode starts a local cluster with one real node (and kwok's
// simulated nodes) and PostgreSQL, prints how to reach them, and on SIGINT or
// SIGTERM stops them and removes everything they started. `make node-up`
// runs it in the foreground; with -clean (`make node-clean`) it only removes
// what a real node whose process is gone left behind.
//
//	realnode -bin bin -kwok-config .state/kwok.yaml -images .state/node-images.tar -dir .state/real-node
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi-jobs/pulumi-jobs/tests/localcluster"
)

func main() {
	bin := flag.String("bin", "bin", "the directory of the built toolchain and node binaries")
	kwokConfig := flag.String("kwok-config", ".state/kwok.yaml", "the kwok configuration make generates")
	images := flag.String("images", ".state/node-images.tar", "the image archive to import")
	dir := flag.String("dir", ".state/real-node", "where the cluster, the node and PostgreSQL keep their files")
	nodes := flag.Int("nodes", 3, "how many simulated nodes beside the real one")
	pgPort := flag.Int("postgres-port", 55432, "PostgreSQL's port")
	clean := flag.Bool("clean", false, "only remove what a real node whose process is gone left on this machine")
	flag.Parse()
	if *clean {
		abs, err := filepath.Abs(*bin)
		if err == nil {
			var stale bool
			if stale, err = localcluster.CleanStale(abs); err == nil {
				if stale {
					fmt.Println("removed what a stopped real node had left on this machine")
				} else {
					fmt.Println("no real node was left on this machine")
				}
				return
			}
		}
		fmt.Fprintln(os.Stderr, "realnode:", err)
		os.Exit(1)
	}
	if err := run(*bin, *kwokConfig, *images, *dir, *nodes, *pgPort); err != nil {
		fmt.Fprintln(os.Stderr, "realnode:", err)
		os.Exit(1)
	}
}

func run(bin, kwokConfig, images, dir string, nodes, pgPort int) error {
	var err error
	for _, p := range []*string{&bin, &kwokConfig, &images, &dir} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if missing := append(localcluster.Missing(bin), append(localcluster.NodeMissing(bin), localcluster.PostgresMissing()...)...); len(missing) > 0 {
		return fmt.Errorf("missing: %s (make tools node)", strings.Join(missing, ", "))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// PostgreSQL runs as the user postgres, below dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	cfg, err := localcluster.RealNodeConfig(kwokConfig, dir)
	if err != nil {
		return err
	}
	cluster, err := localcluster.Start(ctx, bin, filepath.Join(dir, "kwok"), cfg, "pulumi-jobs-real-node", nodes)
	if err != nil {
		return err
	}
	defer cluster.Stop()
	node, err := localcluster.StartNode(ctx, cluster, filepath.Join(dir, "node"), images)
	if err != nil {
		return err
	}
	defer func() {
		node.Stop()
		if left := localcluster.Leftovers(bin, filepath.Join(dir, "node")); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "realnode: left on the machine: %s\n", strings.Join(left, ", "))
		}
	}()
	pg, err := localcluster.StartPostgres(ctx, filepath.Join(dir, "postgres"), pgPort, localcluster.PodCIDR)
	if err != nil {
		return err
	}
	defer pg.Stop()
	if err := pg.CreateDatabase(ctx, "app"); err != nil {
		return err
	}

	fmt.Printf("cluster ready with a real node %s beside %d simulated nodes\n", node.Name, nodes)
	fmt.Printf("  export KUBECONFIG=%s\n", cluster.Kubeconfig)
	fmt.Printf("  pods go to the real node in a namespace annotated:\n")
	for k, v := range localcluster.RealNodeNamespaceAnnotations {
		fmt.Printf("    %s: '%s'\n", k, v)
	}
	fmt.Printf("  images: pulumi-jobs.local/{app:v1,app:v2,migrate:v1,migrate:root,smoke:v1}\n")
	fmt.Printf("  databaseUrl for pods: %s\n", pg.DatabaseURL(node.HostIP, "app"))
	fmt.Printf("Ctrl-C stops everything and removes what it started.\n")
	<-sig
	fmt.Println("stopping the real node, PostgreSQL and the cluster")
	return nil
}
