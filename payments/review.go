package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/example/mposportal/models"
)

// The "needs attention" work queue: payments in needs review (no final status from the
// gateway after the polling deadline) and final payments flagged for a person (a late
// approval, a status the gateway changed). A person re-checks them with the gateway,
// acknowledges a flag, or resolves a payment the gateway cannot tell us about.

// ErrResolutionProposed is returned when a resolution that changes money was recorded and
// now waits for a second person's approval.
var ErrResolutionProposed = errors.New("resolution proposed: a second person must approve it")

func reviewReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case len(reason) < 3:
		return "", models.Invalid("reason", "Give a reason (what you checked, with whom).")
	case len(reason) > 200:
		return "", models.Invalid("reason", "Keep the reason under 200 characters.")
	}
	return reason, nil
}

// Resolve settles a payment in needs review by hand, with a reason. "Not charged" (failed)
// takes effect at once. "Approved" books money, so it takes two people: the first call
// records the proposal (ErrResolutionProposed), and a different person's call with the same
// outcome applies it.
func (p *Service) Resolve(ctx context.Context, id uint, to models.TxState, reason string, actor Actor) (models.Transaction, error) {
	reason, err := reviewReason(reason)
	if err != nil {
		return models.Transaction{}, err
	}
	if to != models.TxApproved && to != models.TxFailed {
		return models.Transaction{}, models.Invalid("to", "Choose whether the customer was charged.")
	}
	u := models.TxUpdate{Source: "user", State: to, ClearReview: true, OnlyFrom: []models.TxState{models.TxNeedsReview},
		Check: func(t models.Transaction) error {
			if t.State != models.TxNeedsReview {
				return models.Invalid("", "This payment no longer needs a resolution: it is "+string(t.State)+".")
			}
			return nil
		}}
	if to == models.TxFailed {
		u.ErrorMessage = "resolved as not charged: " + reason
		u.Detail = fmt.Sprintf("resolved as not charged by %s: %s", actor.Name, reason)
	}
	if to == models.TxApproved {
		t, err := p.Tx.ByID(ctx, id)
		if err != nil {
			return t, err
		}
		if t.ResolveTo != models.TxApproved || t.ResolveByID == 0 {
			res, err := p.apply(ctx, id, models.TxUpdate{Source: "user", Review: models.ReviewResolution,
				ReviewNote: fmt.Sprintf("%s proposes: the customer was charged (%s); a second person must approve", actor.Name, reason),
				Check:      u.Check, Detail: fmt.Sprintf("%s proposes to resolve as approved: %s", actor.Name, reason),
				Propose: &models.Resolution{To: models.TxApproved, ByID: actor.ID, ByName: actor.Name, Reason: reason}})
			if err != nil {
				return res.Tx, err
			}
			p.audit(ctx, actor, "payment.resolve_proposed", res.Tx.ClientOrderID, "charged: "+res.Tx.ResolveReason)
			return res.Tx, ErrResolutionProposed
		}
		if t.ResolveByID == actor.ID {
			return t, models.Invalid("", "You proposed this resolution: another manager or admin must approve it.")
		}
		u.Detail = fmt.Sprintf("resolved as approved by %s, proposed by %s (%s): %s", actor.Name, t.ResolveByName, t.ResolveReason, reason)
	}
	res, err := p.apply(ctx, id, u)
	switch {
	case err != nil:
	case !res.Changed:
		err = models.Invalid("", "This payment no longer needs a resolution.")
	default:
		p.audit(ctx, actor, "payment.resolve", res.Tx.ClientOrderID, fmt.Sprintf("resolved as %s: %s", res.Tx.State, reason))
	}
	return res.Tx, err
}

// Acknowledge clears the flag on a final payment (a late approval, a changed status) once a
// person has dealt with it, with a note of what was done.
func (p *Service) Acknowledge(ctx context.Context, id uint, note string, actor Actor) (models.Transaction, error) {
	note, err := reviewReason(note)
	if err != nil {
		return models.Transaction{}, err
	}
	res, err := p.apply(ctx, id, models.TxUpdate{Source: "user", ClearReview: true,
		Check: func(t models.Transaction) error {
			switch {
			case t.Review == "":
				return models.Invalid("", "This payment is not flagged.")
			case !t.State.Final():
				return models.Invalid("", "Resolve this payment first: its outcome is not known.")
			case t.Review == models.ReviewConfirm:
				return models.Invalid("", "The gateway is still being asked about this payment: re-check it first.")
			}
			return nil
		},
		Detail: fmt.Sprintf("flag cleared by %s: %s", actor.Name, note)})
	if err == nil {
		p.audit(ctx, actor, "payment.acknowledge", res.Tx.ClientOrderID, note)
	}
	return res.Tx, err
}
