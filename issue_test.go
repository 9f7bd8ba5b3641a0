package ip2adb_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ip2adb/ip2adb"
)

// TestIssueKeys: a row's key, whatever its columns, reaches the JSON, the
// fingerprint and RecordKey; an id-keyed row's issue is what it always was.
func TestIssueKeys(t *testing.T) {
	type out struct {
		JSON        string
		Fingerprint string
		RecordKey   map[string]any
		Issue       ip2adb.Issue
	}
	base := ip2adb.Issue{Check: "c", Table: "t"}
	for _, tc := range []struct {
		name string
		cols []string
		vals []any
		want out
	}{
		{"integer id", []string{"id"}, []any{int64(812)}, out{
			JSON: `{"record_id":812,"key":{}}`, Fingerprint: "c|t|812|null",
			RecordKey: map[string]any{"id": int64(812)},
			Issue:     ip2adb.Issue{Check: "c", Table: "t", RecordID: ip2adb.Ptr[int64](812)}}},
		{"integer column not named id", []string{"crew_no"}, []any{30}, out{
			JSON: `{"record_id":30,"key":{}}`, Fingerprint: "c|t|30|null",
			RecordKey: map[string]any{"crew_no": int64(30)},
			Issue:     ip2adb.Issue{Check: "c", Table: "t", RecordID: ip2adb.Ptr[int64](30), PrimaryKey: []string{"crew_no"}}}},
		{"text", []string{"code"}, []any{"C-17"}, out{
			JSON: `{"record_id":null,"key":{"code":"C-17"}}`, Fingerprint: `c|t|-|{"code":"C-17"}`,
			RecordKey: map[string]any{"code": "C-17"},
			Issue:     ip2adb.Issue{Check: "c", Table: "t", Key: map[string]any{"code": "C-17"}, PrimaryKey: []string{"code"}}}},
		{"text id", []string{"id"}, []any{"0f8fad5b"}, out{
			JSON: `{"record_id":null,"key":{"id":"0f8fad5b"}}`, Fingerprint: `c|t|-|{"id":"0f8fad5b"}`,
			RecordKey: map[string]any{"id": "0f8fad5b"},
			Issue:     ip2adb.Issue{Check: "c", Table: "t", Key: map[string]any{"id": "0f8fad5b"}, PrimaryKey: []string{"id"}}}},
		{"composite", []string{"local", "seq"}, []any{int64(46), int64(3)}, out{
			JSON: `{"record_id":null,"key":{"local":46,"seq":3}}`, Fingerprint: `c|t|-|{"local":46,"seq":3}`,
			RecordKey: map[string]any{"local": int64(46), "seq": int64(3)},
			Issue: ip2adb.Issue{Check: "c", Table: "t", Key: map[string]any{"local": int64(46), "seq": int64(3)},
				PrimaryKey: []string{"local", "seq"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := base
			is.SetRecordKey(tc.cols, tc.vals)
			b, err := json.Marshal(is)
			if err != nil {
				t.Fatal(err)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(b, &fields); err != nil {
				t.Fatal(err)
			}
			var got out
			got.JSON = `{"record_id":` + string(fields["record_id"]) + `,"key":` + string(fields["key"]) + `}`
			got.Fingerprint, got.RecordKey, got.Issue = is.Fingerprint(), is.RecordKey(), is
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	group := ip2adb.Issue{Check: "c", Table: "t", Key: map[string]any{"member_id": int64(12)}}
	if k := group.RecordKey(); k != nil {
		t.Errorf("a group issue's RecordKey is %v, want nil", k)
	}
}
