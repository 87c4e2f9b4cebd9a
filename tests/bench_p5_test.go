package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pulumi-jobs/pulumi-jobs/deploy/driver"
	"github.com/pulumi-jobs/pulumi-jobs/infra/program"
)

// p5Chart is the P5 fixture chart, released by both sides under this name.
const p5Chart, p5Release = "tests/testdata/bench-chart", "bench"

// p5Steps are the three releases P5 times on each side.
var p5Steps = []string{"install", "upgrade", "no-change"}

// BenchmarkP5Helm releases the same chart (tests/testdata/bench-chart:
// ServiceAccount, Role, ConfigMap and Secret hooks at weight 0, two 1 s hook
// Jobs at weights 1 and 2, an install-only Secret, two Deployments and two
// Services) on the same local cluster, each side in a namespace of its own:
//
//   - ours: the chart app (`app.chart.path`) released by the driver as
//     `pulumi-jobs up` does (open the stack, preflight, up): install, an
//     image bump, then an up that changes nothing;
//   - Helm: `helm install --wait`, `helm upgrade --wait` with the same image
//     bump, then the same `helm upgrade --wait` again (which re-runs every
//     pre-upgrade hook). `--wait` alone is Helm 4's kstatus watcher; the
//     same three are also run with `--wait=legacy`, Helm 3's readiness
//     checks.
//
// It prints each pair and its ratio. Targets (docs/benchmarks.md, "`make
// bench`"; not asserted): install and upgrade ≤ 1.0× Helm, no-change ≤ 0.5×
// Helm's no-change upgrade. Run with -benchtime 1x.
func BenchmarkP5Helm(b *testing.B) {
	e := setup(b)
	helm := filepath.Join(e.bin, "helm")
	if _, err := os.Stat(helm); err != nil {
		b.Skipf("P5 needs the Helm CLI %s: build it with `make bin/helm` (`make bench` does)", helm)
	}
	chart := filepath.Join(e.root, p5Chart)
	for b.Loop() {
		hw := p5Helm(b, e, helm, chart, "p5-helm", "--wait")
		hl := p5Helm(b, e, helm, chart, "p5-helm-legacy", "--wait=legacy")
		ours, first := p5Ours(b, e, chart)
		for i, step := range p5Steps {
			target := 1.0
			if step == "no-change" {
				target = 0.5
			}
			ratio := ours[i].Seconds() / hw[i].Seconds()
			b.ReportMetric(ours[i].Seconds(), "s/ours-"+step)
			b.ReportMetric(hw[i].Seconds(), "s/helm-"+step)
			b.ReportMetric(ratio, "x-helm-"+step)
			fmt.Printf("P5  %-9s ours %5.2fs | helm --wait %5.2fs → %.2f× (target ≤ %.1f×) | helm --wait=legacy %5.2fs → %.2f×\n",
				step, ours[i].Seconds(), hw[i].Seconds(), ratio, target, hl[i].Seconds(), ours[i].Seconds()/hl[i].Seconds())
		}
		fmt.Printf("P5  ours, first up: %s\n", first)
	}
}

// p5Helm releases the chart with the Helm CLI in namespace ns: install,
// image bump, the same upgrade again; it returns the three wall times.
func p5Helm(b *testing.B, e *env, helm, chart, ns string, wait string) []time.Duration {
	b.Helper()
	home := b.TempDir()
	env := append(os.Environ(), "KUBECONFIG="+e.cluster.Kubeconfig,
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, helm, "uninstall", p5Release, "--namespace", ns, "--wait", "--timeout", "1m")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Logf("helm uninstall in %s: %v: %s", ns, err, out)
		}
		deleteNamespace(b, e, ns)
	})
	run := func(args ...string) time.Duration {
		args = append(args, p5Release, chart, "--namespace", ns, wait, "--timeout", "5m")
		cmd := exec.Command(helm, args...)
		cmd.Env = env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		require.NoError(b, err, "helm %s: %s", strings.Join(args, " "), out)
		return took
	}
	install := run("install", "--create-namespace")
	upgrade := run("upgrade", "--set", "image.tag=1.1.0")
	same := run("upgrade", "--set", "image.tag=1.1.0")
	p5Check(b, e, ns, "1.1.0")
	return []time.Duration{install, upgrade, same}
}

