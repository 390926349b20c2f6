// Package payments takes card-present payments and the money after them: it starts a sale or
// a preauth on a reader, sends the reader's encrypted card read to the gateway, learns the
// outcome from the gateway's callback or by asking (status checks, the watchdogs of a dead
// process, the "needs review" queue), and runs captures, releases and refunds of a payment,
// with a second person's approval where the endpoint asks for one.
//
// A payment is one concept from the counter to the bank's final word, so its rules live
// here together: whatever the route (a person at the counter, a callback, the poller, a
// close's sweep), every change goes through models.Transactions.Apply, the one idempotent
// state machine. The package uses the fleet (devices: the reader a payment runs on and the
// device channel to it) and never the other way round; Close Day asks it to settle payments
// through an interface of its own (closeday.Sweeper).
package payments
