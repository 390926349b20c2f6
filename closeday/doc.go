// Package closeday runs Close Day, the end of a business day with the bank: one close per
// trigger (a person's click, the endpoint's schedule, a catch-up after downtime), sent to the
// gateway with an idempotent request id and retried with the same id when its outcome is
// unknown, while the counter on that endpoint stays closed. Before it sends, a close makes
// our books the gateway's truth (the sweep); afterwards it keeps its totals and members only
// if the gateway confirms, and explains any difference payment by payment.
//
// A close is its own concept with its own life (triggers, retries, gate locks,
// reconciliation), apart from the payments it counts. It reads payments through
// models.CloseDays and asks for their status only through Sweeper, an interface declared
// here and implemented by payments.Service, so it imports neither payments nor devices.
package closeday
