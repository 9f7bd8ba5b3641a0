package notify

// ConfigError is a channel configuration that [ParseChannels] refuses: a
// malformed channel URL, a missing log dir or an invalid [Wording]. Its
// message never holds a secret.
type ConfigError struct {
	// Err says what is wrong.
	Err error
}

// Error returns Err's message.
func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }
