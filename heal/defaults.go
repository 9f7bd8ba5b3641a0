package heal

// DefaultSummaryDays is the period of the health summary that ip2adb shows
// when none is asked for (`ip2adb history`, `auto-heal --summary`, the
// status page): the last seven days.
const DefaultSummaryDays = 7
