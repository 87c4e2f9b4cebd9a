// Command app is the end-to-end tests' app: an HTTP server on $PORT (8080)
// whose readiness endpoint (/healthz) answers 200 only once it has waited
// READY_AFTER (a Go duration, default 2s) and found the schema version it
// needs (APP_SCHEMA, default 1) in the PostgreSQL database at $DATABASE_URL,
// and whose /version answers APP_VERSION (baked into each image).
package main

import (
	"database/sql"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	_ "github.com/lib/pq"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run() error {
	version := env("APP_VERSION", "unknown")
	need, err := strconv.Atoi(env("APP_SCHEMA", "1"))
	if err != nil {
		return fmt.Errorf("APP_SCHEMA: %w", err)
	}
	delay, err := time.ParseDuration(env("READY_AFTER", "2s"))
	if err != nil {
		return fmt.Errorf("READY_AFTER: %w", err)
	}
	db, err := sql.Open("postgres", os.Getenv("DATABASE_URL"))
	if err != nil {
		return fmt.Errorf("opening DATABASE_URL: %w", err)
	}
	started := time.Now()
	schema := func() (int, error) {
		var v int
		err := db.QueryRow("SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
		return v, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if time.Since(started) < delay {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		v, err := schema()
		if err != nil || v < need {
			http.Error(w, fmt.Sprintf("schema version %d, need %d (%v)", v, need, err), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		v, _ := schema()
		fmt.Fprintf(w, "%s schema=%d\n", version, v)
	})
	addr := ":" + env("PORT", "8080")
	log.Printf("app %s listening on %s, needs schema %d", version, addr, need)
	return http.ListenAndServe(addr, mux)
}
