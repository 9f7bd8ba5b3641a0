package dbx

// Validate checks rawURL the way Open does before connecting — scheme,
// syntax and, for SQLite, that the file exists — without connecting. Its
// errors are ConfigErrors. A long-running service uses it to tell a
// configuration error (exit 2) from a database that is only unreachable
// for now (keep retrying).
func Validate(rawURL string) error {
	if _, _, err := parse(rawURL, false); err != nil {
		return &ConfigError{err}
	}
	return nil
}
