package seed

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// PostgreSQL's binary COPY format: a signature, flags and header extension
// length (both zero), then per row a field count and per field a length
// (-1: NULL) and the value in the type's binary form, then -1.
const (
	binaryCopyHeader  = "PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	binaryCopyTrailer = "\xff\xff"
)

// Type OIDs of the column types the binary encoder writes.
const (
	oidBool        = 16
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
)

// binaryEncoder writes generated rows of one table in binary COPY format,
// one column encoder per column (by the column's type). The values are the
// ones the text encoder writes (appendCopyRow): the server stores the same
// rows, only without parsing dates, numbers and timestamps from text.
type binaryEncoder struct {
	cols []binaryColumn
	// extra names the columns appended to every row with the same value
	// (suffix, already encoded): columns whose default is the
	// transaction's time, sent once computed instead of evaluated by the
	// server for every row.
	extra  []string
	suffix []byte
}

// binaryColumn appends one non-NULL value (length and bytes).
type binaryColumn func(b []byte, v any) ([]byte, error)

// newBinaryEncoder returns the encoder of columns of the given type OIDs,
// or nil when one of the types is not one it writes (the table is then
// loaded in text format).
func newBinaryEncoder(oids []uint32) *binaryEncoder {
	e := &binaryEncoder{cols: make([]binaryColumn, len(oids))}
	for i, oid := range oids {
		switch oid {
		case oidBool:
			e.cols[i] = binaryBool
		case oidInt2:
			e.cols[i] = binaryInt(2, math.MinInt16, math.MaxInt16)
		case oidInt4:
			e.cols[i] = binaryInt(4, math.MinInt32, math.MaxInt32)
		case oidInt8:
			e.cols[i] = binaryInt(8, math.MinInt64, math.MaxInt64)
		case oidText, oidVarchar:
			e.cols[i] = binaryText
		case oidDate:
			e.cols[i] = binaryDate
		case oidTimestamp:
			e.cols[i] = binaryTimestamp
		case oidNumeric:
			e.cols[i] = binaryNumeric
		default:
			return nil
		}
	}
	return e
}

// appendRow appends row as one binary COPY tuple.
func (e *binaryEncoder) appendRow(b []byte, row []any) ([]byte, error) {
	if len(row) != len(e.cols) {
		return b, fmt.Errorf("binary copy: %d values for %d columns", len(row), len(e.cols))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(row)+len(e.extra)))
	for i, v := range row {
		if v == nil {
			b = append(b, 0xff, 0xff, 0xff, 0xff)
			continue
		}
		var err error
		if b, err = e.cols[i](b, v); err != nil {
			return b, fmt.Errorf("binary copy, column %d: %w", i+1, err)
		}
	}
	return append(b, e.suffix...), nil
}

// withConstant returns a copy of e that also writes column col with the
// fixed binary value v (8 bytes: a timestamp) in every row.
func (e *binaryEncoder) withConstant(col string, v uint64) *binaryEncoder {
	c := *e
	c.extra = append(slices.Clone(e.extra), col)
	c.suffix = binary.BigEndian.AppendUint64(append(slices.Clone(e.suffix), 0, 0, 0, 8), v)
	return &c
}

func binaryBool(b []byte, v any) ([]byte, error) {
	x, ok := v.(bool)
	if !ok {
		return b, fmt.Errorf("%T for a boolean", v)
	}
	if x {
		return append(b, 0, 0, 0, 1, 1), nil
	}
	return append(b, 0, 0, 0, 1, 0), nil
}

func binaryInt(size int, lo, hi int64) binaryColumn {
	return func(b []byte, v any) ([]byte, error) {
		var x int64
		switch y := v.(type) {
		case int64:
			x = y
		case int:
			x = int64(y)
		case string:
			var err error
			if x, err = strconv.ParseInt(y, 10, 64); err != nil {
				return b, err
			}
		default:
			return b, fmt.Errorf("%T for an integer", v)
		}
		if x < lo || x > hi {
			return b, fmt.Errorf("%d is out of range for a %d-byte integer", x, size)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(size))
		switch size {
		case 2:
			return binary.BigEndian.AppendUint16(b, uint16(x)), nil
		case 4:
			return binary.BigEndian.AppendUint32(b, uint32(x)), nil
		}
		return binary.BigEndian.AppendUint64(b, uint64(x)), nil
	}
}

func binaryText(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
		return append(b, x...), nil
	case int64:
		var buf [20]byte
		s := strconv.AppendInt(buf[:0], x, 10)
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		return append(b, s...), nil
	}
	return b, fmt.Errorf("%T for text", v)
}

// pgEpochDays is 2000-01-01, PostgreSQL's epoch, in days since 1970-01-01.
const pgEpochDays = 10957

