package models_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/money"
)

func TestValidationErrorReadsAsItsMessages(t *testing.T) {
	one := models.Invalidf("amount", "At most %s can be captured.", "20.00")
	if got, want := one.Error(), "At most 20.00 can be captured."; got != want {
		t.Errorf("one refusal: Error() = %q, want %q", got, want)
	}
	if one.Field() != "amount" || one.Message() != one.Error() {
		t.Errorf("one refusal: Field() = %q, Message() = %q", one.Field(), one.Message())
	}
	var many models.ValidationError
	many.Add("name", "Give a name.")
	many.Add("currency", "Choose a currency.")
	many.Add("name", "Keep the name to 64 characters.")
	if got, want := many.Error(), "Keep the name to 64 characters.; Choose a currency."; got != want {
		t.Errorf("several fields: Error() = %q, want %q (in the order refused)", got, want)
	}
	if many.Field() != "name" || many.Fields["currency"] != "Choose a currency." {
		t.Errorf("several fields: Field() = %q, Fields = %v", many.Field(), many.Fields)
	}
	if (&models.ValidationError{}).OrNil() != nil || many.OrNil() != &many {
		t.Error("OrNil: nil only when nothing was refused")
	}
	literal := &models.ValidationError{Fields: map[string]string{"b": "B.", "a": "A."}}
	if got := literal.Error(); got != "A.; B." {
		t.Errorf("a literal without Add: Error() = %q, want its fields sorted", got)
	}
}

func TestValidationErrorKeepsTheRuleBehindIt(t *testing.T) {
	rule := errors.New("the gateway endpoint is disabled")
	err := fmt.Errorf("start: %w", models.Invalid("reader", "Counter 1 is switched off.").Because(rule))
	var ve *models.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, rule) || ve.Message() != "Counter 1 is switched off." {
		t.Errorf("wrapped refusal: As %v, Is %v", errors.As(err, &ve), errors.Is(err, rule))
	}

	_, perr := money.English.Parse("12.345", "EUR")
	err = models.InvalidAmount("amount", perr)
	var pe *money.ParseError
	if !errors.As(err, &ve) || !errors.As(err, &pe) || ve.Field() != "amount" || ve.Message() != pe.Message || pe.Message == "" {
		t.Errorf("InvalidAmount(%v) = %v: want a refusal of amount with the parse error's message, still a ParseError", perr, err)
	}
	other := errors.New("disk full")
	if got := models.InvalidAmount("amount", other); got != other {
		t.Errorf("InvalidAmount(other) = %v, want it unchanged", got)
	}
	if models.InvalidAmount("amount", nil) != nil {
		t.Error("InvalidAmount(nil) is not nil")
	}
}
