package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// lockContent is the DIY backend's lock file (pkg/backend/diy/lock.go).
type lockContent struct {
	Pid       int       `json:"pid"`
	Username  string    `json:"username"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
}

// processCheck says whether the process that wrote a lock is still running.
// It is a field of recovery so tests can stand in for /proc.
type processCheck func(pid int, since time.Time) bool

// recovery finds what an interrupted run left behind.
type recovery struct {
	hostname string
	running  processCheck
}

// staleLocks returns the lock files of stack in the local backend at dir
// whose holder is provably gone, and describes every lock it keeps.
func (r recovery) staleLocks(dir, stack string) (stale []string, kept []string, err error) {
	files, err := filepath.Glob(filepath.Join(dir, ".pulumi", "locks", "*", "*", stack, "*.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("listing locks: %w", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("reading lock %s: %w", f, err)
		}
		var l lockContent
		if err := json.Unmarshal(b, &l); err != nil {
			kept = append(kept, fmt.Sprintf("%s: unreadable (%v)", f, err))
			continue
		}
		switch {
		case l.Hostname != r.hostname:
			kept = append(kept, fmt.Sprintf("%s: held by pid %d on host %s, which cannot be checked from here", f, l.Pid, l.Hostname))
		case r.running(l.Pid, l.Timestamp):
			kept = append(kept, fmt.Sprintf("%s: held by pid %d, which is still running", f, l.Pid))
		default:
			stale = append(stale, f)
		}
	}
	return stale, kept, nil
}

// processRunning reports whether pid is a live (not zombie) process that
// started no later than since: a process that started after the lock was
// written reuses the pid of the one that wrote it.
func processRunning(pid int, since time.Time) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	stat := string(b)
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	fields := strings.Fields(stat[i+2:])
	if len(fields) < 20 || fields[0] == "Z" {
		return len(fields) >= 1 && fields[0] != "Z"
	}
	started, ok := processStart(fields[19])
	return !ok || !started.After(since.Add(time.Second))
}

// processStart converts /proc/<pid>/stat's starttime (clock ticks since
// boot; 100 per second on Linux) to a time.
func processStart(ticks string) (time.Time, bool) {
	t, err := strconv.ParseInt(ticks, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(boot, 0).Add(time.Duration(t) * 10 * time.Millisecond), true
		}
	}
	return time.Time{}, false
}

// Recover removes what an interrupted run of the stack left behind, but only
// what provably belongs to a run that is gone: lock files of the local
// backend whose process no longer runs on this host, and then, when no run
// holds the stack, the state's pending operations. It returns one line per
// thing it recovered, for the user.
func (d *Driver) Recover(ctx context.Context) ([]string, error) {
	backend, ok := strings.CutPrefix(d.opts.BackendURL, "file://")
	if !ok {
		return nil, nil // a managed backend has its own locking
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("reading the hostname: %w", err)
	}
	stale, kept, err := recovery{hostname: host, running: processRunning}.staleLocks(backend, d.opts.Stack)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, f := range stale {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return done, fmt.Errorf("removing stale lock %s: %w", f, err)
		}
		done = append(done, fmt.Sprintf("removed the stack lock %s: the run that held it is gone", filepath.Base(f)))
	}
	if len(kept) > 0 {
		return done, nil // a live (or unverifiable) run holds the stack: leave its state alone
	}
	cleared, err := d.clearPendingOperations(ctx)
	return append(done, cleared...), err
}

// clearPendingOperations resolves the pending operations that an
// interrupted run recorded in the state, naming each. A Job whose creation
// was pending may exist and still run in the cluster: it is awaited and then
// adopted as the Job's current run (the run it replaces is marked for
// deletion), so the next up neither runs the migration a second time nor
// starts a second run beside it. Anything else pending is cleared, as
// `pulumi cancel` plus `refresh --clear-pending-creates` would.
func (d *Driver) clearPendingOperations(ctx context.Context) ([]string, error) {
	// Most runs find nothing pending: look first without starting the CLI.
	current, err := d.deployment(ctx)
	if err != nil {
		return nil, err
	}
	var peek struct {
		Pending []json.RawMessage `json:"pending_operations"`
	}
	if len(current) > 0 && json.Unmarshal(current, &peek) == nil && len(peek.Pending) == 0 {
		return nil, nil
	}
	stack := d.stack
	state, err := stack.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the state: %w", err)
	}
	var dep map[string]json.RawMessage
	if err := json.Unmarshal(state.Deployment, &dep); err != nil || dep["pending_operations"] == nil {
		return nil, nil
	}
	var pending []pendingOp
	if err := json.Unmarshal(dep["pending_operations"], &pending); err != nil || len(pending) == 0 {
		return nil, nil
	}
	var resources []map[string]any
	if err := json.Unmarshal(dep["resources"], &resources); err != nil {
		return nil, fmt.Errorf("reading the state's resources: %w", err)
	}
	var done []string
	for _, p := range pending {
		urn, _ := p.Resource["urn"].(string)
		if p.Type == "creating" && p.Resource["type"] == "kubernetes:batch/v1:Job" {
			adopted, msg, err := d.adoptJob(ctx, p.Resource, resources)
			if err != nil {
				return done, err
			}
			if adopted != nil {
				resources = adopted
				done = append(done, msg)
				continue
			}
		}
		done = append(done, fmt.Sprintf("cleared the pending %s of %s left by an interrupted run", p.Type, urn))
	}
	delete(dep, "pending_operations")
	if dep["resources"], err = json.Marshal(resources); err != nil {
		return nil, fmt.Errorf("writing the state's resources: %w", err)
	}
	if state.Deployment, err = json.Marshal(dep); err != nil {
		return nil, fmt.Errorf("writing the state: %w", err)
	}
	if err := stack.Import(ctx, state); err != nil {
		return nil, fmt.Errorf("importing the recovered state: %w", err)
	}
	return done, nil
}

// pendingOp is a pending operation of the state.
type pendingOp struct {
	Type     string         `json:"type"`
	Resource map[string]any `json:"resource"`
}

// adoptJob waits for the Job that a pending create started and returns the
// resources with it adopted; nil when there is no such Job in the cluster.
func (d *Driver) adoptJob(ctx context.Context, res map[string]any, resources []map[string]any) ([]map[string]any, string, error) {
	inputs, _ := res["inputs"].(map[string]any)
	meta, _ := inputs["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	if ns == "" || name == "" {
		return nil, "", nil
	}
	client, err := d.kubeClient()
	if err != nil {
		return nil, "", err
	}
	outcome, err := waitForJob(ctx, client, ns, name, d.opts.Progress)
	if err != nil || outcome == "" {
		return nil, "", err
	}
	urn := res["urn"]
	adopted := map[string]any{}
	for k, v := range res {
		adopted[k] = v
	}
	adopted["id"] = ns + "/" + name
	adopted["outputs"] = inputs
	out := make([]map[string]any, 0, len(resources)+1)
	inserted := false
	for _, r := range resources {
		if r["urn"] == urn && r["delete"] != true {
			r["delete"] = true // the previous run: deleted by the next up
			out = append(out, r, adopted)
			inserted = true
			continue
		}
		out = append(out, r)
	}
	if !inserted {
		out = append(out, adopted)
	}
	return out, fmt.Sprintf("adopted Job %s/%s, which an interrupted run had started and which has since %s, as the current run of %v", ns, name, outcome, urn), nil
}
