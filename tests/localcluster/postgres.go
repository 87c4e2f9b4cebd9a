package localcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// postgresBin returns where Debian's postgresql package put the server's
// programs (initdb, postgres): /usr/lib/postgresql/<major>/bin, the newest
// major installed (15 on Debian 12).
func postgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestMajor := "/usr/lib/postgresql/15/bin", -1
	for _, d := range dirs {
		major, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err == nil && major > bestMajor {
			best, bestMajor = d, major
		}
	}
	return best
}

// Postgres is a throwaway PostgreSQL server for the real node's pods.
type Postgres struct {
	// Port is the TCP port it listens on, on every address.
	Port int
	// User and Password are what pods log in with.
	User, Password string

	dir string
	cmd *exec.Cmd
	// release ends the goroutine whose thread started the server (see
	// StartPostgres).
	release chan struct{}
}

// PostgresMissing returns what StartPostgres needs and is absent.
func PostgresMissing() []string {
	var missing []string
	bin := postgresBin()
	for _, p := range []string{filepath.Join(bin, "initdb"), filepath.Join(bin, "postgres")} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p+" (Debian package postgresql: make node-deps)")
		}
	}
	if _, err := user.Lookup("postgres"); err != nil {
		missing = append(missing, "the user postgres (Debian package postgresql: make node-deps)")
	}
	return missing
}

// StartPostgres initialises a database cluster in dir and starts a server
// on port, listening on every address so that pods on the real node reach it
// through the node's address, with password logins from podCIDR and from the
// host. It runs as the user postgres (PostgreSQL refuses root). Stop must be
// called, pass or fail.
func StartPostgres(ctx context.Context, dir string, port int, podCIDR string) (*Postgres, error) {
	if missing := PostgresMissing(); len(missing) > 0 {
		return nil, fmt.Errorf("PostgreSQL is missing: %s", strings.Join(missing, ", "))
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("looking up the user postgres: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cred := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	p := &Postgres{Port: port, User: "app", Password: "app-secret", dir: dir}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", data, err)
	}
	for _, d := range []string{dir, data} {
		if err := os.Chown(d, uid, gid); err != nil {
			return nil, fmt.Errorf("handing %s to postgres: %w", d, err)
		}
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.Password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.Chown(pwfile, uid, gid); err != nil {
		return nil, err
	}
	initdb := exec.CommandContext(ctx, filepath.Join(postgresBin(), "initdb"), "-D", data, "-U", p.User,
		"--pwfile="+pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = cred
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("port %d is taken: a PostgreSQL of an earlier run may still be there (its data directory is below %s)", port, os.TempDir())
	}
	hba := fmt.Sprintf("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all %s scram-sha-256\n", podCIDR)
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return nil, err
	}
	p.cmd = exec.Command(filepath.Join(postgresBin(), "postgres"), "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=*", "-c", "unix_socket_directories="+dir, "-c", "fsync=off")
	// A fast shutdown when this process dies without Stop (killed,
	// interrupted). The signal is tied to the thread that starts the
	// server, not to the process: a thread the Go runtime had handed back
	// to its pool could be ended by any goroutine that locks it and exits,
	// and the server would be stopped at once. So a goroutine of its own
	// starts it on a thread it keeps locked until Stop.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred.Credential, Setpgid: true, Pdeathsig: syscall.SIGINT}
	p.cmd.Dir = dir
	logf, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.release = make(chan struct{})
	started := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, after Stop
		started <- p.cmd.Start()
		<-p.release
	}()
	err = <-started
	if err != nil {
		close(p.release)
		logf.Close()
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	logf.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			p.Stop()
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			return nil, fmt.Errorf("postgres does not listen on port %d after 30 s: %v\n%s", port, err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return p, nil
}

// Query runs sql with psql on the server's socket and returns its
// unaligned, tuples-only output.
func (p *Postgres) Query(ctx context.Context, sql string) (string, error) {
	cmd := exec.CommandContext(ctx, "psql", "-h", p.dir, "-p", strconv.Itoa(p.Port), "-U", p.User, "-d", "postgres",
		"-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql -c %q: %w\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// CreateDatabase creates the database name, owned by the server's user.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) error {
	_, err := p.Query(ctx, "CREATE DATABASE "+quoteIdent(name))
	return err
}

// QueryDB runs sql in database db, like Query.
func (p *Postgres) QueryDB(ctx context.Context, db, sql string) (string, error) {
	cmd := exec.CommandContext(ctx, "psql", "-h", p.dir, "-p", strconv.Itoa(p.Port), "-U", p.User, "-d", db,
		"-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql -d %s -c %q: %w\n%s", db, sql, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// DatabaseURL is the connection URL of database db at host.
func (p *Postgres) DatabaseURL(host, db string) string {
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", p.User, p.Password, host, p.Port, db)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Stop stops the server (a fast shutdown) and removes its files.
func (p *Postgres) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	if p.release != nil {
		close(p.release)
		p.release = nil
	}
	_ = os.RemoveAll(p.dir)
}
