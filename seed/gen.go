package seed

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/brianvoe/gofakeit/v7"
	"github.com/ip2adb/ip2adb/ip2a"
)

// emitFunc receives one generated row; the slice is owned by the receiver.
type emitFunc func(row []any) error

// faker pairs a rand.Rand and a gofakeit.Faker drawing from one PCG source,
// so everything a generator draws is one reproducible sequence.
type faker struct {
	*rand.Rand
	f *gofakeit.Faker
}

func newFaker(seed int64, stream uint64) faker {
	src := rand.NewPCG(uint64(seed), stream)
	return faker{rand.New(src), gofakeit.NewFaker(src, false)}
}

func (f faker) chance(p float64) bool { return f.Float64() < p }

func pick[T any](f faker, list []T) T { return list[f.IntN(len(list))] }

// slug keeps the lower-case letters and digits of s (for e-mail addresses).
func slug(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// slab hands out a generator's rows from shared backing arrays: one
// allocation per slabValues values instead of one per row. A row is never
// appended to in place (its capacity is its length).
type slab struct{ free []any }

const slabValues = 4096

func (s *slab) row(vals ...any) []any {
	if len(s.free) < len(vals) {
		s.free = make([]any, max(slabValues, len(vals)))
	}
	r := s.free[:len(vals):len(vals)]
	copy(r, vals)
	s.free = s.free[len(vals):]
	return r
}

// dates boxes the days from lo on, each boxed once.
type dates struct {
	lo  int
	box []any
}

func newDates(lo, hi int) *dates { return &dates{lo: lo, box: make([]any, hi-lo+1)} }

// of returns the date dd days after 1970-01-01 as an any.
func (d *dates) of(dd int) any {
	i := dd - d.lo
	if i < 0 || i >= len(d.box) {
		return day(dd)
	}
	if d.box[i] == nil {
		d.box[i] = day(dd)
	}
	return d.box[i]
}

// boxAll returns list's values as anys (picked without boxing each time).
func boxAll[T any](list []T) []any {
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = v
	}
	return out
}

// without returns list less the value v, in order.
func without(list []string, v string) []string {
	return slices.DeleteFunc(list, func(s string) bool { return s == v })
}

// appendMoney appends c hundredths as a decimal with two places ("75.60").
func appendMoney(b []byte, c int64) []byte {
	u := uint64(c)
	if c < 0 {
		b, u = append(b, '-'), uint64(-c)
	}
	b = strconv.AppendUint(b, u/100, 10)
	r := u % 100
	return append(b, '.', byte('0'+r/10), byte('0'+r%10))
}

// day and cents are values of generated rows that the encoders write
// without going through text: a date (days since 1970-01-01, written as
// date would) and an amount in hundredths (written as appendMoney does).
// Sinks that take rows as they are get the text (sqlValue).
type (
	day   int32
	cents int64
)

// sqlValue is v as the database/sql driver is given it.
func sqlValue(v any) any {
	switch x := v.(type) {
	case day:
		return date(int(x))
	case cents:
		var buf [24]byte
		return string(appendMoney(buf[:0], int64(x)))
	}
	return v
}

var (
	memberStatuses      = without(ip2a.MemberStatuses(), "active") // the 12 % not active
	classifications     = ip2a.MemberClassifications()
	classificationPct   = []int{10, 10, 8, 7, 5, 40, 12, 5, 3} // parallel to classifications
	otherOrgTypes       = without(ip2a.OrgTypes(), "employer")
	employerSuffixes    = []string{"Electric", "Electrical Contractors", "Power Systems", "Electric Co.", "Lighting & Controls", "Industrial Electric"}
	saltingNotes        = []string{"Open shop, receptive to organizing", "Hostile management; documented violations", "Mixed crew, several sympathetic workers", "Recent wage complaints on site", "Large commercial jobs, high turnover"}
	contactTitles       = []string{"Owner", "President", "Project Manager", "Safety Director", "HR Manager", "Superintendent", "Office Manager", "Estimator"}
	jobTitles           = []string{"Apprentice Electrician", "Journeyman Electrician", "Foreman", "General Foreman", "Wireman", "Inside Wireman", "Lineman", "Cable Splicer", "Instrumentation Technician", "Low Voltage Technician", "Solar Installer", "Estimator"}
	studentStatuses     = []string{"applicant", "enrolled", "active", "graduated", "withdrawn"}
	grievanceTitles     = []string{"Unpaid overtime", "Unsafe working conditions", "Wrongful termination", "Missing fringe benefit contributions", "Improper classification", "Denied breaks", "Seniority violation", "Travel pay dispute"}
	grievanceStatuses   = []string{"open", "investigating", "arbitration", "resolved", "withdrawn"}
	invalidStatuses     = []string{"on_leave", "unknown", "terminated", "pending"}
	invalidClasses      = []string{"master", "apprentice_6", "journeyman_electrician", "trainee"}
	invalidOrgTypes     = []string{"contractor", "vendor", "supplier", "staffing_agency"}
	unusualSizes        = []int64{-1, 100_000_001, 250_000_000, -2048}
	outOfRangeRateCents = []int{500, 999, 15001, 99999}
)

