package heal

import "github.com/ip2adb/ip2adb"

// Plan attributes fixes to the check they repair, in order: the repairs a
// [Cycle.Choose] function returns, such as the fixes of
// integrity.RecordFixes for the records a person chose.
func Plan(check string, fixes ...ip2adb.Fix) []Planned {
	var out []Planned
	for _, f := range fixes {
		out = append(out, Planned{Check: check, Fix: f})
	}
	return out
}
