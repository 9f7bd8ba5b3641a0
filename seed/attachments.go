package seed

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"

	"github.com/ip2adb/ip2adb/filestore"
)

const (
	kib = 1024
	mib = 1024 * 1024
)

// fileType is one kind of attachment with its size range (ORIGINAL.md).
type fileType struct {
	key, category, description, mime, ext string
	min, max                              int64
}

var fileTypes = []fileType{
	// The first five are the common types every member has, in order.
	{"id_photo", "photo", "ID photo", "image/jpeg", ".jpg", 5 * mib / 2, 11 * mib / 2},
	{"scanned_pdf", "scan", "Scanned document", "application/pdf", ".pdf", mib / 5, 2 * mib},
	{"pdf_form", "form", "PDF form", "application/pdf", ".pdf", 50 * kib, 500 * kib},
	{"pdf_report", "report", "PDF report", "application/pdf", ".pdf", mib / 2, 5 * mib},
	{"word_doc", "document", "Word document", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx", mib / 10, 2 * mib},
	{"worksite_photo", "photo", "Worksite photo", "image/jpeg", ".jpg", 2 * mib, 6 * mib},
	{"spreadsheet", "spreadsheet", "Spreadsheet", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx", 50 * kib, mib},
	{"small_image", "image", "Image", "image/png", ".png", mib / 10, mib},
}

// Column positions in an attachment row.
const (
	attColPath     = 6
	attColSize     = 8
	attColChecksum = 10
)

// attachmentEmit receives one attachment row; write says whether its file
// belongs on disk (when files are written at all).
type attachmentEmit func(row []any, write bool) error

func (p *plan) genAttachments(emit attachmentEmit, mb *manifestBuilder) error {
	f := newFaker(p.opt.Seed, streamAttachments)
	id := p.off.attachments
	var rows slab
	// The fixed values of each type and record type, boxed once.
	type boxed struct{ category, mime, description any }
	typeOf := map[string]boxed{}
	for _, t := range fileTypes {
		typeOf[t.key] = boxed{t.category, t.mime, t.description}
	}
	recordTypes := map[string]any{}
	for _, r := range []string{"member", "student", "organization", "grievance"} {
		recordTypes[r] = r
	}
	row := func(recordType string, recordID int64, t fileType, size int64) []any {
		id++
		day := p.today - 1 - f.IntN(5*365)
		y, m, _ := civil(day)
		h1 := f.Uint64()
		h2 := f.Uint64()
		if size == 0 {
			size = t.min + f.Int64N(t.max-t.min+1)
		}
		n := 1 + f.IntN(999)
		// One string holds the path (which ends in the name) and then
		// the original name.
		var buf [160]byte
		b := append(append(buf[:0], "uploads/"...), recordType...)
		b = append(b, '/', byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '/', byte('0'+m/10), byte('0'+m%10), '/')
		nameAt := len(b)
		b = append(appendHex16(appendHex16(b, h1), h2), t.ext...)
		pathEnd := len(b)
		b = append(strconv.AppendInt(append(append(b, t.key...), '_'), int64(n), 10), t.ext...)
		all := string(b)
		bt := typeOf[t.key]
		rt, ok := recordTypes[recordType]
		if !ok {
			rt = recordType
		}
		return rows.row(id, rt, recordID, bt.category, all[nameAt:pathEnd], all[pathEnd:], all[:pathEnd], bt.mime, size,
			bt.description, nil)
	}
	// The clean rows come in (record_type, record_id) order, the order of
	// the index on those columns in ip2adb's schema: its build after the
	// load finds them sorted (PostgreSQL's sort checks for that first),
	// at a third of the cost of sorting text keys.
	for _, set := range []struct {
		recordType string
		counts     []uint8
		id         func(int) int64
	}{{"grievance", p.attGrievance, p.grievID}, {"member", p.attMember, p.memberID},
		{"organization", p.attOrg, p.orgID}, {"student", p.attStudent, p.studentID}} {
		for i, n := range set.counts {
			for k := range int(n) {
				// Every member has the five common types first, in order.
				var t fileType
				if set.recordType == "member" && k < 5 {
					t = fileTypes[k]
				} else {
					t = pick(f, fileTypes)
				}
				if err := emit(row(set.recordType, set.id(i), t, 0), true); err != nil {
					return err
				}
			}
		}
	}
	// Planted faults follow the clean rows.
	orphanOf := []struct {
		recordType string
		end        int64
	}{{"member", p.memberID(p.vol.Members)}, {"student", p.studentID(p.vol.Students)},
		{"organization", p.orgID(p.vol.Organizations)}, {"grievance", p.grievID(p.grievs)}}
	for k := range p.faultsOf(AttachmentOrphanRecord) {
		o := orphanOf[k%len(orphanOf)]
		r := row(o.recordType, o.end+orphanGap+int64(k), pick(f, fileTypes), 0)
		mb.id(AttachmentOrphanRecord, r[0].(int64))
		if err := emit(r, true); err != nil {
			return err
		}
	}
	member := func() int64 { return p.memberID(f.IntN(p.vol.Members)) }
	for range p.faultsOf(AttachmentEmptyPath) {
		r := row("member", member(), pick(f, fileTypes), 0)
		r[attColPath] = ""
		mb.id(AttachmentEmptyPath, r[0].(int64))
		if err := emit(r, false); err != nil {
			return err
		}
	}
	for range p.faultsOf(AttachmentFileMissing) {
		r := row("member", member(), pick(f, fileTypes), 0)
		mb.id(AttachmentFileMissing, r[0].(int64))
		if err := emit(r, false); err != nil {
			return err
		}
	}
	for k := range p.faultsOf(AttachmentSizeUnusual) {
		r := row("member", member(), pick(f, fileTypes), unusualSizes[k%len(unusualSizes)])
		mb.id(AttachmentSizeUnusual, r[0].(int64))
		if err := emit(r, true); err != nil {
			return err
		}
	}
	return nil
}

// fileWriter writes attachment files into a store: deterministic content
// from (seed, attachment id), FileScale × the declared size, at least
// MinFileSize bytes. A directory store writes through an os.Root, so a
// symlink planted in the directory cannot lead a write outside it.
type fileWriter struct {
	store filestore.Writer // nil when the store could not be opened
	seed  int64
	scale float64
}

// size returns the number of bytes written for a declared size.
func (w *fileWriter) size(declared int64) int64 {
	n := int64(float64(max(declared, 0)) * w.scale)
	return max(n, MinFileSize)
}

// fileWorkers is the number of goroutines writing attachment files.
const fileWorkers = 32

// fileBlock is the size of the blocks a file is written in.
const fileBlock = 64 * 1024

// content writes the n bytes of attachment id's file at path to out: a
// header line naming it, then bytes from a PCG seeded by (seed, id).
func (w *fileWriter) content(out io.Writer, buf []byte, id int64, path string, n int64) error {
	src := rand.NewPCG(uint64(w.seed), uint64(id)^0x9e3779b97f4a7c15)
	header := "ip2adb seed file " + path + " id " + strconv.FormatInt(id, 10) + "\n"
	for written := int64(0); written < n; {
		b := buf[:min(int64(len(buf)), n-written)]
		k := 0
		if written == 0 {
			k = copy(b, header)
		}
		for ; k < len(b); k += 8 {
			var word [8]byte
			binary.LittleEndian.PutUint64(word[:], src.Uint64())
			copy(b[k:], word[:])
		}
		if _, err := out.Write(b); err != nil {
			return err
		}
		written += int64(len(b))
	}
	return nil
}

// write writes the file of one attachment row and returns its SHA-256 hex
// and size. buf is the caller's scratch block (fileBlock bytes). The bytes
// are generated as the store reads them.
func (w *fileWriter) write(ctx context.Context, row []any, buf []byte) (string, int64, error) {
	id := row[0].(int64)
	path := row[attColPath].(string)
	n := w.size(row[attColSize].(int64))
	if w.store == nil {
		return "", 0, errors.New("write attachment file: the files store is not open")
	}
	pr, pw := io.Pipe()
	h := sha256.New()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(w.content(io.MultiWriter(pw, h), buf, id, path, n))
	}()
	err := w.store.Put(ctx, path, pr, n)
	pr.CloseWithError(errors.New("upload ended")) // unblocks the generator if Put stopped early
	<-done
	if err != nil {
		return "", 0, fmt.Errorf("write attachment file: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// appendHex16 appends v as 16 lower-case hex digits (as %016x).
func appendHex16(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[v>>uint(shift)&0xf])
	}
	return b
}
