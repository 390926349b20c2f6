package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/example/mposportal/mapi/sandbox"
	"github.com/example/mposportal/models"
)

// startSandbox runs the embedded sandbox gateway on its own port, so the portal talks to it
// over real HTTP exactly as it would to the real gateway.
// runningSandbox is the started sandbox and the URL clients reach it at.
type runningSandbox struct {
	gw  *sandbox.Gateway
	url string
}

func startSandbox(ctx context.Context, wg *sync.WaitGroup, cfg Config, logger *slog.Logger) (*runningSandbox, error) {
	ln, err := net.Listen("tcp", cfg.SandboxAddr)
	if err != nil {
		return nil, fmt.Errorf("sandbox listen: %w", err)
	}
	publicURL := cfg.SandboxPublicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	log := logger.With("component", "sandbox")
	gw, err := sandbox.Open(sandbox.Config{Path: filepath.Join(cfg.DataDir, "sandbox.db"), PublicURL: publicURL, Logger: log,
		AnyCallbackPort: cfg.SandboxAnyCallbackPort})
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: gw.Handler(), ReadHeaderTimeout: 10 * time.Second}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("sandbox server", "error", err)
		}
	}()
	go func() {
		defer wg.Done()
		gw.Run(ctx)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()
	m := gw.Merchant()
	credFile := filepath.Join(cfg.DataDir, "sandbox-credentials.txt")
	if err := writeSandboxCredentials(credFile, publicURL, m); err != nil {
		gw.Close()
		return nil, err
	}
	var serials []string
	for _, r := range gw.TestReaders() {
		serials = append(serials, r.Serial)
	}
	// The control key is a secret even in the sandbox: logs show a mask, the file has it whole.
	log.Info("sandbox gateway listening", "url", publicURL, "endpoint", m.EndpointID, "login", m.Login,
		"control_key", models.MaskSecret(m.ControlKey), "credentials_file", credFile, "test_readers", serials)
	return &runningSandbox{gw: gw, url: publicURL}, nil
}

// writeSandboxCredentials writes the sandbox merchant's credentials for a person trying the
// API by hand (README: "Try the sandbox with curl"), readable by the owner only.
func writeSandboxCredentials(path, baseURL string, m sandbox.Merchant) error {
	body := fmt.Sprintf("# Embedded sandbox gateway credentials (test only)\nBASE_URL=%s\nENDPOINT_ID=%s\nLOGIN=%s\nCONTROL_KEY=%s\nCURRENCY=%s\n",
		baseURL, m.EndpointID, m.Login, m.ControlKey, m.Currency)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return fmt.Errorf("sandbox credentials: %w", err)
	}
	return nil
}
