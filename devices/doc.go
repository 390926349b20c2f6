// Package devices is the fleet of card readers: registration by serial, pairing (a one-time
// code exchanged for a device credential), enabling, replacing and unpairing, presence
// (heartbeats, the sweep that marks silent readers offline), and the device channel, the
// messages a reader and the portal exchange over its websocket (ParseReaderMessage, Link).
//
// It knows nothing of payments or Close Day: a payment uses a reader through what this
// package exports (PaymentReader, Link.Send, the reader messages), and a reader that goes
// away ends the payment waiting on it through an interface declared here (WaitingEnder).
// devices/virtual holds the virtual readers of the sandbox and the tests.
package devices
