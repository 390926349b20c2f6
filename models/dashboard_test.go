package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/example/mposportal/models"
)

// seed writes a final payment as the ledger would hold it.
func seed(t *testing.T, db *models.Transactions, at time.Time, zone *time.Location, kind models.TxKind, state models.TxState, minor int64,
	reader uint, staff uint, code string) {
	t.Helper()
	labels := map[uint]string{1: "Counter 1", 2: "Terrace"}
	names := map[uint]string{7: "Sam", 8: "Kim"}
	tx := models.Transaction{ClientOrderID: nextOrderID(), EndpointID: 1, ReaderID: reader, ReaderSerial: "SBX-000" + string(rune('0'+reader)),
		ReaderLabel: labels[reader], Kind: kind, AmountMinor: minor, Currency: "EUR", State: state, StartedByID: staff,
		StartedByName: names[staff], ErrorCode: code, BusinessDay: at.In(zone).Format("2006-01-02"), CreatedAt: at}
	if code == "51" {
		tx.ErrorMessage = "Insufficient funds"
	}
	if err := db.DB.Create(&tx).Error; err != nil {
		t.Fatal(err)
	}
}

// The start page's figures for a day: net takings (sales and captures less refunds), the
// average ticket, declines by reason, by reader, by staff member and by hour in the store's
// zone — here the day the clocks go back in Riga, which has 25 hours.
func TestFiguresOfADayAcrossTheClockChange(t *testing.T) {
	db := &models.Transactions{DB: openDB(t)}
	riga, _ := time.LoadLocation("Europe/Riga")
	local := func(h, m int) time.Time { return time.Date(2026, 10, 25, h, m, 0, 0, riga) }
	// 03:30 happens twice on 25 October 2026: first in EEST (00:30 UTC), then in EET (01:30 UTC).
	first330 := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)
	second330 := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)
	seed(t, db, local(0, 5), riga, models.KindSale, models.TxApproved, 1000, 1, 7, "")
	seed(t, db, first330, riga, models.KindSale, models.TxApproved, 2000, 1, 7, "")
	seed(t, db, second330, riga, models.KindSale, models.TxApproved, 3000, 2, 8, "")
	seed(t, db, local(12, 0), riga, models.KindCapture, models.TxApproved, 4000, 2, 8, "")
	seed(t, db, local(12, 1), riga, models.KindPreauth, models.TxApproved, 9999, 2, 8, "") // a hold is not takings
	seed(t, db, local(13, 0), riga, models.KindRefund, models.TxApproved, 500, 1, 7, "")
	seed(t, db, local(13, 5), riga, models.KindRefund, models.TxDeclined, 700, 1, 7, "05") // a refused refund moves nothing
	seed(t, db, local(14, 0), riga, models.KindSale, models.TxDeclined, 1500, 1, 7, "51")
	seed(t, db, local(14, 1), riga, models.KindSale, models.TxDeclined, 1500, 2, 8, "51")
	seed(t, db, local(15, 0), riga, models.KindSale, models.TxDeclined, 100, 2, 8, "05")
	seed(t, db, local(16, 0), riga, models.KindSale, models.TxError, 100, 2, 8, "")
	seed(t, db, local(23, 59), riga, models.KindSale, models.TxApproved, 600, 2, 7, "")
	seed(t, db, local(23, 59).Add(2*time.Minute), riga, models.KindSale, models.TxApproved, 99999, 1, 7, "") // the next day

	f, err := db.Figures(context.Background(), models.FigureQuery{Day: "2026-10-25", Zone: riga, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Payments != 5 || f.TakenMinor != 10600 || f.Refunds != 1 || f.RefundsMinor != 500 || f.NetMinor() != 10100 || f.Declines != 3 {
		t.Errorf("takings = %+v, net %d", f.Takings, f.NetMinor())
	}
	if f.AverageMinor() != 2120 {
		t.Errorf("average ticket %d, want 2120", f.AverageMinor())
	}
	if len(f.ByHour) != 25 {
		t.Fatalf("the day the clocks go back has %d hours, want 25", len(f.ByHour))
	}
	// Hours in order: 00, 01, 02, 03 (EEST), 03 (EET), 04, … 23.
	if f.ByHour[0].NetMinor != 1000 || f.ByHour[3].NetMinor != 2000 || f.ByHour[4].NetMinor != 3000 ||
		f.ByHour[3].Start.In(riga).Format("15 MST") != "03 EEST" || f.ByHour[4].Start.In(riga).Format("15 MST") != "03 EET" {
		t.Errorf("hours 0-4: %+v", f.ByHour[:5])
	}
	if f.ByHour[13].NetMinor != 4000 || f.ByHour[14].NetMinor != -500 || f.ByHour[24].NetMinor != 600 {
		t.Errorf("12:00 capture, 13:00 refund, 23:59 sale: %d %d %d", f.ByHour[13].NetMinor, f.ByHour[14].NetMinor, f.ByHour[24].NetMinor)
	}
	if len(f.ByReader) != 2 || f.ByReader[0].Label != "Terrace (SBX-0002)" || f.ByReader[0].NetMinor() != 7600 || f.ByReader[1].NetMinor() != 2500 {
		t.Errorf("by reader: %+v", f.ByReader)
	}
	if len(f.ByStaff) != 2 || f.ByStaff[0].Label != "Kim" || f.ByStaff[0].NetMinor() != 7000 || f.ByStaff[1].NetMinor() != 3100 || f.ByStaff[1].Declines != 1 {
		t.Errorf("by staff: %+v", f.ByStaff)
	}
	if len(f.Declined) != 2 || f.Declined[0].Label != "Insufficient funds (code 51)" || f.Declined[0].Declines != 2 || f.Declined[1].Label != "Code 05" {
		t.Errorf("declines by reason: %+v", f.Declined)
	}

	// One staff member's own figures.
	mine, err := db.Figures(context.Background(), models.FigureQuery{Day: "2026-10-25", Zone: riga, Currency: "EUR", StaffID: 7})
	if err != nil {
		t.Fatal(err)
	}
	if mine.Payments != 3 || mine.NetMinor() != 3100 || mine.Declines != 1 || len(mine.ByStaff) != 1 {
		t.Errorf("Sam's figures: %+v", mine.Takings)
	}
	// The day the clocks go forward has 23 hours.
	spring, err := db.Figures(context.Background(), models.FigureQuery{Day: "2026-03-29", Zone: riga, Currency: "EUR"})
	if err != nil || len(spring.ByHour) != 23 || spring.Payments != 0 {
		t.Errorf("29 March: %d hours, %+v, %v", len(spring.ByHour), spring.Takings, err)
	}
}