// parseDate reads "YYYY-MM-DD" (years 0001-9999) as days since 1970-01-01.
func parseDate(s string) (int, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the inverse of civil (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func binaryDate(b []byte, v any) ([]byte, error) {
	if d, ok := v.(day); ok {
		b = append(b, 0, 0, 0, 4)
		return binary.BigEndian.AppendUint32(b, uint32(int32(d)-pgEpochDays)), nil
	}
	s, ok := v.(string)
	if !ok {
		return b, fmt.Errorf("%T for a date", v)
	}
	days, ok := parseDate(s)
	if !ok || len(s) != 10 {
		return b, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	b = append(b, 0, 0, 0, 4)
	return binary.BigEndian.AppendUint32(b, uint32(int32(days-pgEpochDays))), nil
}

// binaryTimestamp writes "YYYY-MM-DD HH:MM:SS" (time.DateTime, the seed's
// timestamps) as microseconds since 2000-01-01 00:00:00.
func binaryTimestamp(b []byte, v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return b, fmt.Errorf("%T for a timestamp", v)
	}
	days, ok := parseDate(s)
	bad := !ok || len(s) != 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':'
	var h, m, sec int
	if !bad {
		var ok1, ok2, ok3 bool
		h, ok1 = digits(s[11:13])
		m, ok2 = digits(s[14:16])
		sec, ok3 = digits(s[17:19])
		bad = !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 59
	}
	if bad {
		return b, fmt.Errorf("%q is not a timestamp (YYYY-MM-DD HH:MM:SS)", s)
	}
	us := (int64(days-pgEpochDays)*86400 + int64(h*3600+m*60+sec)) * 1_000_000
	b = append(b, 0, 0, 0, 8)
	return binary.BigEndian.AppendUint64(b, uint64(us)), nil
}

// Signs of PostgreSQL's binary numeric.
const (
	numericPos = 0x0000
	numericNeg = 0x4000
)

// binaryNumeric writes a decimal ("-12.50", an integer) as PostgreSQL's
// binary numeric: base-10000 digits, the weight of the first, the sign and
// the display scale (the number of digits after the point, as numeric_in
// reads it from text).
func binaryNumeric(b []byte, v any) ([]byte, error) {
	var s string
	switch x := v.(type) {
	case cents:
		return binaryCents(b, x), nil
	case string:
		s = x
	case int64:
		var buf [20]byte
		s = string(strconv.AppendInt(buf[:0], x, 10))
	case int:
		s = strconv.Itoa(x)
	default:
		return b, fmt.Errorf("%T for a numeric", v)
	}
	sign := uint16(numericPos)
	t := s
	if len(t) > 0 && (t[0] == '-' || t[0] == '+') {
		if t[0] == '-' {
			sign = numericNeg
		}
		t = t[1:]
	}
	ip, fp := t, ""
	for i := 0; i < len(t); i++ {
		if t[i] == '.' {
			ip, fp = t[:i], t[i+1:]
			break
		}
	}
	if ip == "" && fp == "" || len(fp) > 0x3fff {
		return b, fmt.Errorf("%q is not a decimal number", s)
	}
	if _, ok := digits(ip); !ok {
		return b, fmt.Errorf("%q is not a decimal number", s)
	}
	if _, ok := digits(fp); !ok {
		return b, fmt.Errorf("%q is not a decimal number", s)
	}
	// Base-10000 groups aligned at the point: the integer part grouped
	// from the right, the fraction from the left (padded with zeros).
	var groups [64]uint16
	g := groups[:0]
	lead := len(ip) % 4
	if lead == 0 && len(ip) > 0 {
		lead = 4
	}
	for i := 0; i < len(ip); {
		n := 4
		if i == 0 {
			n = lead
		}
		d, _ := digits(ip[i : i+n])
		g = append(g, uint16(d))
		i += n
	}
	weight := len(g) - 1
	for i := 0; i < len(fp); i += 4 {
		chunk := fp[i:min(i+4, len(fp))]
		d, _ := digits(chunk)
		for range 4 - len(chunk) {
			d *= 10
		}
		g = append(g, uint16(d))
	}
	return appendNumeric(b, g, weight, sign, len(fp)), nil
}

// appendNumeric writes a numeric field: its base-10000 digits (most
// significant first), the weight of the first, its sign and its display
// scale. Leading and trailing zero digits are not stored.
func appendNumeric(b []byte, digits []uint16, weight int, sign uint16, dscale int) []byte {
	for len(digits) > 0 && digits[0] == 0 {
		digits = digits[1:]
		weight--
	}
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		weight, sign = 0, numericPos
	}
	b = binary.BigEndian.AppendUint32(b, uint32(8+2*len(digits)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(digits)))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, d := range digits {
		b = binary.BigEndian.AppendUint16(b, d)
	}
	return b
}

// binaryCents writes c hundredths as a numeric of scale 2, as numeric_in
// reads the text appendMoney writes.
func binaryCents(b []byte, c cents) []byte {
	sign := uint16(numericPos)
	u := uint64(c)
	if c < 0 {
		sign, u = numericNeg, uint64(-c)
	}
	// Base-10000 digits: the integer part's, most significant first,
	// then the fraction's one (its two decimals followed by two zeros).
	var groups [8]uint16
	n := 0
	for ip := u / 100; ip > 0; ip /= 10000 {
		groups[n] = uint16(ip % 10000)
		n++
	}
	var g [8]uint16
	for i := range n {
		g[i] = groups[n-1-i]
	}
	weight := n - 1
	digits := g[:n]
	if fr := uint16(u%100) * 100; fr != 0 {
		digits = append(digits, fr)
	}
	return appendNumeric(b, digits, weight, sign, 2)
}
