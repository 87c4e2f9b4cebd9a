package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// logoPath is the URL path the loopback server serves the logo at.
const logoPath = "/logo.png"

// serveLogo serves png at http://127.0.0.1:<free port>/logo.png until stop is
// called, and returns that URL. Loopback addresses bypass any HTTP proxy set
// in the environment, so the generator's http.Get reaches it offline.
func serveLogo(png []byte) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("starting the loopback logo server: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+logoPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "sdkgen-dotnet: loopback logo server:", err)
		}
	}()
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String() + logoPath, stop, nil
}
