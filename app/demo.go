package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/example/mposportal/closeday"
	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/dukpt"
	"github.com/example/mposportal/mapi"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/payments"
)

// demoReaders are registered and paired on the embedded sandbox's first test readers, so a
// newcomer can take a payment at once.
var demoReaders = []struct{ serial, label string }{
	{"SBX-0001", "Counter 1"}, {"SBX-0002", "Counter 2"}, {"SBX-0003", "Bar"},
}

// demoActor is who the audit log says set the demo readers up.
var demoActor = models.Actor{Name: "demo"}

// startDemoReaders registers the demo readers (once), pairs them afresh and connects their
// virtual companion apps to the portal over the device channel, exactly as real readers do.
func startDemoReaders(ctx context.Context, wg *sync.WaitGroup, sb *runningSandbox, readers *devices.Readers,
	store *models.Readers, endpoints *models.Endpoints, portalURL string, logger *slog.Logger) error {
	eps, err := endpoints.List(ctx)
	if err != nil || len(eps) == 0 {
		return fmt.Errorf("no gateway endpoint for the demo readers: %v", err)
	}
	keys := map[string]virtualKey{}
	for _, tr := range sb.gw.TestReaders() {
		keys[tr.Serial] = virtualKey{ipek: tr.IPEK(), iksn: tr.IKSN}
	}
	log := logger.With("component", "demo-readers")
	for _, d := range demoReaders {
		k, ok := keys[d.serial]
		if !ok {
			continue
		}
		r, err := store.BySerial(ctx, d.serial)
		if errors.Is(err, models.ErrNotFound) {
			r, _, err = readers.Register(ctx, devices.RegisterInput{Serial: d.serial, Label: d.label, Location: "Demo store", EndpointID: eps[0].ID, Actor: demoActor})
		}
		if err != nil {
			return err
		}
		if r.Retired || !r.Enabled {
			continue // an admin took it out of service
		}
		_, code, err := readers.NewPairingCode(ctx, r.ID, demoActor)
		if err != nil {
			return err
		}
		agent := &virtual.Agent{Reader: virtual.New(d.serial, "2.1.0", k.ipek, k.iksn), PortalURL: portalURL, Log: log}
		if err := agent.Pair(ctx, code); err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := agent.Run(ctx); err != nil {
				log.Warn("virtual reader stopped", "serial", d.serial, "error", err)
			}
		}()
	}
	log.Info("demo readers connected", "count", len(demoReaders))
	return nil
}

// gatewayClients builds a MAPI client per endpoint from its stored settings (payments.Gateways).
type gatewayClients struct {
	endpoints    *models.Endpoints
	http         *http.Client
	callbackBase string // + endpoint row id
	userAgent    string
}

func (g *gatewayClients) Gateway(ctx context.Context, id uint) (payments.Gateway, payments.Merchant, error) {
	e, err := g.endpoints.ByID(ctx, id)
	if err != nil {
		return nil, payments.Merchant{}, err
	}
	c := mapi.NewClient(mapi.Endpoint{BaseURL: e.BaseURL, EndpointID: e.EndpointID, Login: e.Login, ControlKey: e.ControlKey, Currency: e.Currency}, g.http,
		mapi.WithUserAgent(g.userAgent))
	return c, payments.Merchant{Name: e.Name, Disabled: !e.Enabled, Currency: e.Currency, Money: e.Money(), Address1: e.Address1, City: e.City, ZipCode: e.ZipCode,
		Country: e.Country, Email: e.Email, CallbackURL: g.callbackBase + strconv.FormatUint(uint64(e.ID), 10), TimeZone: e.TimeZone,
		RefundApprovalMinor: e.RefundApprovalMinor, ConfirmAboveMinor: e.ConfirmAboveMinor}, nil
}

type virtualKey struct {
	ipek []byte
	iksn dukpt.KSN
}

// CloseGateway is the MAPI client for Close Day on an endpoint (closeday.Gateways).
func (g *gatewayClients) CloseGateway(ctx context.Context, id uint) (closeday.Gateway, error) {
	gw, _, err := g.Gateway(ctx, id)
	if err != nil {
		return nil, err
	}
	return gw.(*mapi.Client), nil
}

// schedules lists the endpoints' automatic closes.
func schedules(endpoints *models.Endpoints) func(ctx context.Context) ([]closeday.Schedule, error) {
	return func(ctx context.Context) ([]closeday.Schedule, error) {
		eps, err := endpoints.List(ctx)
		if err != nil {
			return nil, err
		}
		var out []closeday.Schedule
		for _, e := range eps {
			if e.Enabled && e.CloseTime != "" {
				since := e.CreatedAt
				if e.ScheduleSince != nil {
					since = *e.ScheduleSince
				}
				out = append(out, closeday.Schedule{EndpointID: e.ID, CloseTime: e.CloseTime, TimeZone: e.TimeZone, Since: since})
			}
		}
		return out, nil
	}
}

// instanceName tells this portal process apart from others on the same database, in the
// gateway's logs (User-Agent) and ours.
func instanceName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("mposportal (%s/%d)", host, os.Getpid())
}

// gatewayHTTPClient is the one HTTP client for every gateway request: its pool keeps enough
// idle connections for the status poller's concurrent requests (the default keeps two per
// host, so a busy poller would open and close a connection per request).
func gatewayHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}}
}
