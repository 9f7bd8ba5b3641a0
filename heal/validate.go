package heal

import (
	"context"
	"errors"
	"fmt"

	"github.com/ip2adb/ip2adb/catalog"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
)

// Validate checks the cycle before anything runs, changing nothing, and
// returns one error that names every problem it found (nil when none):
//
//   - DB is set, its driver is PostgreSQL's or SQLite's, and on PostgreSQL
//     its pool allows the two connections a run needs (the run lock keeps
//     one);
//   - Kind, MaxIssues, Concurrency and JournalTables are valid, and Catalog
//     is not set beside Model (it would be ignored);
//   - the schema model can be read with Catalog (its overrides name real
//     tables and columns) and holds some of the tables the checks read
//     (else an *integrity.SchemaError);
//   - every check binds to the model, apart from those that are not
//     applicable to it (which a run reports as such): its columns exist and
//     orderings such as [integrity.AtMostOne]'s Keep name real columns;
//   - with the default repairer, the fix of every repairable check can be
//     carried out: its table has a primary key for the journal, its column
//     exists and is not part of the key, and a soft delete has a column to
//     soft-delete by.
//
// Run checks the first three itself before it takes the lock. The checks
// and their repairs it leaves to run time, where a check that cannot be
// bound is a failed check of the report and a repair that cannot be
// carried out fails the run when there is something to repair: call
// Validate (at start-up, say) to learn of those mistakes before anything
// runs. Repairs a Choose function adds are checked when they run.
func (c *Cycle) Validate(ctx context.Context) error {
	_, err := c.validate(ctx, true)
	return err
}

// validate is Validate, returning the model the run is bound to; the
// checks and their repairs are validated only when checks is set.
func (c *Cycle) validate(ctx context.Context, checks bool) (*catalog.Model, error) {
	if c.DB == nil {
		return nil, errors.New("heal: Cycle.DB is nil")
	}
	if err := dbx.CheckDriver(c.DB); err != nil {
		return nil, err
	}
	var errs []error
	d := dbx.DialectOf(c.DB)
	if d.SessionLocks() && c.DB.Stats().MaxOpenConnections == 1 {
		errs = append(errs, errors.New("the PostgreSQL pool allows one connection; the run lock holds one for the run, so allow at least two (db.SetMaxOpenConns)"))
	}
	switch c.Kind {
	case "", KindHeal, KindRepair:
	default:
		errs = append(errs, fmt.Errorf("cycle kind %q: want %q or %q", c.Kind, KindHeal, KindRepair))
	}
	if c.MaxIssues < 0 || c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("MaxIssues (%d) and Concurrency (%d) must not be negative", c.MaxIssues, c.Concurrency))
	}
	if err := c.JournalTables.validate(); err != nil {
		errs = append(errs, err)
	}
	model := c.Model
	if model != nil && catalogSet(c.Catalog) {
		errs = append(errs, errors.New("both Cycle.Model and Cycle.Catalog are set: Catalog applies only when the cycle reads the model (read it with catalog.Read and the same options, or leave Model nil)"))
	}
	if model == nil {
		m, err := catalog.Read(ctx, c.DB, c.Catalog)
		if err != nil {
			return nil, errors.Join(append(errs, err)...)
		}
		model = m
	}
	if err := integrity.CheckSchema(model, c.Checks); err != nil {
		return model, errors.Join(append(errs, err)...)
	}
	if !checks {
		return model, errors.Join(errs...)
	}
	_, custom := c.Repairer.(SQLRepairer)
	custom = c.Repairer != nil && !custom
	for _, ch := range c.Checks {
		b, err := integrity.Bind(model, ch)
		var na *integrity.NotApplicableError
		if errors.As(err, &na) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("check %s: %w", ch.Name(), err))
			continue
		}
		r, ok := b.(integrity.Repairable)
		if !ok || custom {
			continue
		}
		fix := r.Fix()
		t, err := tableOf(model, fix.Table)
		if err == nil {
			_, err = t.changes(d, fix, c.now())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("check %s: its repair: %w", ch.Name(), err))
		}
	}
	return model, errors.Join(errs...)
}

// catalogSet reports whether any option of o is set.
func catalogSet(o catalog.Options) bool {
	cv := o.Conventions
	return o.Schema != "" || len(o.Tables) > 0 ||
		cv.DeletedFlag != nil || cv.DeletedAt != nil || cv.CreatedAt != nil || cv.UpdatedAt != nil
}
