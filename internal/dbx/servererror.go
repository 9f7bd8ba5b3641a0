package dbx

import (
	"errors"
	"strings"
)

// ServerError is an error the database server sent: its SQLSTATE code and
// its message. It is read from any driver's error that reports its code
// with a SQLState method (lib/pq's *pq.Error, pgx's *pgconn.PgError), so
// that the library inspects server errors without importing a driver
// (which would register it).
type ServerError struct {
	// Code is the five-character SQLSTATE, such as "42501".
	Code string
	// Message is the server's primary message, without the driver's
	// decoration ("pq: " … " (42501)").
	Message string
}

// Class is the SQLSTATE class: the code's first two characters, such as
// "08" (connection exception) or "XX" (internal error).
func (e ServerError) Class() string {
	if len(e.Code) < 2 {
		return ""
	}
	return e.Code[:2]
}

// AsServerError returns the server error in err's chain, if any.
func AsServerError(err error) (ServerError, bool) {
	var se interface {
		error
		SQLState() string
	}
	if !errors.As(err, &se) {
		return ServerError{}, false
	}
	code := se.SQLState()
	msg := se.Error()
	for _, p := range []string{"pq: ", "ERROR: ", "FATAL: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	for _, s := range []string{" (SQLSTATE " + code + ")", " (" + code + ")"} {
		msg = strings.TrimSuffix(msg, s)
	}
	return ServerError{Code: code, Message: msg}, true
}
