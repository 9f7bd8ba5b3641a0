//go:build linux || darwin || freebsd

package resilience

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// StatFS reports the size of the file system holding path and the bytes
// available to unprivileged users (blocks reserved for root count as used,
// so the use it implies is the conservative one).
func StatFS(path string) (total, free uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("disk usage of %s: %w", path, err)
	}
	bs := uint64(st.Bsize)
	return uint64(st.Blocks) * bs, uint64(st.Bavail) * bs, nil
}
