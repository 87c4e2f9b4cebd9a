package driver

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStaleLocks(t *testing.T) {
	taken := time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		lock    lockContent
		running bool
		stale   bool
	}{
		{"holder gone on this host", lockContent{Pid: 41, Hostname: "here", Timestamp: taken}, false, true},
		{"holder still running", lockContent{Pid: 42, Hostname: "here", Timestamp: taken}, true, false},
		{"held on another host", lockContent{Pid: 43, Hostname: "ci-runner-7", Timestamp: taken}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			lockDir := filepath.Join(dir, ".pulumi", "locks", "organization", "pulumi-jobs", "dev")
			require.NoError(t, os.MkdirAll(lockDir, 0o755))
			b, err := json.Marshal(c.lock)
			require.NoError(t, err)
			file := filepath.Join(lockDir, "lock.json")
			require.NoError(t, os.WriteFile(file, b, 0o644))

			var asked []int
			r := recovery{hostname: "here", running: func(pid int, since time.Time) bool {
				asked = append(asked, pid)
				assert.Equal(t, taken, since.UTC())
				return c.running
			}}
			stale, kept, err := r.staleLocks(dir, "dev")
			require.NoError(t, err)
			if c.stale {
				assert.Equal(t, []string{file}, stale)
				assert.Empty(t, kept)
			} else {
				assert.Empty(t, stale)
				require.Len(t, kept, 1)
			}
			if c.lock.Hostname != "here" {
				assert.Empty(t, asked, "a process on another host is never looked up here")
			}
		})
	}
}

func TestProcessRunning(t *testing.T) {
	assert.True(t, processRunning(os.Getpid(), time.Now()), "this test process runs and started before now")
	assert.False(t, processRunning(os.Getpid(), time.Now().Add(-240*time.Hour)),
		"a process that started after the lock was taken only reuses the pid")
	assert.False(t, processRunning(1<<22+1, time.Now()), "no such pid")
}
