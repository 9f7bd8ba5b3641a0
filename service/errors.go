package service

// ConfigError is a [Config] that [New] refuses, or a listen address and
// token that [CheckListen] refuses: a missing function, an unparsable
// schedule, a listener that needs a token. Nothing was started.
type ConfigError struct {
	// Err says what is wrong.
	Err error
}

// Error returns Err's message.
func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }
