//go:build linux || darwin || freebsd

package resilience

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// StatFS reports the file system holding path the way df computes its Use%:
// total is the space open to unprivileged users (used plus available;
// blocks reserved for root are left out) and free is what they can still
// write, so (total-free)/total is df's percentage.
func StatFS(path string) (total, free uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("disk usage of %s: %w", path, err)
	}
	bs := uint64(st.Bsize)
	used := (uint64(st.Blocks) - uint64(st.Bfree)) * bs
	free = uint64(st.Bavail) * bs
	return used + free, free, nil
}
