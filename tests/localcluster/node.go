package localcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The real node: a kubelet, containerd (with Debian's runc), Debian's CNI
// plugins and kube-proxy, running on this machine as plain processes beside
// kwok's simulated nodes. Nothing lands on it unless it tolerates NodeTaint;
// a namespace whose pods should all run there carries the annotations of
// RealNodeNamespaceAnnotations (the API server's PodNodeSelector and
// PodTolerationRestriction admission plugins, which RealNodeConfig enables,
// apply them to every pod).
const (
	// NodeTaint is the key of the taint the real node registers with
	// (effect NoSchedule) and of the label it carries (value "true").
	NodeTaint = "pulumi-jobs.dev/real-node"
	// PodCIDR is the pods' address range on the real node: it overlaps
	// neither the API server's Service range nor kwok's pod range (both in
	// 10.0.0.0/16).
	PodCIDR = "10.88.0.0/16"
	// PodGateway is the host's address on each pod's link (CNI ptp).
	PodGateway = "10.88.0.1"

	// containerdState is containerd's state directory: its shims put their
	// sockets under /run/containerd/s whatever the configuration says.
	containerdState = "/run/containerd"
	containerdSock  = containerdState + "/containerd.sock"
	// ownerFile records the test process that runs the node and the pids of
	// its daemons, so that a later process can clean up after one that was
	// killed.
	ownerFile  = "/run/pulumi-jobs-node"
	dnsTimeout = 2 * time.Second
)

// nodeBinaries are the binaries of bin the real node runs.
var nodeBinaries = []string{"kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2", "ctr", "crictl"}

// hostPrerequisites are the files of Debian packages the real node needs
// (`make node-deps` installs them), by package.
var hostPrerequisites = []struct{ path, pkg string }{
	{"/usr/sbin/runc", "runc"},
	{"/usr/lib/cni/ptp", "containernetworking-plugins"},
	{"/usr/lib/cni/host-local", "containernetworking-plugins"},
	{"/usr/lib/cni/loopback", "containernetworking-plugins"},
	{"/usr/sbin/iptables", "iptables"},
}

// sysctls are the kernel settings the kubelet and the CNI plugins change;
// Stop puts back what StartNode found.
var sysctls = []string{"vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops", "net/ipv4/ip_forward"}

// RealNodeNamespaceAnnotations send every pod of a namespace to the real
// node: a node selector and a toleration of its taint.
var RealNodeNamespaceAnnotations = map[string]string{
	"scheduler.alpha.kubernetes.io/node-selector":      NodeTaint + "=true",
	"scheduler.alpha.kubernetes.io/defaultTolerations": `[{"key":"` + NodeTaint + `","operator":"Exists","effect":"NoSchedule"}]`,
}

// NodeMissing returns what StartNode needs and is absent: binaries of bin
// (`make node`), Debian packages (`make node-deps`), root.
func NodeMissing(bin string) []string {
	var missing []string
	for _, b := range nodeBinaries {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			missing = append(missing, filepath.Join(bin, b)+" (make node)")
		}
	}
	for _, p := range hostPrerequisites {
		if _, err := os.Stat(p.path); err != nil {
			missing = append(missing, p.path+" (Debian package "+p.pkg+": make node-deps)")
		}
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root (the kubelet, containerd and kube-proxy run as root)")
	}
	return missing
}

// RealNodeConfig writes a copy of the kwok configuration kwokConfig into dir
// that lets a real node join the cluster, and returns its path: kwok manages
// only its own nodes (annotated kwok.x-k8s.io/node=fake) instead of every
// node, and the API server enables the admission plugins that apply
// RealNodeNamespaceAnnotations.
func RealNodeConfig(kwokConfig, dir string) (string, error) {
	base, err := os.ReadFile(kwokConfig)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", kwokConfig, err)
	}
	doc := `
---
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
componentsPatches:
- name: kwok-controller
  extraArgs:
  - key: manage-all-nodes
    value: "false"
    override: true
  - key: manage-nodes-with-annotation-selector
    value: kwok.x-k8s.io/node=fake
- name: kube-apiserver
  extraArgs:
  - key: enable-admission-plugins
    value: PodNodeSelector,PodTolerationRestriction
`
	out := filepath.Join(dir, "kwok-real-node.yaml")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return out, os.WriteFile(out, append(base, doc...), 0o644)
}

