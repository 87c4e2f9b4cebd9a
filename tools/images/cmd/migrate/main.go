// Command migrate is the end-to-end tests' migration: it applies schema
// versions 1..--to to the PostgreSQL database at $DATABASE_URL, each in a
// transaction recorded in schema_migrations, printing one line per step.
// With --fail N it prints an error on stderr and exits N after connecting.
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"os"

	_ "github.com/lib/pq"
)

// steps are the schema versions, in order: index i is version i+1.
var steps = []string{
	`CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)`,
	`ALTER TABLE items ADD COLUMN price_cents integer NOT NULL DEFAULT 0`,
}

func main() {
	to := flag.Int("to", len(steps), "the schema version to migrate to")
	fail := flag.Int("fail", 0, "exit with this code after connecting (a failing migration)")
	flag.Parse()
	if err := run(*to, *fail); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

func run(to, fail int) error {
	if to < 0 || to > len(steps) {
		return fmt.Errorf("--to %d: versions go from 0 to %d", to, len(steps))
	}
	db, err := sql.Open("postgres", os.Getenv("DATABASE_URL"))
	if err != nil {
		return fmt.Errorf("opening DATABASE_URL: %w", err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var current int
	if err := db.QueryRow(`SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	fmt.Printf("schema at version %d, migrating to %d\n", current, to)
	if fail != 0 {
		fmt.Fprintf(os.Stderr, "migration %d failed: relation \"items\" is locked by another session\n", current+1)
		os.Exit(fail)
	}
	for v := current + 1; v <= to; v++ {
		tx, err := db.Begin()
		if err != nil {
			return fmt.Errorf("version %d: %w", v, err)
		}
		if _, err := tx.Exec(steps[v-1]); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("version %d: %w", v, err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_migrations (version) VALUES ($1)`, v); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("recording version %d: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("version %d: %w", v, err)
		}
		fmt.Printf("applied version %d\n", v)
	}
	fmt.Printf("schema at version %d\n", to)
	return nil
}
