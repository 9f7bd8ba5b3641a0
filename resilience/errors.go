package resilience

// OptionsError is an [Options] value that [Options.Validate] (and so
// [Probes]) refuses: a negative value, a ratio outside 0..1, a warning
// level above its critical level.
type OptionsError struct {
	// Err says what is wrong.
	Err error
}

// Error returns Err's message.
func (e *OptionsError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *OptionsError) Unwrap() error { return e.Err }
