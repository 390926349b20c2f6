// Command baseline is the smallest Go web server: the yardstick for the portal's cold start
// and idle memory in BenchmarkColdStartAndIdleMemory.
package main

import (
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	http.ListenAndServe(os.Args[1], nil)
}