// p5Ours releases the chart with our driver in a stack of its own, timing
// each release as `pulumi-jobs up` runs it: open the stack (the CLI's
// version check, the workspace, the provider plugin, the stack), preflight,
// up. It returns the three wall times, and where the first up's time went.
func p5Ours(b *testing.B, e *env, chart string) ([]time.Duration, string) {
	b.Helper()
	r := newStackSuffixed(b, e, "dev", "ours")
	require.NoError(b, os.CopyFS(filepath.Join(r.workDir, "charts", p5Release), os.DirFS(chart)))
	cfg := stackConfig{App: map[string]any{
		"name": p5Release, "image": "ghcr.io/acme/bench:1.0.0",
		"chart": map[string]any{"path": "charts/" + p5Release},
	}}
	ctx := context.Background()
	var first string
	up := func() time.Duration {
		progress := &stampWriter{start: time.Now()}
		start := progress.start
		run := program.RunIn(r.workDir, e.cluster.Kubeconfig)
		d, err := driver.Open(ctx, driver.Options{
			WorkDir: r.workDir, Stack: r.name, PulumiRoot: e.root, Home: e.home,
			BackendURL: "file://" + r.backendDir, Kubeconfig: e.cluster.Kubeconfig, ProviderPath: e.provider,
			Progress: progress,
			// The program as the driver runs it, timed: the config read, the
			// chart rendered and the release declared.
			Program: func(ctx *pulumi.Context) error {
				progress.mark("program start")
				if err := ctx.RegisterStackTransformation(func(a *pulumi.ResourceTransformationArgs) *pulumi.ResourceTransformationResult {
					if strings.HasPrefix(a.Type, "kubernetes:") {
						progress.mark("first Kubernetes object declared")
					}
					return nil
				}); err != nil {
					return err
				}
				return run(ctx)
			},
		})
		require.NoError(b, err)
		opened := time.Since(start)
		_, err = d.Preflight(ctx, "up")
		require.NoError(b, err)
		preflighted := time.Since(start)
		_, err = d.Up(ctx)
		took := time.Since(start)
		require.NoError(b, err, "engine progress:\n%s", progress.text())
		if dir := os.Getenv("P5_PROGRESS_DIR"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("p5-ours-%d.txt", time.Now().UnixNano())), []byte(progress.text()), 0o644)
		}
		if first == "" {
			first = progress.breakdown(opened, preflighted, took)
		}
		return took
	}
	r.write(b, cfg)
	install := up()
	cfg.App["image"] = "ghcr.io/acme/bench:1.1.0"
	r.write(b, cfg)
	upgrade := up()
	same := up()
	p5Check(b, e, r.namespace, "1.1.0")
	return []time.Duration{install, upgrade, same}, first
}

// p5Check fails the benchmark unless both Deployments of the chart run tag.
func p5Check(b *testing.B, e *env, ns, tag string) {
	b.Helper()
	for _, name := range []string{p5Release + "-web", p5Release + "-worker"} {
		dep, err := e.cluster.Client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		require.NoError(b, err)
		require.Equal(b, "ghcr.io/acme/bench:"+tag, dep.Spec.Template.Spec.Containers[0].Image, "%s/%s", ns, name)
	}
}

func deleteNamespace(b *testing.B, e *env, ns string) {
	err := e.cluster.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		b.Logf("deleting namespace %s: %v", ns, err)
	}
}

// stampWriter keeps the engine's progress text with the time each line
// arrived, to tell where an up's time went.
type stampWriter struct {
	start time.Time
	mu    sync.Mutex
	buf   bytes.Buffer
	lines []stampedLine
	marks []stampedLine
}

type stampedLine struct {
	at   time.Duration
	text string
}

func (w *stampWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at := time.Since(w.start)
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.Reset()
			w.buf.WriteString(line)
			break
		}
		w.lines = append(w.lines, stampedLine{at, strings.TrimRight(line, "\n")})
	}
	return len(p), nil
}

// mark records a moment of the driver's own, among the progress lines.
func (w *stampWriter) mark(what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.marks = append(w.marks, stampedLine{time.Since(w.start), what})
}

// at returns when what was first marked.
func (w *stampWriter) at(what string) time.Duration {
	for _, m := range w.marks {
		if m.text == what {
			return m.at
		}
	}
	return -1
}

func (w *stampWriter) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var s strings.Builder
	for _, l := range w.lines {
		fmt.Fprintf(&s, "%7.3fs %s\n", l.at.Seconds(), l.text)
	}
	return s.String()
}

// breakdown says where an up's time went, from the driver's own times and
// the progress lines: the CLI's first line, its first and last resource
// step, its summary, and the return of Up.
func (w *stampWriter) breakdown(opened, preflighted, done time.Duration) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var firstStep, lastStep, summary time.Duration = -1, -1, -1
	for _, l := range w.lines {
		t := strings.TrimSpace(l.text)
		if strings.HasPrefix(t, "+ ") || strings.HasPrefix(t, "~ ") || strings.HasPrefix(t, "++") || strings.HasPrefix(t, "+-") || strings.HasPrefix(t, "- ") {
			if firstStep < 0 && strings.Contains(t, "kubernetes:") {
				firstStep = l.at
			}
			lastStep = l.at
		}
		if summary < 0 && strings.HasPrefix(t, "Resources:") {
			summary = l.at
		}
	}
	start, declared := w.at("program start"), w.at("first Kubernetes object declared")
	return fmt.Sprintf("driver open %.2fs, preflight %.2fs, CLI start → program start %.2fs, program start → first Kubernetes object declared %.2fs (config, cluster read, chart render), "+
		"→ first Kubernetes step %.2fs (provider plugin start and configure), steps %.2fs, last step → summary %.2fs → Up returned %.2fs (total %.2fs)",
		opened.Seconds(), (preflighted - opened).Seconds(), (start - preflighted).Seconds(), (declared - start).Seconds(),
		(firstStep - declared).Seconds(), (lastStep - firstStep).Seconds(), (summary - lastStep).Seconds(), (done - summary).Seconds(), done.Seconds())
}
