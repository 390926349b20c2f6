package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/devices/virtual"
	"github.com/example/mposportal/mapi/sandbox"
)

// runReader is `portal reader`: a virtual reader a person drives. It pairs one of the
// sandbox's test readers (its keys come from the sandbox's state in the data directory) with
// the pairing code the portal showed, stays connected over the device channel, and answers
// every "present card" with the chosen test card after a pause, as the demo readers do.
//
//	go run . reader -serial SBX-0004 -code 123456 -portal http://127.0.0.1:8080 -card mastercard
func runReader(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("reader", flag.ContinueOnError)
	fs.SetOutput(stdout)
	serial := fs.String("serial", "", "the test reader's serial, e.g. SBX-0004 (required)")
	code := fs.String("code", "", "the pairing code the portal shows for the reader (required)")
	portalURL := fs.String("portal", "http://127.0.0.1:8080", "the portal's address")
	dataDir := fs.String("data", "data", "the portal's data directory (the sandbox's keys are in sandbox.db)")
	cardID := fs.String("card", "visa", "test card to present: "+strings.Join(cardIDs(), ", "))
	entry := fs.String("entry", "contactless", "entry mode: contactless, chip, swipe or fallback_swipe")
	tap := fs.Duration("tap-delay", 2*time.Second, "how long the customer takes to present the card")
	if err := fs.Parse(args); err != nil {
		return err
	}
	norm, err := devices.NormalizeSerial(*serial)
	switch {
	case err != nil:
		return fmt.Errorf("reader: -serial: %w", err)
	case strings.TrimSpace(*code) == "":
		return errors.New("reader: -code is required: register the reader under Readers and use the pairing code shown there")
	}
	card, ok := virtual.CardByID(*cardID)
	if !ok {
		return fmt.Errorf("reader: unknown -card %q (one of %s)", *cardID, strings.Join(cardIDs(), ", "))
	}
	mode := virtual.EntryMode(*entry)
	switch mode {
	case virtual.Contactless, virtual.Chip, virtual.Swipe, virtual.FallbackSwipe:
	default:
		return fmt.Errorf("reader: unknown -entry %q", *entry)
	}
	tr, err := sandbox.LoadTestReader(filepath.Join(*dataDir, "sandbox.db"), norm)
	if err != nil {
		return fmt.Errorf("reader: %w (is %s one of the sandbox's test readers, and -data the portal's data directory?)", err, norm)
	}
	log := slog.New(slog.NewTextHandler(stdout, nil))
	a := &virtual.Agent{Reader: virtual.New(tr.Serial, "2.1.0", tr.IPEK(), tr.IKSN), PortalURL: *portalURL, TapDelay: *tap, Log: log}
	a.PresentNext(card, mode)
	if err := a.Pair(ctx, strings.TrimSpace(*code)); err != nil {
		return fmt.Errorf("reader: %w", err)
	}
	log.Info("virtual reader paired and connecting", "serial", norm, "portal", *portalURL, "card", card.Label, "entry", string(mode))
	return a.Run(ctx)
}

func cardIDs() []string {
	var ids []string
	for _, c := range virtual.Catalogue() {
		ids = append(ids, c.ID)
	}
	return ids
}
