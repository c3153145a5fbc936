// hello-go: a tiny HTTP server for staticize's examples and tests.
// It listens on $BIND:$PORT (default 0.0.0.0:8080) and answers every request with one line.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
)

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func main() {
	addr := net.JoinHostPort(env("BIND", "0.0.0.0"), env("PORT", "8080"))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from go (%s/%s) %s\n", runtime.GOOS, runtime.GOARCH, r.URL.Path)
	})
	log.Printf("hello-go listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
