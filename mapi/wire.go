package mapi

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
)

// Pair is one key/value of a gateway response, in the order it is written.
type Pair struct{ Key, Value string }

// PercentEncode encodes s per RFC 3986: the unreserved characters A-Z a-z 0-9 - . _ ~ stay,
// every other byte becomes %XX with upper-case hex. Unlike form encoding, space is %20, never
// +: the public reader SDK does not decode + (Decision 2), and OAuth signatures need exactly
// this form (§2.2).
func PercentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// EncodeResponse writes gateway response bytes (§1.1): key=value pairs, every value followed by
// a line feed, pairs joined with "&" — so the line feed sits before the "&". Public clients
// form-parse the body and trim each value, which is why the odd layout still parses.
func EncodeResponse(pairs []Pair) []byte {
	var b bytes.Buffer
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(PercentEncode(p.Key))
		b.WriteByte('=')
		b.WriteString(PercentEncode(p.Value))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ParseResponse reads gateway response bytes the way the known clients do: form-parse, then
// trim surrounding white space (the trailing line feed) from every value and key.
func ParseResponse(body []byte) (url.Values, error) {
	raw, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("mapi: malformed response: %w", err)
	}
	out := make(url.Values, len(raw))
	for k, vs := range raw {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		for _, v := range vs {
			out[k] = append(out[k], strings.TrimSpace(v))
		}
	}
	return out, nil
}
