//go:build !unix

package heal

import (
	"errors"
	"fmt"
	"os"
)

// fileLock on systems without flock(2): an exclusively created lock file,
// removed on release. A crashed process leaves it behind; delete it by hand.
func fileLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path+".held", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("run lock %s: %w", path, err)
	}
	f.Close()
	return &Lock{release: func() error { return os.Remove(path + ".held") }}, nil
}
