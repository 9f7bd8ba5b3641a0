//go:build !(linux || darwin || freebsd)

package resilience

import (
	"fmt"
	"runtime"
)

// StatFS reports the size and free bytes of the file system holding path.
// On this platform it is unavailable; set Env.DiskUsage instead.
func StatFS(path string) (total, free uint64, err error) {
	return 0, 0, fmt.Errorf("disk usage of %s: not supported on %s (set Env.DiskUsage)", path, runtime.GOOS)
}
