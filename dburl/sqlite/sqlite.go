// Package sqlite registers the pure-Go SQLite driver (modernc.org/sqlite, as
// "sqlite") for dburl.Open and for ip2adb's packages. Import it for its side
// effect, in a command or a service's main package:
//
//	import _ "github.com/ip2adb/ip2adb/dburl/sqlite"
package sqlite

import _ "modernc.org/sqlite" // registers "sqlite"
