package seed

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/ip2adb/ip2adb/ip2a"
)

// The 22 integrity check names, aliases of package ip2a's (which defines
// them) for the manifest's keys.
const (
	EmploymentOrphanMember           = ip2a.EmploymentOrphanMember
	EmploymentOrphanOrganization     = ip2a.EmploymentOrphanOrganization
	ContactOrphanOrganization        = ip2a.ContactOrphanOrganization
	AttachmentOrphanRecord           = ip2a.AttachmentOrphanRecord
	MemberMissingRequired            = ip2a.MemberMissingRequired
	OrganizationMissingRequired      = ip2a.OrganizationMissingRequired
	MemberInvalidStatus              = ip2a.MemberInvalidStatus
	MemberInvalidClassification      = ip2a.MemberInvalidClassification
	OrganizationInvalidType          = ip2a.OrganizationInvalidType
	EmploymentEndBeforeStart         = ip2a.EmploymentEndBeforeStart
	EmploymentCurrentWithEndDate     = ip2a.EmploymentCurrentWithEndDate
	MemberHireDateFuture             = ip2a.MemberHireDateFuture
	MemberMultipleCurrentEmployments = ip2a.MemberMultipleCurrentEmployments
	EmploymentHourlyRateRange        = ip2a.EmploymentHourlyRateRange
	OrganizationMultiplePrimary      = ip2a.OrganizationMultiplePrimary
	OrganizationNoContacts           = ip2a.OrganizationNoContacts
	MemberDuplicateNumber            = ip2a.MemberDuplicateNumber
	StudentDuplicateEmail            = ip2a.StudentDuplicateEmail
	MemberActiveWithoutEmployment    = ip2a.MemberActiveWithoutEmployment
	AttachmentEmptyPath              = ip2a.AttachmentEmptyPath
	AttachmentFileMissing            = ip2a.AttachmentFileMissing
	AttachmentSizeUnusual            = ip2a.AttachmentSizeUnusual
)

// FaultKinds lists the 22 check names in the order of the integrity table
// ([ip2a.Names]).
func FaultKinds() []string { return ip2a.Names() }

// Manifest maps a check name to what was planted for it, sorted ascending.
// Row checks list row ids (int64) of the check's table; group checks list
// group keys (map[string]any):
//
//   - member.multiple_current_employments: {"member_id": int64}
//   - organization.multiple_primary_contacts: {"organization_id": int64}
//   - member.duplicate_number: {"member_number": string}
//   - student.duplicate_email: {"email": string} (lower-cased, trimmed)
//
// member.active_without_employment is one aggregate issue; its entry lists
// the ids of the members planted without employment (its count).
// attachment.file_missing rows are only missing when FilesDir was set.
type Manifest map[string][]any

// WriteFile writes m as indented JSON to path.
func (m Manifest) WriteFile(path string) error { return writeJSONFile(path, m) }

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode faults manifest: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write faults manifest: %w", err)
	}
	return nil
}

// IDs returns the row ids planted for kind (nil for group checks).
func (m Manifest) IDs(kind string) []int64 {
	var out []int64
	for _, v := range m[kind] {
		if id, ok := v.(int64); ok {
			out = append(out, id)
		}
	}
	return out
}

// manifestBuilder collects planted faults; it sorts on build.
type manifestBuilder struct {
	mu   sync.Mutex
	ids  map[string][]int64
	keys map[string][]map[string]any
}

func newManifestBuilder() *manifestBuilder {
	return &manifestBuilder{ids: map[string][]int64{}, keys: map[string][]map[string]any{}}
}

func (b *manifestBuilder) id(kind string, id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ids[kind] = append(b.ids[kind], id)
}

func (b *manifestBuilder) key(kind, name string, v any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys[kind] = append(b.keys[kind], map[string]any{name: v})
}

func (b *manifestBuilder) build(n int) Manifest {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n == 0 {
		return nil
	}
	m := Manifest{}
	for _, kind := range FaultKinds() {
		list := []any{}
		if ids, ok := b.ids[kind]; ok {
			slices.Sort(ids)
			for _, id := range ids {
				list = append(list, id)
			}
		} else {
			keys := b.keys[kind]
			slices.SortFunc(keys, func(a, b map[string]any) int {
				return cmp.Compare(fmt.Sprint(onlyValue(a)), fmt.Sprint(onlyValue(b)))
			})
			for _, k := range keys {
				list = append(list, k)
			}
		}
		m[kind] = list
	}
	return m
}

func onlyValue(m map[string]any) any {
	for _, v := range m {
		if i, ok := v.(int64); ok {
			return fmt.Sprintf("%020d", i)
		}
		return v
	}
	return nil
}
