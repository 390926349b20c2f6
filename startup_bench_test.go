package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkColdStartAndIdleMemory builds the portal and starts it as a newcomer would (fresh
// data directory: migrations, the embedded sandbox, three demo readers), from a binary read
// from disk as an installed one is (asDeployed), timing exec to the
// first 200 from /healthz, then reads its resident memory after IDLE_SECONDS (default 5) of
// idling. The same is measured, in the same run, for the smallest Go web server
// (testdata/baseline), and reported as ratios.
//
//	go test -run '^$' -bench ColdStart -benchtime 3x .
func BenchmarkColdStartAndIdleMemory(b *testing.B) {
	dir := b.TempDir()
	portal, baseline := filepath.Join(dir, "portal"), filepath.Join(dir, "baseline")
	for bin, pkg := range map[string]string{portal: ".", baseline: "./testdata/baseline"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
		asDeployed(b, bin)
	}
	idle := time.Duration(envInt("IDLE_SECONDS", 5)) * time.Second
	var start, baseStart time.Duration
	var rssKB, baseKB int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, kb := startAndMeasure(b, func(addr string) *exec.Cmd {
			sb := freeAddr(b)
			return exec.Command(portal, "-addr", addr, "-sandbox-addr", sb, "-data", filepath.Join(dir, fmt.Sprint("data", i)))
		}, idle)
		start += d
		rssKB += kb
		d, kb = startAndMeasure(b, func(addr string) *exec.Cmd { return exec.Command(baseline, addr) }, idle)
		baseStart += d
		baseKB += kb
	}
	n := float64(b.N)
	b.ReportMetric(float64(start.Milliseconds())/n, "start-ms")
	b.ReportMetric(float64(rssKB)/n/1024, "idle-rss-MiB")
	b.ReportMetric(float64(baseStart.Milliseconds())/n, "baseline-start-ms")
	b.ReportMetric(float64(baseKB)/n/1024, "baseline-rss-MiB")
	b.ReportMetric(float64(start)/float64(baseStart), "start-x")
	b.ReportMetric(float64(rssKB)/float64(baseKB), "rss-x")
}

// asDeployed makes a freshly built binary start as an installed one does: read from disk. The
// linker's output sits in the page cache as it was written, in large folios that the kernel
// maps whole (2 MB at a time) when the program runs, so every page of code would count in its
// resident set whether it runs or not (48.6 MiB for the portal, against 37.4 MiB from disk).
// The file is written out and dropped from the page cache.
func asDeployed(b *testing.B, path string) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		b.Fatal(err)
	}
}

// startAndMeasure starts a server, times it to its first healthy answer, lets it idle and
// returns that time and its resident set in KiB, then stops it.
func startAndMeasure(b *testing.B, cmd func(addr string) *exec.Cmd, idle time.Duration) (time.Duration, int) {
	b.Helper()
	addr := freeAddr(b)
	c := cmd(addr)
	t0 := time.Now()
	if err := c.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { c.Process.Signal(os.Interrupt); c.Wait() }()
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(t0) > 30*time.Second {
			b.Fatalf("%s not healthy after 30s", c.Path)
		}
		time.Sleep(2 * time.Millisecond)
	}
	d := time.Since(t0)
	time.Sleep(idle)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return d, kb
		}
	}
	b.Fatal("no VmRSS")
	return 0, 0
}

func freeAddr(b testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
