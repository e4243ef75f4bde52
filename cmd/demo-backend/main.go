// Command demo-backend is the tiny HTTP server behind the quickstart: it
// answers every request with its name and what it received, so routing can
// be seen with curl.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"sort"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "address to listen on")
	name := flag.String("name", "demo", "name to answer with")
	flag.Parse()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "backend: %s\nhost: %s\npath: %s\n", *name, r.Host, r.URL.RequestURI())
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if len(k) > 2 && k[:2] == "X-" {
				fmt.Fprintf(w, "%s: %s\n", k, r.Header.Get(k))
			}
		}
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("demo backend %q listening on %s", *name, *listen)
	log.Fatal(srv.ListenAndServe())
}
