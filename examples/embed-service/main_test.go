package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ip2adb/ip2adb/dbtest"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/ip2a"
	"github.com/ip2adb/ip2adb/seed"
)

func TestServiceServesTheLastRun(t *testing.T) {
	db := dbtest.SQLite(t)
	if err := seed.Schema(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, db, `INSERT INTO member_employments (id, member_id, organization_id, start_date, is_current) VALUES (1, 42, NULL, '2020-01-01', FALSE)`)
	svc := &service{cycle: &heal.Cycle{DB: db, Checks: ip2a.Rules(ip2a.RuleOptions{NoFiles: true}), LogDir: t.TempDir()}}

	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		svc.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	if rec := get("/"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("before the first run: %d", rec.Code)
	}
	svc.runOnce(context.Background())
	rec := get("/")
	var got struct {
		Result struct {
			RunID   string `json:"run_id"`
			Repairs []struct {
				Check string `json:"check"`
				Rows  int    `json:"rows"`
			} `json:"repairs"`
		} `json:"result"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(got.Result.Repairs) != 1 || got.Result.Repairs[0].Check != "employment.orphan_member" || got.Result.Repairs[0].Rows != 1 {
		t.Errorf("result %+v", got.Result)
	}
	if n := dbtest.Count(t, db, "member_employments", ""); n != 0 {
		t.Errorf("orphan not repaired: %d rows", n)
	}
	if rec := get("/healthz"); rec.Code != 200 {
		t.Errorf("healthz %d", rec.Code)
	}
}
