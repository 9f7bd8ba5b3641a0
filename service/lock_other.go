//go:build !unix

package service

// lockFile is a no-op where flock(2) does not exist: updates of the state
// are still atomic (temporary file and rename), but two processes updating
// it at the same instant may lose one update.
func lockFile(string) (func(), error) { return func() {}, nil }
