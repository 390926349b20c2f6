// Package static embeds the portal's CSS and vendored front-end files (htmx 2.0.11 and its
// websocket extension 2.0.4, from the npm registry), so the portal needs no CDN and no build
// step. Vendored file names carry their version, so they can be cached for a long time.
package static

import "embed"

// FS holds app.css, clock.js (the payment screens' live clocks) and vendor/.
//
//go:embed app.css clock.js vendor
var FS embed.FS
