package cli

// The command registers the SQL drivers; ip2adb's library packages do not.
import (
	_ "github.com/ip2adb/ip2adb/dburl/postgres" // registers "postgres"
	_ "github.com/ip2adb/ip2adb/dburl/sqlite"   // registers "sqlite"
)
