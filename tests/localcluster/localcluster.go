// Package localcluster starts and stops a throwaway local Kubernetes cluster
// for end-to-end tests: the upstream API server, controller manager and
// scheduler with kwok's simulated nodes, run by kwokctl's binary runtime from
// the binaries `make tools` built. No container runs; kwok's stages decide
// when pods become Ready, succeed or fail.
package localcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster is a running local cluster.
type Cluster struct {
	// Name is the kwokctl cluster name.
	Name string
	// Kubeconfig is the path of its kubeconfig.
	Kubeconfig string
	// Client is a client for it.
	Client kubernetes.Interface

	bin     string
	workdir string
}

// Missing returns the binaries of bin that Start needs and that are absent.
func Missing(bin string) []string {
	var missing []string
	for _, b := range []string{"kwokctl", "kwok", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			missing = append(missing, filepath.Join(bin, b))
		}
	}
	return missing
}

// Start creates a cluster called name with nodes simulated nodes, keeping all
// of its files under workdir. kwokConfig is the kwok configuration (stages)
// that `make tools` generates. Stop must be called, pass or fail.
func Start(ctx context.Context, bin, workdir, kwokConfig, name string, nodes int) (*Cluster, error) {
	// kwokctl starts the components detached and exits; as a child
	// subreaper this process inherits them, so Stop can reap them instead of
	// leaving zombies behind where PID 1 does not reap orphans.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("becoming a child subreaper: %w", err)
	}
	c := &Cluster{Name: name, Kubeconfig: filepath.Join(workdir, "kubeconfig"), bin: bin, workdir: workdir}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", workdir, err)
	}
	args := []string{"-c", kwokConfig, "create", "cluster", "--name", name, "--runtime", "binary",
		"--kube-apiserver-binary=" + filepath.Join(bin, "kube-apiserver"),
		"--kube-controller-manager-binary=" + filepath.Join(bin, "kube-controller-manager"),
		"--kube-scheduler-binary=" + filepath.Join(bin, "kube-scheduler"),
		"--kwok-controller-binary=" + filepath.Join(bin, "kwok"),
		"--etcd-binary=" + filepath.Join(bin, "etcd"),
		"--kubeconfig", c.Kubeconfig, "--wait", "90s"}
	if err := c.kwokctl(ctx, args...); err != nil {
		c.Stop()
		return nil, err
	}
	if err := c.kwokctl(ctx, "scale", "node", "--name", name, "--replicas", fmt.Sprint(nodes)); err != nil {
		c.Stop()
		return nil, err
	}
	cfg, err := RESTConfig(c.Kubeconfig)
	if err != nil {
		c.Stop()
		return nil, err
	}
	if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		c.Stop()
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	return c, nil
}

// RESTConfig is the client configuration of a kubeconfig file, with the CA and
// client certificate it names by path read into the configuration.
//
// kwokctl's kubeconfig names its CA by path, and a cluster created again under
// the same name has a new CA at the same path. client-go 1.36 (its
// ClientsAllowCARotation gate, on by default) keys the process's TLS transport
// cache by a CA file's path and reads the file again only every 5 minutes: a
// client of the second cluster got the first cluster's CA, "x509: certificate
// signed by unknown authority (… kwok-ca)". Read in, the cache is keyed by
// content.
func RESTConfig(kubeconfig string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", kubeconfig, err)
	}
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return nil, fmt.Errorf("reading the TLS files %s names: %w", kubeconfig, err)
	}
	return cfg, nil
}

func (c *Cluster) kwokctl(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "kwokctl"), args...)
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+c.workdir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kwokctl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Stop deletes the cluster and waits until each of its processes has
// exited. kwokctl signals them but does not wait (they are not its
// children), so Stop reads their pid files first and waits itself, killing
// any that are still there after a grace period.
func (c *Cluster) Stop() {
	pids := c.pids()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.kwokctl(ctx, "delete", "cluster", "--name", c.Name, "--kubeconfig", c.Kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		var status syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &status, 0, nil)
	}
}

// pids reads the pid files kwokctl keeps for the cluster's components.
func (c *Cluster) pids() []int {
	files, _ := filepath.Glob(filepath.Join(c.workdir, "clusters", c.Name, "pids", "*.pid"))
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	stat := string(b)
	if i := strings.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// SweepOrphans deletes the clusters that earlier test processes started
// under base (directories named <prefix>*) and could not stop, because they
// were killed or timed out; a cluster is an orphan when the process whose pid
// ends its name no longer runs. It returns the names it deleted.
func SweepOrphans(bin, base, prefix string) []string {
	dirs, _ := filepath.Glob(filepath.Join(base, prefix+"*", "kwok", "clusters", "*"))
	var swept []string
	for _, dir := range dirs {
		name := filepath.Base(dir)
		pid, err := strconv.Atoi(name[strings.LastIndexByte(name, '-')+1:])
		if err != nil || alive(pid) {
			continue
		}
		workdir := filepath.Dir(filepath.Dir(dir))
		c := &Cluster{Name: name, Kubeconfig: filepath.Join(workdir, "kubeconfig"), bin: bin, workdir: workdir}
		c.Stop()
		_ = os.RemoveAll(filepath.Dir(workdir))
		swept = append(swept, name)
	}
	return swept
}
