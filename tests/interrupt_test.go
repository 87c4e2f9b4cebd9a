package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
)

// TestInterruptedUp kills an up (SIGKILL of the Pulumi CLI, as a lost CI
// runner would) while a migration runs; the driver then recovers what the
// killed run left and the next up completes the release.
func TestInterruptedUp(t *testing.T) {
	for _, hard := range []bool{false, true} {
		name := map[bool]string{false: "interrupt", true: "sigkill"}[hard]
		t.Run(name, func(t *testing.T) { interruptedUp(t, hard) })
	}
}

func interruptedUp(t *testing.T, hard bool) {
	e := setup(t)
	cfg := stackConfig{App: app("1.0.0"), PreDeploy: []map[string]any{job("migrate", 0, "1s", nil)}}
	r := newStackWith(t, e, cfg)
	ctx := context.Background()
	_, err := r.Up(ctx)
	require.NoError(t, err)

	cfg.App = app("2.0.0")
	cfg.PreDeploy = []map[string]any{job("migrate", 0, "8s", nil)}
	r.write(t, cfg)
	upCtx, kill := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := r.Up(upCtx); done <- err }()
	require.Eventually(t, func() bool { return len(runsWithImage(t, e, r, "ghcr.io/acme/shop:2.0.0")) > 0 },
		time.Minute, 200*time.Millisecond, "the new migration run starts")
	if hard {
		killCLI(t, r.name) // as a lost CI runner would: no chance to clean up
	} else {
		kill() // the Automation API interrupts the CLI, which winds down
	}
	require.Error(t, <-done)
	kill()

	stack := r.Stack()
	state, err := stack.Export(ctx)
	require.NoError(t, err)
	var dep map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(state.Deployment, &dep))
	t.Logf("pending operations after the kill: %s", dep["pending_operations"])

	recovered, err := r.Recover(ctx)
	require.NoError(t, err)
	t.Logf("recovered: %q", recovered)
	if hard {
		assert.NotEmpty(t, recovered, "the killed run left a stack lock behind, and the driver said it removed it")
	}

	_, err = r.Up(ctx)
	require.NoError(t, err, "the next up completes the release")
	runs := runsWithImage(t, e, r, "ghcr.io/acme/shop:2.0.0")
	completed := 0
	for _, j := range runs {
		if complete(j) {
			completed++
		}
	}
	t.Logf("runs of the new migration: %d, completed: %d", len(runs), completed)
	assert.Equal(t, 1, completed, "the migration ran to completion once for the new image")
}

// killCLI sends SIGKILL to the `pulumi up` process of stack and to every
// process it started (its plugins), as losing the machine it runs on would.
func killCLI(t *testing.T, stack string) {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 2 && filepath.Base(args[0]) == "pulumi" && slices.Contains(args, "up") && slices.Contains(args, stack) {
			pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			require.NoError(t, err)
			plugins := descendants(pid)
			for _, p := range append(plugins, pid) {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			// The plugins are re-parented to this process (a child
			// subreaper, see localcluster.Start) once the CLI is gone: reap them.
			t.Cleanup(func() { reap(plugins) })
			return
		}
	}
	require.FailNow(t, "no pulumi up process of stack "+stack)
}

func runsWithImage(t *testing.T, e *env, r *testStack, image string) []batchv1.Job {
	var out []batchv1.Job
	for _, j := range jobsOf(t, e.cluster.Client, r.namespace)["migrate"] {
		if j.Spec.Template.Spec.Containers[0].Image == image {
			out = append(out, j)
		}
	}
	return out
}

// descendants returns the pids of every process below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		children[ppid] = append(children[ppid], child)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// reap waits for the given processes, which this process inherited, so that
// none is left as a zombie.
func reap(pids []int) {
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for time.Now().Before(deadline) {
			var ws syscall.WaitStatus
			if got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); got == pid || (err != nil && err != syscall.EINTR && !stillChild(pid)) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// stillChild reports whether pid exists and is not yet re-parented away.
func stillChild(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}
