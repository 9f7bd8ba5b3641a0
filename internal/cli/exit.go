package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ip2adb/ip2adb"
	"github.com/ip2adb/ip2adb/heal"
	"github.com/ip2adb/ip2adb/integrity"
	"github.com/ip2adb/ip2adb/internal/dbx"
	"github.com/ip2adb/ip2adb/notify"
	"github.com/ip2adb/ip2adb/resilience"
	"github.com/ip2adb/ip2adb/seed"
	"github.com/ip2adb/ip2adb/service"
)

// This file is where errors become exit codes: commands return errors —
// their own usage errors, the library's typed errors, exitError when the
// command has chosen the code — and exitStatus alone decides the code and
// the one line printed.

// usageError is a usage error of the command line itself (a bad flag
// value, a missing directory): exit 2, nothing changed.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error (exit 2).
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError carries an exit code chosen by a command together with a message
// (which may be empty when the command has already reported).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// exitCode makes a command end with code and no further message.
func exitCode(code int) error {
	if code == ExitOK {
		return nil
	}
	return exitError{code: code}
}

// exitStatus maps the error a command returned to its exit code and the
// message of the one line printed for it ("" prints none): nil is
// ExitOK; bad input — the command line's usage errors and the library's
// configuration errors (see badInput) — is ExitUsage; anything else is
// ExitCritical, with the library's refusals worded for the command line.
func exitStatus(err error) (code int, msg string) {
	if err == nil {
		return ExitOK, ""
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code, ee.msg
	}
	if badInput(err) {
		return ExitUsage, err.Error()
	}
	return ExitCritical, commandWording(err)
}

// badInput reports whether err is bad input (exit 2, nothing changed): a
// usage error of the command line, a database URL or database that cannot
// be used, a database holding none of the checked tables, an unknown run
// id, a bad output format, seed option, channel URL, resilience threshold,
// log dir or service setting.
func badInput(err error) bool {
	var (
		usage    usageError
		database *dbx.ConfigError
		schema   *integrity.SchemaError
		run      *heal.UnknownRunError
		logDir   *heal.LogDirError
		format   *ip2adb.FormatError
		seedOpt  *seed.OptionsError
		channel  *notify.ConfigError
		probes   *resilience.OptionsError
		svc      *service.ConfigError
	)
	return errors.As(err, &usage) || errors.As(err, &database) || errors.As(err, &schema) ||
		errors.As(err, &run) || errors.As(err, &logDir) || errors.As(err, &format) ||
		errors.As(err, &seedOpt) || errors.As(err, &channel) || errors.As(err, &probes) || errors.As(err, &svc)
}

// commandWording is the message of err for the command line: the library
// names what a forced or skipping undo would do, the command names the
// flag that does it.
func commandWording(err error) string {
	var conflict *heal.ConflictError
	var blocked *heal.BlockedError
	switch {
	case errors.As(err, &conflict):
		return strings.Replace(err.Error(), "(a forced undo restores them anyway)", "(--force restores them anyway)", 1)
	case errors.As(err, &blocked):
		return strings.Replace(err.Error(), "(or skip the blocked rows and restore the rest now)", "(--skip-blocked restores the rest now)", 1)
	}
	return err.Error()
}
