package web_test

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"gorm.io/gorm"
)

// pgCPU is the CPU time the PostgreSQL server's processes on this machine have used, by
// process (Linux's /proc/<pid>/schedstat); nil where that cannot be read (another system, or
// a server on another machine). The benchmarks on PostgreSQL report the server's CPU per
// request next to their own: where the server shares the cores with the portal and its
// clients, the two together bound the rate.
type pgCPU map[int]time.Duration

func readPgCPU() pgCPU {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil || len(dirs) == 0 {
		return nil
	}
	m := pgCPU{}
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || !bytes.Equal(bytes.TrimSpace(comm), []byte("postgres")) {
			continue
		}
		st, err := os.ReadFile(d + "/schedstat")
		if err != nil {
			continue
		}
		f := bytes.Fields(st)
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(string(f[0]), 10, 64)
		pid, err2 := strconv.Atoi(filepath.Base(d))
		if err == nil && err2 == nil {
			m[pid] = time.Duration(ns)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// pgAppName names this process's connections to the server (application_name), so that
// pgCPU counts their backends alone: other clients may use the same server meanwhile.
func pgAppName() string { return "mposportal-bench-" + strconv.Itoa(os.Getpid()) }

// nameConnections makes the databases the benchmark opens from now on name their connections
// with pgAppName.
func nameConnections(b *testing.B) {
	base := os.Getenv("TEST_DATABASE_URL")
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", pgAppName())
	u.RawQuery = q.Encode()
	b.Setenv("TEST_DATABASE_URL", u.String())
}

// since is the CPU the backends of this process's connections (nameConnections) used from
// before to now, whole for a backend started meanwhile; db asks the server which they are.
func (before pgCPU) since(db *gorm.DB) (time.Duration, bool) {
	now := readPgCPU()
	if before == nil || now == nil {
		return 0, false
	}
	var pids []int
	if err := db.Raw("SELECT pid FROM pg_stat_activity WHERE application_name = ?", pgAppName()).Scan(&pids).Error; err != nil || len(pids) == 0 {
		return 0, false
	}
	var d time.Duration
	for _, pid := range pids {
		d += now[pid] - before[pid]
	}
	return d, true
}
