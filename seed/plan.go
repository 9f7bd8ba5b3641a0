package seed

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Resources one fault of every kind takes from the clean data.
const (
	membersPerFault  = 13 // #5 #7 #8 #12 #19, #17 (two), #2 #10 #11 #13 #14
	orgsPerFault     = 4  // #6 #9 #15 #16
	studentsPerFault = 2  // #18 (two)
)

// orphanGap separates planted orphan references from real ids.
const orphanGap = 1_000_000

// Random streams: every table and phase draws from its own PCG source
// seeded with (seed, stream), so tables can be generated concurrently and
// reproducibly.
const (
	streamCounts uint64 = iota + 1
	streamFaults
	streamLocations
	streamInstructors
	streamOrganizations
	streamContacts
	streamMembers
	streamEmployments
	streamStudents
	streamGrievances
	streamAttachments
	streamFiles
)

// fault codes for planned targets.
type fault uint8

const (
	fNone fault = iota
	fMemberMissing
	fMemberStatus
	fMemberClass
	fMemberHireFuture
	fMemberDupA // the member whose number is shared
	fMemberDupB // the member that copies it
	fMemberNoEmployment
	fEmpOrphanOrg
	fEmpEndBeforeStart
	fEmpCurrentWithEnd
	fEmpMultipleCurrent
	fEmpRate
	fOrgMissing
	fOrgType
	fOrgMultiplePrimary
	fOrgNoContacts
	fStudentDupA
	fStudentDupB
)

// offsets are the largest existing id per table (0 after truncation).
type offsets struct {
	locations, instructors, organizations, contacts, members, employments, students, grievances, attachments int64
}

// plan is everything decided before rows are generated: volumes, id ranges,
// per-record child counts (so totals are exact) and fault targets.
type plan struct {
	opt       Options
	vol       Volumes
	now       time.Time // Options.Now in UTC, whole seconds
	today     int       // days since 1970-01-01 of now
	off       offsets
	employers int // organizations [0, employers) are employers
	grievs    int

	contactCount []uint8 // per organization
	empCount     []uint8 // per member
	attMember    []uint8
	attStudent   []uint8
	attOrg       []uint8
	attGrievance []uint8

	memberFault  []fault
	orgFault     []fault
	studentFault []fault
	memberDupOf  map[int]int // B → A (local indexes)
	studentDupOf map[int]int
	// emailDupOf maps member B to member A (local indexes) when a duplicate
	// student email is planted as the students' members sharing an email.
	emailDupOf map[int]int
	emailDupA  map[int]bool

	totals map[string]int64

	// live is the schema of the database being filled; caps what it lets
	// the seed plant; adapters turn generated rows into its rows (nil for
	// a table that takes them as they are).
	live     *liveSchema
	caps     caps
	adapters map[string]*adapter
	// binary, set before the load starts, encodes the rows of a table in
	// binary COPY format instead of text (tables it lacks: text).
	binary map[string]*binaryEncoder
	// buffers holds the encoded chunks' buffers once written, for reuse.
	buffers sync.Pool

	// checksums is the name of ip2adb's checksum table ("" leaves the
	// checksums of written files out); sums collects them.
	checksums string
	sums      checksumSet
}

// loadColumns returns the columns of the live table that the seed writes.
func (p *plan) loadColumns(table string) []string {
	if a := p.adapters[table]; a != nil {
		return a.cols
	}
	return columns(table)
}

