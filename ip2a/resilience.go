package ip2a

import "github.com/ip2adb/ip2adb/resilience"

// Attachments is the IP2A table of file records: file_attachments, whose
// file_path is relative to the files root, with file_size and the
// is_deleted soft delete.
func Attachments() resilience.Attachments {
	return resilience.Attachments{Table: "file_attachments", ID: "id", Path: "file_path", Size: "file_size", Deleted: "is_deleted"}
}

// ResilienceOptions returns opt with the IP2A tables the resilience probes
// read, where opt names none: growth over [Tables]; the attachments of
// [Attachments]; stale members (updated_at, not deleted) and employments
// that ended long ago as archive candidates; employments per member; and
// the original system's three timed queries (count members, count
// employments, members joined with their employments).
func ResilienceOptions(opt resilience.Options) resilience.Options {
	if len(opt.GrowthTables) == 0 {
		opt.GrowthTables = Tables()
	}
	if opt.Attachments.Table == "" {
		opt.Attachments = Attachments()
	}
	if opt.Staleness.Table == "" {
		opt.Staleness = resilience.Staleness{
			Table: "members", Updated: "updated_at", Deleted: "is_deleted", Noun: "members",
			Advice: "Review whether these members' status and contact data are still true (a yearly roll call)",
			Ended:  resilience.Ended{Table: "member_employments", Column: "end_date", Noun: "employments"},
		}
	}
	if opt.Distribution.Table == "" {
		opt.Distribution = resilience.Distribution{
			Table: "member_employments", Column: "member_id", Parent: "member", Parents: "members", Children: "employments",
			Advice: "Check these members for duplicated employment imports; legitimate long careers are fine.",
		}
	}
	if len(opt.TimedQueries) == 0 {
		const advice = "Run ANALYZE, check that member_employments.member_id is indexed and that the server has enough memory; see index_health for missing or invalid indexes."
		opt.TimedQueries = []resilience.TimedQuery{
			{Name: "count_members", SQL: "SELECT count(*) FROM members", Advice: advice},
			{Name: "count_employments", SQL: "SELECT count(*) FROM member_employments", Advice: advice},
			{Name: "members_employments_join", SQL: "SELECT count(*) FROM members m JOIN member_employments e ON e.member_id = m.id WHERE NOT m.is_deleted", Advice: advice},
		}
	}
	return opt
}
