package models

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/example/mposportal/money"
)

// ValidationError is the domain's one "refused" error: the input or the request is refused,
// and here is what to tell the person. Every domain package returns it (payments' start,
// operations and reviews, the reader fleet, the models' own checks), so web maps one type to
// 422 and shows the message beside its field on a form, or as the page's message.
//
// It lives in models because every domain package imports models already and models imports
// none of them; money, the leaf below, keeps its own *money.ParseError, which the domain
// wraps at its boundary (InvalidAmount) so the message reaches the person unchanged and
// errors.As still finds the parse error.
type ValidationError struct {
	// Fields holds a message per refused field; the key "" is a message about the request
	// as a whole (a form shows it above the fields).
	Fields map[string]string
	// Err is the rule behind the refusal when callers may test for it with errors.Is/As
	// (payments.ErrEndpointDisabled, *money.ParseError); nil otherwise.
	Err error

	order []string // the fields in the order they were refused: the first is Field's
}

// Invalid refuses field ("" for the request as a whole) with msg, in words for the person.
func Invalid(field, msg string) *ValidationError {
	v := &ValidationError{}
	v.Add(field, msg)
	return v
}

// Invalidf is Invalid with a formatted message.
func Invalidf(field, format string, args ...any) *ValidationError {
	return Invalid(field, fmt.Sprintf(format, args...))
}

// InvalidAmount turns money's parse error for field into a refusal with the same message
// (still found by errors.As as a *money.ParseError); any other error comes back unchanged.
func InvalidAmount(field string, err error) error {
	var perr *money.ParseError
	if errors.As(err, &perr) {
		return Invalid(field, perr.Message).Because(err)
	}
	return err
}

// Because records the rule behind the refusal, for errors.Is/As, and returns v.
func (v *ValidationError) Because(err error) *ValidationError {
	v.Err = err
	return v
}

// Add records a field's problem; a second message for the same field replaces the first.
func (v *ValidationError) Add(field, msg string) {
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	if _, ok := v.Fields[field]; !ok {
		v.order = append(v.order, field)
	}
	v.Fields[field] = msg
}

// OrNil returns v when it holds a problem, nil otherwise.
func (v *ValidationError) OrNil() *ValidationError {
	if v == nil || len(v.Fields) == 0 {
		return nil
	}
	return v
}

// Field is the field the (first) message is about; "" for the request as a whole.
func (v *ValidationError) Field() string {
	if fields := v.fields(); len(fields) > 0 {
		return fields[0]
	}
	return ""
}

// Message is the (first) message, for a form or a page that shows one.
func (v *ValidationError) Message() string {
	return v.Fields[v.Field()]
}

// fields lists the refused fields in the order they were added (sorted, for a literal built
// without Add).
func (v *ValidationError) fields() []string {
	if len(v.order) == len(v.Fields) {
		return v.order
	}
	keys := make([]string, 0, len(v.Fields))
	for f := range v.Fields {
		keys = append(keys, f)
	}
	slices.Sort(keys)
	return keys
}

// Error is the messages themselves, in order: one refusal reads exactly as its message.
func (v *ValidationError) Error() string {
	var msgs []string
	for _, f := range v.fields() {
		msgs = append(msgs, v.Fields[f])
	}
	return strings.Join(msgs, "; ")
}

func (v *ValidationError) Unwrap() error { return v.Err }
