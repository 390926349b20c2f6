// Package static embeds the portal's CSS and vendored front-end files (htmx 2.0.11 and its
// websocket extension 2.0.4, from the npm registry), so the portal needs no CDN and no build
// step. Vendored file names carry their version, so they can be cached for a long time.
package static

import "embed"

// FS holds app.css, app.js (the portal's own behaviour: no script is inline, so the
// Content-Security-Policy can forbid inline script) and vendor/.
//
//go:embed app.css app.js vendor
var FS embed.FS
