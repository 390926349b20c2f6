package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// AuditEvent records one state change: who, what, when, from where. Detail is plain text
// written by the caller, never a secret or card data.
type AuditEvent struct {
	ID        uint      `gorm:"primaryKey"`
	At        time.Time `gorm:"index;not null"`
	ActorID   uint      `gorm:"index"`
	ActorName string    `gorm:"size:64;index"`
	Action    string    `gorm:"size:64;index;not null"` // e.g. user.create, endpoint.update
	Subject   string    `gorm:"size:128"`
	Detail    string    `gorm:"size:1024"`
	RemoteIP  string    `gorm:"size:64"`
}

// Actor is who did something, as the audit log names them: a person (their user id and
// username, and the address their request came from) or the portal itself, by name and
// without an id (ActorSystem, ActorSchedule, "gateway"). The domain takes the actor with the
// action and writes the audit entry itself, so an action is audited whoever does it: a person
// on a page, a job, a schedule.
type Actor struct {
	ID   uint
	Name string
	IP   string // where a person's request came from; "" for the portal's own jobs
}

// The portal's own actors.
var (
	ActorSystem   = Actor{Name: "system"}   // a rule applied by a job (a stale preauth released)
	ActorSchedule = Actor{Name: "schedule"} // something the store scheduled (a daily close, a backup)
)

// Event is the audit event of a's doing action on subject.
func (a Actor) Event(action, subject, detail string) AuditEvent {
	return AuditEvent{ActorID: a.ID, ActorName: a.Name, RemoteIP: a.IP, Action: action, Subject: subject, Detail: detail}
}

// Audit holds the audit log.
type Audit struct {
	DB  *gorm.DB
	Now func() time.Time
}

// Record appends an event.
func (a *Audit) Record(ctx context.Context, e AuditEvent) error {
	at := time.Now()
	if a.Now != nil {
		at = a.Now()
	}
	return recordIn(a.DB.WithContext(ctx), e, at)
}

// recordIn appends e to the audit log through db. A store passes the transaction of the
// change e records, so that the change and its entry are committed together or not at all.
func recordIn(db *gorm.DB, e AuditEvent, at time.Time) error {
	e.At = at.UTC()
	// Names and details can come from what a visitor typed (a username at sign-in): each is cut
	// to its column's size.
	e.ActorName, e.Action, e.Subject = clip(e.ActorName, 64), clip(e.Action, 64), clip(e.Subject, 128)
	e.Detail, e.RemoteIP = clip(e.Detail, 1024), clip(e.RemoteIP, 64)
	if err := db.Create(&e).Error; err != nil {
		return fmt.Errorf("models: audit %s: %w", e.Action, err)
	}
	return nil
}

// AuditFilter narrows the audit log. Zero fields do not filter. BeforeID pages backwards.
type AuditFilter struct {
	Action   string // exact action, or a prefix ending in "." (e.g. "user.")
	Actor    string
	From, To time.Time
	BeforeID uint
	Limit    int
}

// List returns events newest first.
func (a *Audit) List(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	q := a.filtered(ctx, f).Order("id DESC")
	if f.BeforeID > 0 {
		q = q.Where("id < ?", f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var evs []AuditEvent
	if err := q.Limit(limit).Find(&evs).Error; err != nil {
		return nil, fmt.Errorf("models: audit list: %w", err)
	}
	return evs, nil
}

// ListPage returns page p of the events f keeps, newest first (f's BeforeID and Limit are not
// used: p says where).
func (a *Audit) ListPage(ctx context.Context, f AuditFilter, p Page) ([]AuditEvent, Paged, error) {
	evs, pg, err := paginate(a.filtered(ctx, f), p, func(e AuditEvent) uint { return e.ID })
	if err != nil {
		return nil, pg, fmt.Errorf("models: page of the audit log: %w", err)
	}
	return evs, pg, nil
}

// filtered is the events f keeps, in no order.
func (a *Audit) filtered(ctx context.Context, f AuditFilter) *gorm.DB {
	q := a.DB.WithContext(ctx)
	if f.Action != "" {
		if f.Action[len(f.Action)-1] == '.' {
			q = q.Where("action LIKE ?", f.Action+"%")
		} else {
			q = q.Where("action = ?", f.Action)
		}
	}
	if f.Actor != "" {
		q = q.Where("actor_name = ?", f.Actor)
	}
	if !f.From.IsZero() {
		q = q.Where("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("at < ?", f.To.UTC())
	}
	return q
}

// Actions lists the distinct actions recorded, for filters.
func (a *Audit) Actions(ctx context.Context) ([]string, error) {
	var out []string
	err := a.DB.WithContext(ctx).Model(&AuditEvent{}).Distinct("action").Order("action").Pluck("action", &out).Error
	return out, err
}
