// Package mapi speaks the payment gateway's mPOS API (MAPI) and the auxiliary commands a
// card-present integration needs: sale and preauth with reader-encrypted card data, order
// status, close day, the server callback, and capture and return (money after the sale,
// through the gateway's regular API).
//
// It owns the wire protocol and nothing else: request and response encoding, OAuth 1.0
// HMAC-SHA1 signing and verification, the SHA-1 control checksums, and typed errors that let
// a caller tell a request the gateway refused (*ValidationError, *GatewayError, ErrForbidden)
// from one whose outcome is unknown (*TransportError: never resend a sale on it without asking
// for its status first). It knows nothing of the portal's database or web layer and uses only
// the standard library. The embedded sandbox gateway in mapi/sandbox is the other side of the
// same protocol. The specification is shared/mapi-protocol.md; docs/gateway-protocol.md says
// what the client sends, for pointing the portal at a real gateway.
package mapi
