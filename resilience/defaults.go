package resilience

// AnyOrphans is the [Options.OrphanThreshold] that reports every orphaned
// file (a zero threshold takes the default of 100).
const AnyOrphans = -1

// WithDefaults returns o with every zero field set to the default written
// on it, the Depth thresholds included, and Workers set to GOMAXPROCS: the
// values the probes use. Command lines show them as their flags'
// defaults.
func (o Options) WithDefaults() Options { return o.withDefaults() }
