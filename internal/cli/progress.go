package cli

import (
	"cmp"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress draws one progress bar per phase on stderr, and only when stderr
// is a terminal; otherwise every method does nothing. Its Update method fits
// the library's Progress callbacks (phase, done, total). Safe for concurrent
// use.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	unit  string // what is counted; "rows" when empty
	phase string
	bar   *progressbar.ProgressBar
}

// newProgress returns the progress display of this invocation.
func (a *app) newProgress() *progress {
	return &progress{w: a.env.Stderr, on: a.env.StderrTTY}
}

// Update shows done of total for phase (total < 0: unknown), finishing the
// previous phase's bar when the phase changes.
func (p *progress) Update(phase string, done, total int64) {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if phase != p.phase || p.bar == nil {
		p.finishLocked()
		p.phase = phase
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(phase),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(cmp.Or(p.unit, "rows")),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { io.WriteString(p.w, "\n") }),
		)
	}
	p.bar.Set64(done)
}

// Finish completes the current bar, if any.
func (p *progress) Finish() {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
}

func (p *progress) finishLocked() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