func rng(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// newPlan decides everything for opt on the live schema live (nil: the
// seed's own schema, where every fault can be planted).
func newPlan(opt Options, off offsets, live *liveSchema, c caps) (*plan, error) {
	if c.notPlantable == nil {
		c = caps{notPlantable: map[string]string{}, memberMissing: memberMissingVariants, orgMissing: orgMissingVariants}
	}
	p := &plan{opt: opt, vol: opt.Volumes(), off: off, live: live, caps: c}
	p.now = opt.Now().UTC().Truncate(time.Second)
	p.today = int(p.now.Unix() / 86400)
	v := p.vol
	p.employers = int(math.Round(float64(v.Organizations) * 700 / 750))
	if p.employers == 0 && v.Organizations > 0 {
		p.employers = 1
	}
	r := rng(opt.Seed, streamCounts)
	if v.Members > 0 && p.employers > 0 {
		p.grievs = v.GrievancesMin + r.IntN(v.GrievancesMax-v.GrievancesMin+1)
	}
	p.contactCount = make([]uint8, v.Organizations)
	for i := range p.contactCount {
		p.contactCount[i] = uint8(2 + r.IntN(3))
	}
	p.empCount = make([]uint8, v.Members)
	for i := range p.empCount {
		p.empCount[i] = uint8(triangular(r, 1, 100, 30.7))
	}
	p.attMember = make([]uint8, v.Members)
	for i := range p.attMember {
		p.attMember[i] = uint8(1 + r.IntN(20))
	}
	p.attStudent = make([]uint8, v.Students)
	for i := range p.attStudent {
		p.attStudent[i] = uint8(5 + r.IntN(11))
	}
	p.attOrg = make([]uint8, v.Organizations)
	for i := range p.attOrg {
		p.attOrg[i] = uint8(2 + r.IntN(9))
	}
	p.attGrievance = make([]uint8, p.grievs)
	for i := range p.attGrievance {
		if r.IntN(10) == 0 {
			p.attGrievance[i] = uint8(20 + r.IntN(31))
		} else {
			p.attGrievance[i] = uint8(1 + r.IntN(20))
		}
	}
	p.planFaults()
	p.countTotals()
	if err := p.checkLive(); err != nil {
		return nil, err
	}
	p.adapters = map[string]*adapter{}
	for _, t := range loadOrder {
		a, err := p.newAdapter(t)
		if err != nil {
			return nil, &OptionsError{err}
		}
		p.adapters[t] = a
	}
	return p, nil
}

// loadOrder lists the tables the seed fills, parents first.
var loadOrder = []string{"locations", "instructors", "organizations", "organization_contacts", "members",
	"member_employments", "students", "grievances", "file_attachments"}

// checkLive reports what keeps the live schema from taking the plan: a
// missing table, or fewer members than students when every student must be
// a distinct member.
func (p *plan) checkLive() error {
	if p.live == nil {
		return nil
	}
	var missing []string
	for _, t := range loadOrder {
		if p.live.table(t) == nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return &OptionsError{fmt.Errorf("the database lacks the IP2A tables %s", strings.Join(missing, ", "))}
	}
	if c := p.live.col("students", "member_id"); c != nil && c.notNull && c.unique && p.vol.Students > p.vol.Members {
		return &OptionsError{fmt.Errorf("every student is a distinct member here (students.member_id is NOT NULL and unique): %d students need at least as many members, have %d",
			p.vol.Students, p.vol.Members)}
	}
	return nil
}

// triangular draws from the triangular distribution on [a, b] with the
// given mode, rounded to an integer.
func triangular(r *rand.Rand, a, b, mode float64) int {
	u := r.Float64()
	c := (mode - a) / (b - a)
	var x float64
	if u < c {
		x = a + math.Sqrt(u*(b-a)*(mode-a))
	} else {
		x = b - math.Sqrt((1-u)*(b-a)*(b-mode))
	}
	return int(math.Round(x))
}

func (p *plan) planFaults() {
	v := p.vol
	p.memberFault = make([]fault, v.Members)
	p.orgFault = make([]fault, v.Organizations)
	p.studentFault = make([]fault, v.Students)
	p.memberDupOf = map[int]int{}
	p.studentDupOf = map[int]int{}
	p.emailDupOf = map[int]int{}
	p.emailDupA = map[int]bool{}
	n := p.opt.Faults
	if n == 0 {
		return
	}
	r := rng(p.opt.Seed, streamFaults)
	perm := r.Perm(v.Members)
	next := 0
	take := func() int { i := perm[next]; next++; return i }
	// A kind the live schema forbids still takes its targets, which stay
	// clean, so that the other kinds land where they land on any schema.
	kindOf := map[fault]string{fMemberMissing: MemberMissingRequired, fMemberStatus: MemberInvalidStatus,
		fMemberClass: MemberInvalidClassification, fMemberHireFuture: MemberHireDateFuture,
		fMemberNoEmployment: MemberActiveWithoutEmployment, fEmpOrphanOrg: EmploymentOrphanOrganization,
		fEmpEndBeforeStart: EmploymentEndBeforeStart, fEmpCurrentWithEnd: EmploymentCurrentWithEndDate,
		fEmpMultipleCurrent: MemberMultipleCurrentEmployments, fEmpRate: EmploymentHourlyRateRange,
		fOrgMissing: OrganizationMissingRequired, fOrgType: OrganizationInvalidType,
		fOrgMultiplePrimary: OrganizationMultiplePrimary, fOrgNoContacts: OrganizationNoContacts}
	ok := func(f fault) bool { return p.caps.plantable(kindOf[f]) }
	for _, f := range []fault{fMemberMissing, fMemberStatus, fMemberClass, fMemberHireFuture, fMemberNoEmployment,
		fEmpOrphanOrg, fEmpEndBeforeStart, fEmpCurrentWithEnd, fEmpMultipleCurrent, fEmpRate} {
		for range n {
			if i := take(); ok(f) {
				p.memberFault[i] = f
			}
		}
	}
	for range n {
		a, b := take(), take()
		if a > b {
			a, b = b, a
		}
		if p.caps.plantable(MemberDuplicateNumber) {
			p.memberFault[a], p.memberFault[b] = fMemberDupA, fMemberDupB
			p.memberDupOf[b] = a
		}
	}
	operm := r.Perm(v.Organizations)
	next = 0
	for _, f := range []fault{fOrgMissing, fOrgType, fOrgMultiplePrimary, fOrgNoContacts} {
		for range n {
			if ok(f) {
				p.orgFault[operm[next]] = f
			}
			next++
		}
	}
	sperm := r.Perm(v.Students)
	for k := range n {
		a, b := sperm[2*k], sperm[2*k+1]
		if a > b {
			a, b = b, a
		}
		switch {
		case !p.caps.plantable(StudentDuplicateEmail):
		case p.caps.emailViaMember:
			// Student i is member i (see the students adapter).
			p.emailDupA[a] = true
			p.emailDupOf[b] = a
		default:
			p.studentFault[a], p.studentFault[b] = fStudentDupA, fStudentDupB
			p.studentDupOf[b] = a
		}
	}
}

func (p *plan) countTotals() {
	v := p.vol
	n := int64(p.opt.Faults)
	var contacts, emps, atts int64
	for i, c := range p.contactCount {
		if p.orgFault[i] != fOrgNoContacts {
			contacts += int64(c)
		}
	}
	if p.caps.plantable(ContactOrphanOrganization) {
		contacts += n // orphans
	}
	for i, c := range p.empCount {
		switch p.memberFault[i] {
		case fMemberNoEmployment:
		case fEmpOrphanOrg, fEmpEndBeforeStart, fEmpCurrentWithEnd, fEmpMultipleCurrent, fEmpRate:
			emps += int64(c) + 1
		default:
			emps += int64(c)
		}
	}
	if p.caps.plantable(EmploymentOrphanMember) {
		emps += n // orphan members
	}
	for _, s := range [][]uint8{p.attMember, p.attStudent, p.attOrg, p.attGrievance} {
		for _, c := range s {
			atts += int64(c)
		}
	}
	for _, kind := range []string{AttachmentOrphanRecord, AttachmentEmptyPath, AttachmentFileMissing, AttachmentSizeUnusual} {
		if p.caps.plantable(kind) {
			atts += n
		}
	}
	p.totals = map[string]int64{
		"locations":             int64(v.Locations),
		"instructors":           int64(v.Instructors),
		"organizations":         int64(v.Organizations),
		"organization_contacts": contacts,
		"members":               int64(v.Members),
		"member_employments":    emps,
		"students":              int64(v.Students),
		"grievances":            int64(p.grievs),
		"file_attachments":      atts,
	}
}

// ids of the first and the next-after-last row of each table.
func (p *plan) memberID(i int) int64  { return p.off.members + int64(i) + 1 }
func (p *plan) orgID(i int) int64     { return p.off.organizations + int64(i) + 1 }
func (p *plan) studentID(i int) int64 { return p.off.students + int64(i) + 1 }
func (p *plan) grievID(i int) int64   { return p.off.grievances + int64(i) + 1 }

// date renders a day number (days since 1970-01-01) as YYYY-MM-DD.
func date(days int) string {
	var buf [10]byte
	return string(appendDate(buf[:0], days))
}

// appendDate appends date(days).
func appendDate(b []byte, days int) []byte {
	y, m, d := civil(days)
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func civil(days int) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}
