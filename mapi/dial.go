package mapi

import (
	"net"
	"time"
)

// netDialer bounds connection set-up to 10 s (§9).
var netDialer = net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
