package heal

// LogDirError is a log dir under which [CheckLogDir] finds that a run's
// history cannot be written (no existing directory above it, a file in
// the way, no write permission), or whose last run [CheckDue] cannot read.
type LogDirError struct {
	// Dir is the log dir checked.
	Dir string
	// Err says what is wrong; its message names Dir.
	Err error
}

// Error returns Err's message.
func (e *LogDirError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *LogDirError) Unwrap() error { return e.Err }
