package mapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Endpoint is one gateway endpoint and the merchant credentials for it.
type Endpoint struct {
	BaseURL    string // e.g. https://gate.example.com — scheme, host and optional prefix
	EndpointID string // ENDPOINTID, the only gateway object in URLs
	Login      string
	ControlKey string // merchant control key: signs requests, never sent, never logged
	// Currency is the endpoint's (one endpoint, one currency): Close Day's sums are written
	// and read in its minor units. "" reads as two decimals.
	Currency string
}

// Currency is the endpoint's currency.
func (c *Client) Currency() string { return c.ep.Currency }

// Paths are the API paths; the docs warn not to hard-code them (§1). Capture and Return are
// the regular API's money-after-the-sale commands (§13), not MAPI.
type Paths struct{ Sale, Preauth, Status, CloseDay, Capture, Return string }

// DefaultPaths returns the documented paths.
func DefaultPaths() Paths {
	return Paths{
		Sale:     "/paynet/mapi/v1/sale/",
		Preauth:  "/paynet/mapi/v1/preauth/",
		Status:   "/paynet/api/v2/status/",
		CloseDay: "/paynet/api/v2/close-day/",
		Capture:  "/paynet/api/v2/capture/",
		Return:   "/paynet/api/v2/return/",
	}
}

// Client calls one gateway endpoint. It is safe for concurrent use.
type Client struct {
	ep            Endpoint
	http          *http.Client
	paths         Paths
	now           func() time.Time
	nonce         func() string
	timeout       time.Duration // sale, preauth, close-day, capture, return
	statusTimeout time.Duration
	userAgent     string
}

// Option configures a Client.
type Option func(*Client)

// WithUserAgent names the caller in every request's User-Agent (e.g. which portal instance),
// for the gateway's logs and ours.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithPaths overrides the API paths.
func WithPaths(p Paths) Option { return func(c *Client) { c.paths = p } }

// WithClock sets the clock used for OAuth timestamps.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithNonce sets the OAuth nonce source (tests use fixed nonces to check replay protection).
func WithNonce(f func() string) Option { return func(c *Client) { c.nonce = f } }

// WithTimeouts sets the whole-request deadlines: MAPI, close-day, capture and return (default
// 60 s) and status (default 15 s) (§9). A shorter deadline on the caller's context still wins.
func WithTimeouts(request, status time.Duration) Option {
	return func(c *Client) { c.timeout, c.statusTimeout = request, status }
}

// NewClient returns a client for one endpoint. httpClient nil means a client with a 10 s
// connect timeout (§9); per-request deadlines come from contexts.
func NewClient(ep Endpoint, httpClient *http.Client, opts ...Option) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&netDialer).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	c := &Client{ep: ep, http: httpClient, paths: DefaultPaths(), now: time.Now, nonce: randomNonce,
		timeout: 60 * time.Second, statusTimeout: 15 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Endpoint returns the endpoint the client calls.
func (c *Client) Endpoint() Endpoint { return c.ep }

func randomNonce() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (c *Client) url(path string) string {
	return strings.TrimRight(c.ep.BaseURL, "/") + path + c.ep.EndpointID
}

// post sends a form and returns the parsed response body. It maps every way a request can go
// wrong onto the typed errors: 403 → ErrForbidden; no response, non-200, unreadable body →
// *TransportError; type=validation-error / type=error → *ValidationError / *GatewayError.
func (c *Client) post(ctx context.Context, op, rawURL string, form url.Values, auth string, timeout time.Duration) (url.Values, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("mapi: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &TransportError{Op: op, URL: rawURL, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &TransportError{Op: op, URL: rawURL, StatusCode: 0, Err: err}
	}
	switch {
	case resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("mapi: %s: %w", op, ErrForbidden)
	case resp.StatusCode != http.StatusOK:
		return nil, &TransportError{Op: op, URL: rawURL, StatusCode: resp.StatusCode, Err: fmt.Errorf("HTTP %d", resp.StatusCode)}
	}
	v, err := ParseResponse(body)
	// Close-day answers carry no type field (§5.2); every other answer does, and is checked
	// by its command.
	if err != nil || len(v) == 0 {
		return nil, &TransportError{Op: op, URL: rawURL, Err: fmt.Errorf("not a gateway response (%d bytes)", len(body))}
	}
	switch v.Get("type") {
	case "validation-error":
		return v, &ValidationError{Code: v.Get("error-code"), Message: v.Get("error-message"), SerialNumber: v.Get("serial-number"),
			MerchantOrderID: v.Get("merchant-order-id"), OrderID: v.Get("paynet-order-id")}
	case "error":
		return v, &GatewayError{Code: v.Get("error-code"), Message: v.Get("error-message"), SerialNumber: v.Get("serial-number"),
			MerchantOrderID: v.Get("merchant-order-id"), OrderID: v.Get("paynet-order-id")}
	}
	return v, nil
}

// signedPost signs form with OAuth (fresh nonce per call: a retry is a new request) and posts it.
func (c *Client) signedPost(ctx context.Context, op, rawURL string, form url.Values, timeout time.Duration) (url.Values, error) {
	o, err := SignRequest(http.MethodPost, rawURL, form, c.ep.Login, c.ep.ControlKey, c.nonce(), c.now())
	if err != nil {
		return nil, fmt.Errorf("mapi: %s: %w", op, err)
	}
	return c.post(ctx, op, rawURL, form, o.Header(), timeout)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
