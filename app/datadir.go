package app

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockDataDir takes the data directory for this process: a portal holds it while it runs, and
// a restore refuses to replace a database a portal is using. The lock is the kernel's (flock),
// so a killed portal leaves nothing stale behind.
func LockDataDir(dir string) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "portal.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("a portal is already using %s (stop it first)", dir)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
