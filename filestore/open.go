package filestore

import (
	"context"
	"os"
)

// Open opens the store at root: an s3:// URL configured from the
// environment read by getenv (see [S3ConfigFromEnv]; os.Getenv when nil),
// or else a local directory ("." when empty). The error, if any, is one
// line that names the root and never a secret.
func Open(ctx context.Context, root string, getenv func(string) string) (Handle, error) {
	if !IsS3(root) {
		l, err := OpenLocal(root)
		if err != nil {
			return nil, err
		}
		return l, nil
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := S3ConfigFromEnv(root, getenv)
	if err != nil {
		return nil, err
	}
	s, err := OpenS3(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return s, nil
}
