package testcluster

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStart(t *testing.T) {
	c := Start(t, Options{Settings: map[string]string{"max_connections": "30"}})
	db := c.Open(t, "postgres")
	var got struct {
		MaxConn string `db:"max_conn"`
		Port    int    `db:"port"`
	}
	if err := db.Get(&got, "SELECT current_setting('max_connections') AS max_conn, current_setting('port')::int AS port"); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(struct {
		MaxConn string `db:"max_conn"`
		Port    int    `db:"port"`
	}{"30", c.Port}, got); d != "" {
		t.Errorf("settings (-want +got):\n%s", d)
	}
	db.Close()
	c.Stop("immediate")
	c.Start()
	db = c.Open(t, "postgres")
	if err := db.Ping(); err != nil {
		t.Fatalf("after crash and restart: %v", err)
	}
}
