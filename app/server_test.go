package app

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The portal's server cuts off a client that trickles its body, but a websocket whose handler
// keeps its own deadlines (as the live hub and the device channel do) outlives the timeouts.
func TestServerTimeoutsCutSlowClientsNotWebsockets(t *testing.T) {
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "read it all")
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			c.SetReadDeadline(time.Now().Add(time.Second)) // as the hub does after the upgrade
			_, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.WriteMessage(websocket.TextMessage, m)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := portalServer(mux, serverTimeouts{header: 200 * time.Millisecond, read: 300 * time.Millisecond, write: 300 * time.Millisecond, idle: time.Second})
	go srv.Serve(ln)
	defer srv.Close()

	// A body at a byte every 100 ms: the connection is closed long before it is done.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
	began := time.Now()
	cut := false
	for range 100 {
		if _, err := conn.Write([]byte("x")); err != nil {
			cut = true
			break
		}
		time.Sleep(100 * time.Millisecond)
		conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := bufio.NewReader(conn).ReadByte(); err != nil && !isTimeout(err) {
			cut = true
			break
		}
	}
	if !cut || time.Since(began) > 3*time.Second {
		t.Errorf("a trickled body was read for %s (cut: %v)", time.Since(began), cut)
	}

	// A websocket exchanging messages for 3 s, ten times the read timeout.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for i := range 15 {
		msg := fmt.Sprint("ping ", i)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatalf("websocket write after %d: %v", i, err)
		}
		ws.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, m, err := ws.ReadMessage(); err != nil || string(m) != msg {
			t.Fatalf("websocket echo %d: %q %v", i, m, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if h := srv.MaxHeaderBytes; h != 64<<10 || !strings.Contains(fmt.Sprint(srv.ReadTimeout), "300ms") {
		t.Errorf("server limits: %d, %s", h, srv.ReadTimeout)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
