// Command smoke is the end-to-end tests' smoke test: it GETs --url until the
// answer starts with --expect or --timeout passes, printing what it got, and
// exits 0 on a match, 1 otherwise.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	url := flag.String("url", "http://shop:8080/version", "what to GET")
	expect := flag.String("expect", "", "the prefix the answer must have")
	timeout := flag.Duration("timeout", 30*time.Second, "how long to retry")
	flag.Parse()
	client := &http.Client{Timeout: 3 * time.Second}
	deadline := time.Now().Add(*timeout)
	for {
		got, err := get(client, *url)
		if err == nil && strings.HasPrefix(got, *expect) {
			fmt.Printf("smoke: %s answered %q\n", *url, got)
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "smoke: %s answered %q (%v), want prefix %q\n", *url, got, err, *expect)
			os.Exit(1)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return strings.TrimSpace(string(b)), fmt.Errorf("status %s", resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}
