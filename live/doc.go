// Package live is what changed and who should see it: a typed Change that the domain
// announces through one Notifier, and the Topics a screen subscribes to. Rendering belongs to
// the web layer, which implements Notifier; the domain packages (payments, closeday, devices)
// import this package for the interface and nothing else, so it imports nothing of the portal
// (standard library only).
//
// The path of a change to a screen: a domain service commits a change and calls
// Notifier.Changed(Change{Kind: Payment, ID: 42}). With one instance the notifier is web's
// renderer, which queues the change (Queue: the caller never waits for screens, and a burst
// of changes to one row is rendered once) and renders it for the Topics that show it. With
// several instances on one PostgreSQL database the notifier is a Fanout, which sends the change
// to every instance (itself included) through PostgreSQL NOTIFY; each hands what it hears to
// its own renderer.
package live