func (p *plan) genLocations(emit emitFunc) error {
	f := newFaker(p.opt.Seed, streamLocations)
	kinds := []string{"Training Center", "Union Hall", "Lab", "Annex", "Learning Center"}
	for i := range p.vol.Locations {
		city := f.f.City()
		row := []any{p.off.locations + int64(i) + 1, city + " " + pick(f, kinds), f.f.Street(), city,
			f.f.StateAbr(), f.f.Zip(), 20 + f.IntN(481)}
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

func (p *plan) genInstructors(emit emitFunc) error {
	f := newFaker(p.opt.Seed, streamInstructors)
	for i := range p.vol.Instructors {
		id := p.off.instructors + int64(i) + 1
		first, last := f.f.FirstName(), f.f.LastName()
		row := []any{id, first, last, fmt.Sprintf("%s.%s%d@ip2a-training.org", slug(first), slug(last), id),
			f.f.PhoneFormatted(), f.f.Sentence()}
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

func (p *plan) genOrganizations(emit emitFunc, mb *manifestBuilder) error {
	f := newFaker(p.opt.Seed, streamOrganizations)
	var nMissing, nType int
	for i := range p.vol.Organizations {
		id := p.orgID(i)
		var name, typ any
		var score, notes any
		city := f.f.City()
		if i < p.employers {
			name = f.f.Company() + " " + pick(f, employerSuffixes)
			typ = "employer"
			if f.chance(0.70) {
				score = 1 + f.IntN(5)
				notes = pick(f, saltingNotes)
			}
		} else {
			t := otherOrgTypes[(i-p.employers)%len(otherOrgTypes)]
			typ = t
			switch t {
			case "union":
				name = fmt.Sprintf("IBEW Local %d", 1+f.IntN(2000))
			case "jatc":
				name = city + " Electrical JATC"
			default:
				name = f.f.Company() + " Training Partners"
			}
		}
		switch p.orgFault[i] {
		case fOrgMissing:
			switch v := p.caps.orgMissing[nMissing%len(p.caps.orgMissing)]; v.col {
			case "name":
				name = v.value
			case "org_type":
				typ = v.value
			}
			nMissing++
			mb.id(OrganizationMissingRequired, id)
		case fOrgType:
			typ = invalidOrgTypes[nType%len(invalidOrgTypes)]
			nType++
			mb.id(OrganizationInvalidType, id)
		case fOrgNoContacts:
			mb.id(OrganizationNoContacts, id)
		case fOrgMultiplePrimary:
			mb.key(OrganizationMultiplePrimary, "organization_id", id)
		}
		row := []any{id, name, typ, f.f.Street(), city, f.f.StateAbr(), f.f.Zip(), f.f.PhoneFormatted(),
			fmt.Sprintf("office%d@%s.example.com", id, slug(city)), fmt.Sprintf("https://www.org%d.example.com", id),
			score, notes}
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

func (p *plan) genContacts(emit emitFunc, mb *manifestBuilder) error {
	f := newFaker(p.opt.Seed, streamContacts)
	id := p.off.contacts
	contact := func(orgID int64, primary bool, k, n int) []any {
		id++
		first, last := f.f.FirstName(), f.f.LastName()
		var notes any
		if f.chance(0.2) {
			notes = f.f.Sentence()
		}
		// Later contacts of an organization are created later, so "the most
		// recently created primary" is well defined.
		at := p.now.Add(-time.Duration(n-k) * time.Minute).Format(time.DateTime)
		return []any{id, orgID, first, last, pick(f, contactTitles), f.f.PhoneFormatted(),
			fmt.Sprintf("%s.%s%d@contacts.example.com", slug(first), slug(last), id), primary, notes, at, at}
	}
	for i, n := range p.contactCount {
		if p.orgFault[i] == fOrgNoContacts {
			continue
		}
		for k := range int(n) {
			primary := k == 0 || k == 1 && p.orgFault[i] == fOrgMultiplePrimary
			if err := emit(contact(p.orgID(i), primary, k, int(n))); err != nil {
				return err
			}
		}
	}
	for k := range p.faultsOf(ContactOrphanOrganization) {
		row := contact(p.orgID(p.vol.Organizations)+orphanGap+int64(k), false, 0, 1)
		mb.id(ContactOrphanOrganization, row[0].(int64))
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

// memberNumber renders the member number of the member with local index i
// and global index g (id-1) in one of the four formats of the original.
func memberNumber(f faker, i int, g int64) string {
	letter := string(rune('a' + f.IntN(26)))
	switch {
	case i < 1000:
		return strconv.FormatInt(7_000_000+g, 10)
	case i < 2000:
		return letter + strconv.FormatInt(8_000_000+g, 10)
	case i < 3000:
		return strconv.FormatInt(9_000_000+g, 10) + letter
	}
	return strconv.FormatInt(10_000_000+g, 10)
}

func weighted(f faker, items []string, pct []int) string {
	n := f.IntN(100)
	for i, w := range pct {
		if n < w {
			return items[i]
		}
		n -= w
	}
	return items[len(items)-1]
}

func (p *plan) genMembers(emit emitFunc, mb *manifestBuilder) error {
	f := newFaker(p.opt.Seed, streamMembers)
	numbers := map[int]string{} // numbers of the members others duplicate
	emails := map[int]string{}  // emails of the students' members others share
	var nMissing, nStatus, nClass, nEmail int
	for i := range p.vol.Members {
		id := p.memberID(i)
		var number any = memberNumber(f, i, id-1)
		first, last := f.f.FirstName(), f.f.LastName()
		var middle, dob, hire, notes any
		if f.chance(0.5) {
			middle = f.f.MiddleName()
		}
		if f.chance(0.75) {
			dob = date(p.today - 18*365 - 5 - f.IntN(57*365))
		}
		if f.chance(0.85) {
			hire = date(p.today - 1 - f.IntN(20*365))
		}
		status := "active"
		if !f.chance(0.88) {
			status = pick(f, memberStatuses)
		}
		class := weighted(f, classifications, classificationPct)
		if f.chance(0.1) {
			notes = f.f.Sentence()
		}
		var firstV, lastV any = first, last
		switch p.memberFault[i] {
		case fMemberMissing:
			switch v := p.caps.memberMissing[nMissing%len(p.caps.memberMissing)]; v.col {
			case "member_number":
				number = v.value
			case "first_name":
				firstV = v.value
			case "last_name":
				lastV = v.value
			}
			nMissing++
			mb.id(MemberMissingRequired, id)
		case fMemberStatus:
			status = invalidStatuses[nStatus%len(invalidStatuses)]
			nStatus++
			mb.id(MemberInvalidStatus, id)
		case fMemberClass:
			class = invalidClasses[nClass%len(invalidClasses)]
			nClass++
			mb.id(MemberInvalidClassification, id)
		case fMemberHireFuture:
			hire = date(p.today + 30 + f.IntN(335))
			mb.id(MemberHireDateFuture, id)
		case fMemberNoEmployment:
			status = "active"
			mb.id(MemberActiveWithoutEmployment, id)
		case fMemberDupA:
			numbers[i] = number.(string)
			mb.key(MemberDuplicateNumber, "member_number", number)
		case fMemberDupB:
			number = numbers[p.memberDupOf[i]]
		}
		city := f.f.City()
		email := fmt.Sprintf("%s.%s%d@members.example.com", slug(first), slug(last), id)
		if p.emailDupA[i] {
			emails[i] = email
			mb.key(StudentDuplicateEmail, "email", email)
		} else if a, ok := p.emailDupOf[i]; ok {
			email = emails[a]
			if nEmail%2 == 1 {
				email = strings.ToUpper(email)
			}
			nEmail++
		}
		row := []any{id, number, firstV, lastV, middle, f.f.Street(), city, f.f.StateAbr(), f.f.Zip(),
			f.f.PhoneFormatted(), email, dob, hire, status, class, notes}
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

func (p *plan) genEmployments(emit emitFunc, mb *manifestBuilder) error {
	f := newFaker(p.opt.Seed, streamEmployments)
	id := p.off.employments
	var rows slab
	days := newDates(p.today-20*365-100, p.today)
	titles := boxAll(jobTitles)
	rates := make([]any, 5800) // cents(1800 + i), boxed once each
	employer := func() int64 { return p.orgID(f.IntN(p.employers)) }
	title := func() any {
		if f.chance(0.9) {
			return pick(f, titles)
		}
		return nil
	}
	rate := func() any {
		if f.chance(0.75) {
			i := f.IntN(5800)
			if rates[i] == nil {
				rates[i] = cents(1800 + i)
			}
			return rates[i]
		}
		return nil
	}
	row := func(member, org int64, start int, end any, rate any, current bool) []any {
		id++
		return rows.row(id, member, org, days.of(start), end, title(), rate, current)
	}
	// A past job: start within the last 20 years, 30-1,825 days long, ended
	// by yesterday.
	pastStart := func() int { return p.today - 31 - f.IntN(20*365-31) }
	pastEnd := func(start int) int { return min(start+30+f.IntN(1796), p.today-1) }
	starts := make([]int, 0, 100)
	used := make([]int64, 0, 100)
	var nOrphanOrg, nRate int
	for i, n := range p.empCount {
		member := p.memberID(i)
		fk := p.memberFault[i]
		if fk == fMemberNoEmployment {
			continue
		}
		starts = starts[:0]
		for range int(n) {
			starts = append(starts, pastStart())
		}
		slices.Sort(starts)
		current := f.chance(0.65)
		switch fk {
		case fEmpCurrentWithEnd:
			current = false
		case fEmpMultipleCurrent:
			current = true
		}
		used = used[:0]
		for k, start := range starts {
			var org int64
			if k > 0 && f.chance(0.2) {
				org = used[f.IntN(len(used))]
			} else {
				org = employer()
				used = append(used, org)
			}
			var r []any
			if k == len(starts)-1 && current {
				r = row(member, org, start, nil, rate(), true)
			} else {
				r = row(member, org, start, days.of(pastEnd(start)), rate(), false)
			}
			if err := emit(r); err != nil {
				return err
			}
		}
		var r []any
		switch fk {
		case fEmpOrphanOrg:
			start := pastStart()
			r = row(member, p.orgID(p.vol.Organizations)+orphanGap+int64(nOrphanOrg), start, days.of(pastEnd(start)), rate(), false)
			nOrphanOrg++
			mb.id(EmploymentOrphanOrganization, id)
		case fEmpEndBeforeStart:
			start := pastStart()
			r = row(member, employer(), start, days.of(start-1-f.IntN(60)), rate(), false)
			mb.id(EmploymentEndBeforeStart, id)
		case fEmpCurrentWithEnd:
			start := pastStart()
			r = row(member, employer(), start, days.of(pastEnd(start)), rate(), true)
			mb.id(EmploymentCurrentWithEndDate, id)
		case fEmpMultipleCurrent:
			r = row(member, employer(), pastStart(), nil, rate(), true)
			mb.key(MemberMultipleCurrentEmployments, "member_id", member)
		case fEmpRate:
			start := pastStart()
			r = row(member, employer(), start, days.of(pastEnd(start)), cents(outOfRangeRateCents[nRate%len(outOfRangeRateCents)]), false)
			nRate++
			mb.id(EmploymentHourlyRateRange, id)
		}
		if r != nil {
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	for k := range p.faultsOf(EmploymentOrphanMember) {
		start := pastStart()
		r := row(p.memberID(p.vol.Members)+orphanGap+int64(k), employer(), start, days.of(pastEnd(start)), rate(), false)
		mb.id(EmploymentOrphanMember, id)
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

func (p *plan) genStudents(emit emitFunc, mb *manifestBuilder) error {
	f := newFaker(p.opt.Seed, streamStudents)
	emails := map[int]string{}
	var nDup int
	for i := range p.vol.Students {
		id := p.studentID(i)
		first, last := f.f.FirstName(), f.f.LastName()
		var member any
		if i < p.vol.Members && f.chance(0.3) {
			member = p.memberID(i)
		}
		email := fmt.Sprintf("%s.%s.%d@students.example.org", slug(first), slug(last), id)
		switch p.studentFault[i] {
		case fStudentDupA:
			emails[i] = email
			mb.key(StudentDuplicateEmail, "email", email)
		case fStudentDupB:
			email = emails[p.studentDupOf[i]]
			if nDup%2 == 1 {
				email = strings.ToUpper(email)
			}
			nDup++
		}
		status := pick(f, studentStatuses)
		app := p.today - 30 - f.IntN(6*365)
		var enrolled, completion any
		if status != "applicant" {
			e := min(app+30+f.IntN(150), p.today-1)
			enrolled = date(e)
			completion = date(e + 5*365)
		}
		ay, _, _ := civil(app)
		row := []any{id, member, fmt.Sprintf("S%d%06d", ay, id), first, last, email,
			f.f.PhoneFormatted(), status, date(app), enrolled, completion}
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

// faultsOf returns how many faults of kind to plant: Options.Faults, or 0
// when the live schema forbids the kind.
func (p *plan) faultsOf(kind string) int {
	if p.caps.plantable(kind) {
		return p.opt.Faults
	}
	return 0
}

func (p *plan) genGrievances(emit emitFunc) error {
	f := newFaker(p.opt.Seed, streamGrievances)
	for i := range p.grievs {
		id := p.grievID(i)
		filed := p.today - 1 - f.IntN(5*365)
		y, _, _ := civil(filed)
		row := []any{id, fmt.Sprintf("GR-%d-%05d", y, id), p.memberID(f.IntN(p.vol.Members)),
			p.orgID(f.IntN(p.employers)), pick(f, grievanceTitles), pick(f, grievanceStatuses), date(filed)}
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}
