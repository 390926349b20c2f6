package mapi

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OAuth holds the OAuth 1.0 protocol values of one request (two-legged: no token).
type OAuth struct {
	ConsumerKey     string // the merchant login
	Nonce           string
	Timestamp       string // Unix seconds
	SignatureMethod string // always HMAC-SHA1
	Version         string // always 1.0
	Signature       string // base64, not percent-encoded
}

// ErrBadSignature is wrapped by VerifyRequest errors: the request must be answered with 403.
var ErrBadSignature = errors.New("oauth: bad signature")

// Header renders the Authorization header value exactly as §2.2 step 8 shows it.
func (o OAuth) Header() string {
	return fmt.Sprintf(`OAuth realm="",oauth_version="%s",oauth_consumer_key="%s",oauth_timestamp="%s",oauth_nonce="%s",oauth_signature_method="%s",oauth_signature="%s"`,
		PercentEncode(o.Version), PercentEncode(o.ConsumerKey), PercentEncode(o.Timestamp),
		PercentEncode(o.Nonce), PercentEncode(o.SignatureMethod), PercentEncode(o.Signature))
}

// ParseOAuthHeader reads an "Authorization: OAuth …" header value.
func ParseOAuthHeader(h string) (OAuth, error) {
	var o OAuth
	rest, ok := strings.CutPrefix(strings.TrimSpace(h), "OAuth ")
	if !ok {
		return o, fmt.Errorf("%w: not an OAuth authorization header", ErrBadSignature)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, quoted, ok := strings.Cut(part, "=")
		if !ok || len(quoted) < 2 || quoted[0] != '"' || quoted[len(quoted)-1] != '"' {
			return o, fmt.Errorf("%w: malformed header parameter %q", ErrBadSignature, name)
		}
		val, err := url.PathUnescape(quoted[1 : len(quoted)-1])
		if err != nil {
			return o, fmt.Errorf("%w: header parameter %s: %v", ErrBadSignature, name, err)
		}
		if seen[name] {
			return o, fmt.Errorf("%w: header parameter %s repeated", ErrBadSignature, name)
		}
		seen[name] = true
		switch name {
		case "realm":
		case "oauth_consumer_key":
			o.ConsumerKey = val
		case "oauth_nonce":
			o.Nonce = val
		case "oauth_timestamp":
			o.Timestamp = val
		case "oauth_signature_method":
			o.SignatureMethod = val
		case "oauth_version":
			o.Version = val
		case "oauth_signature":
			o.Signature = val
		default:
			return o, fmt.Errorf("%w: unexpected header parameter %s", ErrBadSignature, name)
		}
	}
	if o.ConsumerKey == "" || o.Nonce == "" || o.Timestamp == "" || o.SignatureMethod == "" || o.Signature == "" {
		return o, fmt.Errorf("%w: header lacks a required oauth parameter", ErrBadSignature)
	}
	return o, nil
}

// normalizedParams is §2.2 steps 2–4: encode every name and value per RFC 3986, sort by name
// then value (byte-wise), join name=value with "&". oauth_signature is never part of it.
func normalizedParams(params url.Values) string {
	type kv struct{ k, v string }
	var all []kv
	for k, vs := range params {
		if k == "oauth_signature" {
			continue
		}
		for _, v := range vs {
			all = append(all, kv{PercentEncode(k), PercentEncode(v)})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].k != all[j].k {
			return all[i].k < all[j].k
		}
		return all[i].v < all[j].v
	})
	var b strings.Builder
	for i, p := range all {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// baseURL is the request URL as signed: scheme and host lower-case, default port dropped, no
// query or fragment.
func baseURL(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("mapi: bad request URL %q", rawURL)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host += ":" + port
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal without a port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}

// BaseString is the OAuth signature base string (§2.2 step 5):
// METHOD & enc(URL) & enc(normalized parameters). Values end up encoded twice; that is the
// standard, and the worked examples in the spec show it.
func BaseString(method, rawURL string, params url.Values) (string, error) {
	u, err := baseURL(rawURL)
	if err != nil {
		return "", err
	}
	return strings.ToUpper(method) + "&" + PercentEncode(u) + "&" + PercentEncode(normalizedParams(params)), nil
}

// HMACSHA1Signature signs a base string with the merchant control key. The HMAC key is
// enc(key) + "&": the token secret is empty, and the login is not part of the key (§2.2 step 6).
func HMACSHA1Signature(baseString, key string) string {
	m := hmac.New(sha1.New, []byte(PercentEncode(key)+"&"))
	m.Write([]byte(baseString))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignRequest adds the five OAuth values to params — the gateway wants them in the body as
// well as in the header — and returns them with the signature for the Authorization header.
func SignRequest(method, rawURL string, params url.Values, login, key, nonce string, ts time.Time) (OAuth, error) {
	o := OAuth{ConsumerKey: login, Nonce: nonce, Timestamp: strconv.FormatInt(ts.Unix(), 10),
		SignatureMethod: "HMAC-SHA1", Version: "1.0"}
	params.Set("oauth_consumer_key", o.ConsumerKey)
	params.Set("oauth_nonce", o.Nonce)
	params.Set("oauth_signature_method", o.SignatureMethod)
	params.Set("oauth_timestamp", o.Timestamp)
	params.Set("oauth_version", o.Version)
	params.Del("oauth_signature")
	base, err := BaseString(method, rawURL, params)
	if err != nil {
		return o, err
	}
	o.Signature = HMACSHA1Signature(base, key)
	return o, nil
}

// VerifyRequest checks a received request's OAuth signature: the header parses, the method is
// HMAC-SHA1 and the version 1.0, the body repeats the header's OAuth values, and the signature
// over the body matches. It leaves gateway policy — timestamp window, nonce replay, which
// login may use which endpoint — to the caller. publicURL is the URL as the client saw it
// (behind a proxy, not what Host says).
func VerifyRequest(method, publicURL, authorizationHeader string, form url.Values, key string) (OAuth, error) {
	o, err := ParseOAuthHeader(authorizationHeader)
	if err != nil {
		return o, err
	}
	if o.SignatureMethod != "HMAC-SHA1" {
		return o, fmt.Errorf("%w: signature method %q", ErrBadSignature, o.SignatureMethod)
	}
	if o.Version != "" && o.Version != "1.0" {
		return o, fmt.Errorf("%w: version %q", ErrBadSignature, o.Version)
	}
	for name, want := range map[string]string{"oauth_consumer_key": o.ConsumerKey, "oauth_nonce": o.Nonce,
		"oauth_timestamp": o.Timestamp, "oauth_signature_method": o.SignatureMethod, "oauth_version": o.Version} {
		if got := form[name]; len(got) > 1 || len(got) == 1 && got[0] != want || len(got) == 0 && want != "" && name != "oauth_version" {
			return o, fmt.Errorf("%w: body %s differs from the header", ErrBadSignature, name)
		}
	}
	if _, err := strconv.ParseInt(o.Timestamp, 10, 64); err != nil {
		return o, fmt.Errorf("%w: timestamp %q", ErrBadSignature, o.Timestamp)
	}
	base, err := BaseString(method, publicURL, form)
	if err != nil {
		return o, err
	}
	want := HMACSHA1Signature(base, key)
	if subtle.ConstantTimeCompare([]byte(want), []byte(o.Signature)) != 1 {
		return o, fmt.Errorf("%w: signature does not match", ErrBadSignature)
	}
	return o, nil
}