// Node is the real node of a running cluster.
type Node struct {
	// Name is the node's name: this machine's hostname.
	Name string
	// HostIP is the machine's address on its default route: pods reach the
	// host there (cluster DNS, PostgreSQL).
	HostIP string
	// Timings are how long each start step took, for the docs' figures.
	Timings []Timing

	bin     string
	dir     string
	cluster *Cluster
	daemons []*daemon
	dns     *clusterDNS
	saved   map[string]string
}

// Timing is how long one step of StartNode took.
type Timing struct {
	// Step names the step.
	Step string
	// Took is its duration.
	Took time.Duration
}

type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartNode starts a real node in cluster c, keeping its files under dir,
// and imports the image archive images (`make node`) into its
// runtime. Stop must be called, pass or fail; Stop also runs when StartNode
// fails.
func StartNode(ctx context.Context, c *Cluster, dir, images string) (*Node, error) {
	if missing := NodeMissing(c.bin); len(missing) > 0 {
		return nil, fmt.Errorf("the real node needs: %s", strings.Join(missing, ", "))
	}
	if _, err := os.Stat(images); err != nil {
		return nil, fmt.Errorf("the real node's images: %w (make node)", err)
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("reading the hostname: %w", err)
	}
	n := &Node{Name: strings.ToLower(host), bin: c.bin, dir: dir, cluster: c, saved: map[string]string{}}
	// The API server reaches the kubelet by the node's Hostname address.
	if _, err := net.LookupHost(n.Name); err != nil {
		return nil, fmt.Errorf("the hostname %s does not resolve (%v): the API server could not reach the kubelet; add it to /etc/hosts", n.Name, err)
	}
	if n.HostIP, err = defaultRouteIP(); err != nil {
		return nil, err
	}
	if err := claimHost(c.bin, dir); err != nil {
		return nil, err
	}
	for _, s := range sysctls {
		if b, err := os.ReadFile("/proc/sys/" + s); err == nil {
			n.saved[s] = strings.TrimSpace(string(b))
			// Recorded too, for a cleanup after a process that was killed.
			if err := recordLine("sysctl " + s + "=" + n.saved[s]); err != nil {
				return nil, err
			}
		}
	}
	if err := n.start(ctx, images); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

func (n *Node) step(name string, start time.Time) {
	n.Timings = append(n.Timings, Timing{Step: name, Took: time.Since(start)})
}

func (n *Node) start(ctx context.Context, images string) error {
	for _, d := range []string{"containerd", "cni", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := n.writeConfigs(); err != nil {
		return err
	}

	t := time.Now()
	if err := n.run("containerd", filepath.Join(n.bin, "containerd"), "--config", filepath.Join(n.dir, "containerd.toml")); err != nil {
		return err
	}
	if err := waitFor(ctx, 30*time.Second, "containerd's socket "+containerdSock, func() bool {
		c, err := net.Dial("unix", containerdSock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}); err != nil {
		return n.withLog(err, "containerd")
	}
	n.step("containerd ready", t)

	t = time.Now()
	if out, err := exec.CommandContext(ctx, filepath.Join(n.bin, "ctr"), "--address", containerdSock, "-n", "k8s.io",
		"images", "import", "--all-platforms", images).CombinedOutput(); err != nil {
		return fmt.Errorf("importing %s: %w\n%s", images, err, out)
	}
	n.step("images imported", t)

	var err error
	if n.dns, err = startClusterDNS(net.JoinHostPort(n.HostIP, "53"), n.cluster.Client); err != nil {
		return err
	}

	t = time.Now()
	if err := n.run("kubelet", filepath.Join(n.bin, "kubelet"), "--config", filepath.Join(n.dir, "kubelet.yaml"),
		"--kubeconfig", n.cluster.Kubeconfig, "--root-dir", filepath.Join(n.dir, "kubelet"),
		"--hostname-override", n.Name, "--node-labels", NodeTaint+"=true", "--v=1"); err != nil {
		return err
	}
	if err := waitFor(ctx, 90*time.Second, "node "+n.Name+" Ready", func() bool {
		node, err := n.cluster.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}); err != nil {
		return n.withLog(err, "kubelet")
	}
	n.step("kubelet registered, node Ready", t)

	t = time.Now()
	if err := n.run("kube-proxy", filepath.Join(n.bin, "kube-proxy"), "--kubeconfig", n.cluster.Kubeconfig,
		"--hostname-override", n.Name, "--proxy-mode", "iptables", "--cluster-cidr", PodCIDR,
		"--metrics-bind-address", "127.0.0.1:10249", "--healthz-bind-address", "127.0.0.1:10256",
		"--conntrack-max-per-core", "0", "--v=1"); err != nil {
		return err
	}
	if err := waitFor(ctx, 60*time.Second, "kube-proxy healthy", func() bool {
		resp, err := http.Get("http://127.0.0.1:10256/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}); err != nil {
		return n.withLog(err, "kube-proxy")
	}
	n.step("kube-proxy healthy", t)
	return nil
}

func (n *Node) writeConfigs() error {
	containerd := fmt.Sprintf(`version = 3
root = %q
state = %q
[grpc]
  address = %q
[plugins]
  [plugins.'io.containerd.cri.v1.runtime']
    # The process lacks CAP_SYS_RESOURCE: never lower oom_score_adj.
    restrict_oom_score_adj = true
    enable_selinux = false
    disable_apparmor = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = "runc"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = "/usr/sbin/runc"
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ["/usr/lib/cni"]
      conf_dir = %q
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = "pulumi-jobs.local/pause:v1"
`, filepath.Join(n.dir, "containerd", "root"), containerdState, containerdSock, filepath.Join(n.dir, "cni"))
	cni := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "pulumi-jobs", "plugins": [
  {"type": "ptp", "ipMasq": true, "ipam": {"type": "host-local", "ranges": [[{"subnet": %q, "gateway": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}}
]}
`, PodCIDR, PodGateway, filepath.Join(n.dir, "cni", "ipam"))
	kubelet := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has a hybrid cgroup v1 layout; kubelet 1.36 refuses it unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://%s
failSwapOn: false
# kwokctl's API server has no kubelet client certificate: logs and exec need these.
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
registerWithTaints:
- {key: %s, value: "true", effect: NoSchedule}
podLogsDir: %q
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
clusterDNS: [%q]
clusterDomain: %s
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", nodefs.inodesFree: "1%%", imagefs.available: "1%%"}
# The imported images cannot be pulled again: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
`, containerdSock, NodeTaint, filepath.Join(n.dir, "pod-logs"), n.HostIP, ClusterDomain)
	for name, body := range map[string]string{
		"containerd.toml":                      containerd,
		filepath.Join("cni", "10-pj.conflist"): cni,
		"kubelet.yaml":                         kubelet,
	} {
		if err := os.WriteFile(filepath.Join(n.dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// run starts a daemon with its output in <dir>/<name>.log and records its
// pid for a later cleanup.
func (n *Node) run(name, path string, args ...string) error {
	log, err := os.Create(filepath.Join(n.dir, name+".log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = n.dir
	// containerd finds its shim and runc on PATH.
	cmd.Env = append(os.Environ(), "PATH="+n.bin+":/usr/sbin:/usr/bin:/sbin:/bin")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.done) }()
	n.daemons = append(n.daemons, d)
	return recordPid(cmd.Process.Pid)
}

func (n *Node) withLog(err error, name string) error {
	b, _ := os.ReadFile(filepath.Join(n.dir, name+".log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return fmt.Errorf("%w; the end of %s's log:\n%s", err, name, strings.Join(lines, "\n"))
}

// Stop stops the node and removes everything it started: pod sandboxes and
// containers (through the CRI, so that the CNI plugin removes their links
// and rules), the daemons, kube-proxy's and the kubelet's iptables rules,
// mounts under its directories, cgroups, and the kernel settings the
// kubelet changed. It never fails; what it could not remove, Leftovers
// reports.
func (n *Node) Stop() {
	if n.dns != nil {
		n.dns.stop()
	}
	// kube-proxy and the kubelet first: the kubelet would restart the pods.
	for _, name := range []string{"kube-proxy", "kubelet"} {
		n.stopDaemon(name)
	}
	crictl := func(args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(n.bin, "crictl"), append([]string{"--runtime-endpoint", "unix://" + containerdSock, "--timeout", "60s"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "localcluster: crictl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if n.daemonRunning("containerd") {
		crictl("rmp", "--all", "--force")
	}
	n.stopDaemon("containerd")
	n.cluster.deleteNode(n.Name)
	cleanupHost(n.bin, n.dir)
	for s, v := range n.saved {
		_ = os.WriteFile("/proc/sys/"+s, []byte(v), 0o644)
	}
	_ = os.Remove(ownerFile)
}

func (n *Node) daemonRunning(name string) bool {
	for _, d := range n.daemons {
		if d.name == name {
			select {
			case <-d.done:
				return false
			default:
				return true
			}
		}
	}
	return false
}

func (n *Node) stopDaemon(name string) {
	for _, d := range n.daemons {
		if d.name != name {
			continue
		}
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.done
		}
	}
}

// deleteNode deletes the Node object, if the API server still answers.
func (c *Cluster) deleteNode(name string) {
	if c.Client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.Client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
}

// claimHost makes this process the owner of the machine's real node, whose
// files are under dir. A node left by a process that is gone (killed, timed
// out) is cleaned up first; a node of a process that still runs is an error.
// The owner file holds the owner's pid, the node's directory, then the
// kernel settings as they were ("sysctl <name>=<value>") and the pid of
// each daemon.
func claimHost(bin, dir string) error {
	if b, err := os.ReadFile(ownerFile); err == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		owner, _ := strconv.Atoi(lines[0])
		if owner > 0 && owner != os.Getpid() && alive(owner) {
			return fmt.Errorf("a real node already runs on this machine, started by process %d (%s)", owner, ownerFile)
		}
		staleDir := ""
		if len(lines) > 1 && strings.HasPrefix(lines[1], "/") {
			staleDir = lines[1]
		}
		var restore []string
		if len(lines) > 2 {
			for _, l := range lines[2:] {
				if setting, ok := strings.CutPrefix(l, "sysctl "); ok {
					restore = append(restore, setting)
					continue
				}
				if pid, err := strconv.Atoi(l); err == nil && alive(pid) {
					_ = syscall.Kill(-pid, syscall.SIGKILL)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		cleanupHost(bin, staleDir)
		for _, r := range restore {
			if name, value, ok := strings.Cut(r, "="); ok && slices.Contains(sysctls, name) {
				_ = os.WriteFile("/proc/sys/"+name, []byte(value), 0o644)
			}
		}
	}
	return os.WriteFile(ownerFile, []byte(fmt.Sprintf("%d\n%s\n", os.Getpid(), dir)), 0o644)
}

// CleanStale removes what a real node left on this machine when the process
// that ran it is gone (killed, interrupted, timed out): it says whether
// there was one. A node whose process still runs is an error.
func CleanStale(bin string) (bool, error) {
	if _, err := os.Stat(ownerFile); err != nil {
		return false, nil
	}
	if err := claimHost(bin, ""); err != nil {
		return false, err
	}
	return true, os.Remove(ownerFile)
}

func recordPid(pid int) error { return recordLine(strconv.Itoa(pid)) }

// recordLine appends line to the owner file.
func recordLine(line string) error {
	f, err := os.OpenFile(ownerFile, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("recording %q in %s: %w", line, ownerFile, err)
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, line)
	return err
}

// cleanupHost removes what a real node leaves on the machine once its
// daemons are gone: container processes and shims still running, iptables
// chains of Kubernetes and of the CNI plugin, pod links, network namespaces,
// mounts under dir and containerd's state directory, the kubelet's cgroups,
// then dir itself ("" for none).
func cleanupHost(bin, dir string) {
	// Processes in the pods' cgroups outlive the kubelet and containerd, and
	// so do the shims (ours, by the path of their binary).
	for range 3 {
		pids := cgroupPids()
		pids = append(pids, processesOf(filepath.Join(bin, "containerd-shim-runc-v2"))...)
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// kube-proxy removes its own rules; then every KUBE-* and CNI-* chain
	// (the kubelet's canaries, ptp's masquerade chains) goes.
	if _, err := os.Stat(filepath.Join(bin, "kube-proxy")); err == nil {
		_ = exec.Command(filepath.Join(bin, "kube-proxy"), "--cleanup").Run()
	}
	for _, tool := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			removeChains(tool, table, "KUBE-", "CNI-")
		}
	}
	// ptp gives the host end of each pod's link the gateway address.
	if out, err := exec.Command("ip", "-o", "-4", "addr", "show").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) >= 4 && f[3] == PodGateway+"/32" {
				_ = exec.Command("ip", "link", "del", strings.TrimSuffix(f[1], ":")).Run()
			}
		}
	}
	roots := []string{containerdState}
	if dir != "" {
		roots = append(roots, dir)
	}
	if netns, _ := filepath.Glob("/run/netns/cni-*"); len(netns) > 0 {
		roots = append(roots, netns...)
	}
	for _, m := range mountsUnder(roots...) {
		_ = unix.Unmount(m, unix.MNT_DETACH)
	}
	for _, r := range roots {
		_ = os.RemoveAll(r)
	}
	for _, cg := range cgroupDirs() {
		_ = os.Remove(cg)
	}
}

// cgroupPids returns the processes in the kubelet's cgroups (cgroup v1:
// kubepods under each controller) and in containerd's own (k8s.io).
func cgroupPids() []int {
	var pids []int
	for _, d := range cgroupDirs() {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// cgroupDirs returns the kubelet's and containerd's cgroup directories,
// deepest first.
func cgroupDirs() []string {
	var dirs []string
	for _, top := range []string{"kubepods", "k8s.io"} {
		roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + top)
		for _, r := range roots {
			_ = filepath.WalkDir(r, func(p string, e os.DirEntry, err error) error {
				if err == nil && e.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
		}
	}
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return dirs
}

// processesOf returns the processes whose executable is path.
func processesOf(path string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == path {
			pids = append(pids, pid)
		}
	}
	return pids
}

// removeChains deletes the chains of table whose names start with one of
// prefixes, and every rule that jumps to them.
func removeChains(tool, table string, prefixes ...string) {
	chains, rules := iptablesChains(tool, table, prefixes...)
	for _, r := range rules {
		_ = exec.Command(tool, append([]string{"-w", "-t", table, "-D"}, r...)...).Run()
	}
	for _, c := range chains {
		_ = exec.Command(tool, "-w", "-t", table, "-F", c).Run()
	}
	for _, c := range chains {
		_ = exec.Command(tool, "-w", "-t", table, "-X", c).Run()
	}
}

// iptablesChains lists the chains of table whose names start with one of
// prefixes, and the rules of other chains that jump to them (as arguments
// after -A).
func iptablesChains(tool, table string, prefixes ...string) (chains []string, rules [][]string) {
	out, err := exec.Command(tool+"-save", "-t", table).Output()
	if err != nil {
		return nil, nil
	}
	return parseChains(string(out), prefixes...)
}

// parseChains reads iptables-save output: the chains whose names start with
// one of prefixes, and the rules of other chains that jump to them (as
// arguments after -A).
func parseChains(save string, prefixes ...string) (chains []string, rules [][]string) {
	ours := func(name string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
	sc := bufio.NewScanner(strings.NewReader(save))
	for sc.Scan() {
		f := splitRule(sc.Text())
		switch {
		case len(f) > 0 && strings.HasPrefix(f[0], ":") && ours(f[0][1:]):
			chains = append(chains, f[0][1:])
		case len(f) > 1 && f[0] == "-A" && !ours(f[1]):
			if i := slices.Index(f, "-j"); i >= 0 && i+1 < len(f) && ours(f[i+1]) {
				rules = append(rules, f[1:])
			}
		}
	}
	return chains, rules
}

// splitRule splits a line of iptables-save output into its arguments as
// the shell would: a double-quoted string is one argument, in which \" is a
// quote and \\ a backslash.
func splitRule(line string) []string {
	var args []string
	var cur strings.Builder
	inArg, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\'):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			quoted, inArg = !quoted, true
		case !quoted && (c == ' ' || c == '\t'):
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}

// mountsUnder returns the mount points at or under any of roots, deepest
// first.
func mountsUnder(roots ...string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		for _, r := range roots {
			if mp == r || strings.HasPrefix(mp, r+"/") {
				out = append(out, mp)
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// Leftovers lists what a stopped real node left on the machine: daemons,
// shims or container processes, iptables chains (KUBE-*, CNI-*), pod links,
// network namespaces, mounts under dir or containerd's state, cgroups, and
// the owner file. Empty means clean.
func Leftovers(bin, dir string) []string {
	var left []string
	for _, b := range []string{"kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2"} {
		for _, pid := range processesOf(filepath.Join(bin, b)) {
			left = append(left, fmt.Sprintf("process %d (%s)", pid, b))
		}
	}
	for _, pid := range cgroupPids() {
		left = append(left, fmt.Sprintf("process %d in a pod cgroup", pid))
	}
	for _, tool := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			chains, _ := iptablesChains(tool, table, "KUBE-", "CNI-")
			for _, c := range chains {
				left = append(left, fmt.Sprintf("%s chain %s/%s", tool, table, c))
			}
		}
	}
	if out, err := exec.Command("ip", "-o", "-4", "addr", "show").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) >= 4 && f[3] == PodGateway+"/32" {
				left = append(left, "link "+strings.TrimSuffix(f[1], ":"))
			}
		}
	}
	netns, _ := filepath.Glob("/run/netns/cni-*")
	for _, ns := range netns {
		left = append(left, "network namespace "+ns)
	}
	for _, m := range mountsUnder(containerdState, dir) {
		left = append(left, "mount "+m)
	}
	for _, d := range cgroupDirs() {
		left = append(left, "cgroup "+d)
	}
	for _, p := range []string{dir, containerdState, ownerFile} {
		if _, err := os.Stat(p); err == nil {
			left = append(left, "file "+p)
		}
	}
	return left
}

// defaultRouteIP returns this machine's IPv4 address on its default route
// (no packet is sent).
func defaultRouteIP() (string, error) {
	c, err := net.Dial("udp4", "203.0.113.1:9")
	if err != nil {
		return "", fmt.Errorf("finding the machine's address on its default route: %w", err)
	}
	defer c.Close()
	ip := c.LocalAddr().(*net.UDPAddr).IP
	if ip.IsLoopback() {
		return "", errors.New("the machine's default route is loopback: pods could not reach the host")
	}
	return ip.String(), nil
}

func waitFor(ctx context.Context, timeout time.Duration, what string, ok func() bool) error {
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: not after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}
