// Package postgres registers the PostgreSQL driver (github.com/lib/pq, as
// "postgres") for dburl.Open and for ip2adb's packages. Import it for its
// side effect, in a command or a service's main package:
//
//	import _ "github.com/ip2adb/ip2adb/dburl/postgres"
package postgres

import _ "github.com/lib/pq" // registers "postgres"
