package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/example/mposportal/devices"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// ReaderAdmin is what the reader pages need of the fleet service, which audits each action.
type ReaderAdmin interface {
	Register(ctx context.Context, in devices.RegisterInput) (models.Reader, string, error)
	NewPairingCode(ctx context.Context, id uint, by models.Actor) (models.Reader, string, error)
	SetEnabled(ctx context.Context, id uint, enabled bool, by models.Actor) (models.Reader, error)
	Unpair(ctx context.Context, id uint, by models.Actor) (models.Reader, error)
	Replace(ctx context.Context, id uint, newSerial string, by models.Actor) (models.Reader, string, error)
}

// ReaderReads reads readers for the reader pages.
type ReaderReads interface {
	ByID(ctx context.Context, id uint) (models.Reader, error)
	ListPage(ctx context.Context, f models.ReaderFilter, p models.Page) ([]models.Reader, models.Paged, error)
	Locations(ctx context.Context) ([]string, error)
	Events(ctx context.Context, id uint, limit int) ([]models.ReaderEvent, error)
}

// PaymentList lists payments: a reader's latest on its page.
type PaymentList interface {
	List(ctx context.Context, f models.TxFilter) ([]models.Transaction, error)
}

// ReaderHandlers serve the card readers' pages (admins): register, pair, enable, disable,
// unpair and replace.
type ReaderHandlers struct {
	*pages
	readerQ     ReaderReads
	readerAdmin ReaderAdmin
	endpoints   EndpointReads // the endpoint a reader takes payments for
	txQ         PaymentList
}

func newReaderHandlers(p *pages, readerQ ReaderReads, admin ReaderAdmin, endpoints EndpointReads, txQ PaymentList) *ReaderHandlers {
	return &ReaderHandlers{pages: p, readerQ: readerQ, readerAdmin: admin, endpoints: endpoints, txQ: txQ}
}

func boolFilter(v string) *bool {
	switch v {
	case "1":
		t := true
		return &t
	case "0":
		f := false
		return &f
	}
	return nil
}

// readersIndex handles "GET /admin/readers": the most recently registered first, a page at a time.
func (s *ReaderHandlers) readersIndex(c *gin.Context) {
	ctx := c.Request.Context()
	f := templates.ReaderFilter{Location: c.Query("location"), Online: c.Query("online"), Enabled: c.Query("enabled")}
	rs, pg, err := s.readerQ.ListPage(ctx, models.ReaderFilter{Location: f.Location, Online: boolFilter(f.Online), Enabled: boolFilter(f.Enabled)}, pageFrom(c))
	if err != nil {
		fail(c, err)
		return
	}
	locs, err := s.readerQ.Locations(ctx)
	if err != nil {
		fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "Readers", templates.ReadersPage(rs, locs, f, pager(c, pg)))
}

// readerNew handles "GET /admin/readers/new".
func (s *ReaderHandlers) readerNew(c *gin.Context) {
	s.renderReaderForm(c, http.StatusOK, templates.ReaderForm{})
}

func (s *ReaderHandlers) renderReaderForm(c *gin.Context, status int, f templates.ReaderForm) {
	eps, err := s.endpoints.List(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	s.render(c, status, "Register reader", templates.ReaderNewPage(f, eps))
}

// readerCreate handles "POST /admin/readers": registers the reader and shows its pairing
// code once, on its page.
func (s *ReaderHandlers) readerCreate(c *gin.Context) {
	epID, _ := strconv.ParseUint(c.PostForm("endpoint_id"), 10, 32)
	f := templates.ReaderForm{Serial: c.PostForm("serial"), Label: c.PostForm("label"), Location: c.PostForm("location"), EndpointID: uint(epID)}
	if f.EndpointID != 0 {
		if _, err := s.endpoints.ByID(c.Request.Context(), f.EndpointID); err != nil {
			f.EndpointID = 0
		}
	}
	r, code, err := s.readerAdmin.Register(c.Request.Context(), devices.RegisterInput{Serial: f.Serial, Label: f.Label,
		Location: f.Location, EndpointID: f.EndpointID, Actor: actor(c)})
	var ve *models.ValidationError
	if errors.As(err, &ve) {
		f.Errors = templates.FormErrors(ve.Fields)
		s.renderReaderForm(c, http.StatusUnprocessableEntity, f)
		return
	} else if err != nil {
		fail(c, err)
		return
	}
	s.showPairingCode(c, r, code)
}

// showPairingCode keeps the code in the session for exactly one page view.
func (s *ReaderHandlers) showPairingCode(c *gin.Context, r models.Reader, code string) {
	s.sessions.Put(c.Request.Context(), "pairing_code", code)
	redirect(c, fmt.Sprintf("/admin/readers/%d", r.ID))
}

// readerShow handles "GET /admin/readers/:id".
func (s *ReaderHandlers) readerShow(c *gin.Context) {
	withID(c, func(id uint) {
		ctx := c.Request.Context()
		r, err := s.readerQ.ByID(ctx, id)
		if err != nil {
			fail(c, err)
			return
		}
		evs, err := s.readerQ.Events(ctx, id, 50)
		if err != nil {
			fail(c, err)
			return
		}
		txs, err := s.txQ.List(ctx, models.TxFilter{ReaderID: id, Limit: 10})
		if err != nil {
			fail(c, err)
			return
		}
		code := s.sessions.PopString(ctx, "pairing_code")
		s.render(c, http.StatusOK, r.Label, templates.ReaderDetailPage(r, evs, txs, code, ""))
	})
}

// readerAction wraps the lifecycle POSTs: it asks first where the action is hard to undo, and
// returns to the reader's page (the fleet service audits the action).
func (s *ReaderHandlers) readerAction(action string, do func(c *gin.Context, id uint, by models.Actor) (models.Reader, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		withID(c, func(id uint) {
			if q, ok := readerQuestions[action]; ok {
				r, err := s.readerQ.ByID(c.Request.Context(), id)
				if err != nil {
					fail(c, err)
					return
				}
				back := fmt.Sprintf("/admin/readers/%d", id)
				if !s.confirmed(c, templates.ConfirmView{Title: fmt.Sprintf(q[0], r.Label), Message: q[1], Action: back + "/" + q[2], Button: q[3], Back: back}) {
					return
				}
			}
			r, err := do(c, id, actor(c))
			if err != nil {
				fail(c, err) // a refusal is a 422 with its message
				return
			}
			redirect(c, fmt.Sprintf("/admin/readers/%d", r.ID))
		})
	}
}

// readerQuestions are the reader actions asked about first: title, message, path, button.
var readerQuestions = map[string][4]string{
	"reader.disable": {"Disable %s?", "The counter cannot take payments on it until it is enabled again; a payment waiting for a card on it ends.", "disable", "Disable the reader"},
	"reader.unpair":  {"Unpair %s?", "Its device credential stops working: it must be paired again with a new pairing code before it takes payments.", "unpair", "Unpair the reader"},
}

// readerEnable does "POST /admin/readers/:id/enable" (through readerAction).
func (s *ReaderHandlers) readerEnable(c *gin.Context, id uint, by models.Actor) (models.Reader, error) {
	return s.readerAdmin.SetEnabled(c.Request.Context(), id, true, by)
}

// readerDisable does "POST /admin/readers/:id/disable" (through readerAction).
func (s *ReaderHandlers) readerDisable(c *gin.Context, id uint, by models.Actor) (models.Reader, error) {
	return s.readerAdmin.SetEnabled(c.Request.Context(), id, false, by)
}

// readerUnpair does "POST /admin/readers/:id/unpair" (through readerAction).
func (s *ReaderHandlers) readerUnpair(c *gin.Context, id uint, by models.Actor) (models.Reader, error) {
	return s.readerAdmin.Unpair(c.Request.Context(), id, by)
}

// readerPairingCode handles "POST /admin/readers/:id/pairing-code".
func (s *ReaderHandlers) readerPairingCode(c *gin.Context) {
	withID(c, func(id uint) {
		r, code, err := s.readerAdmin.NewPairingCode(c.Request.Context(), id, actor(c))
		if err != nil {
			fail(c, err) // a refusal is a 422 with its message
			return
		}
		s.showPairingCode(c, r, code)
	})
}

// readerReplace handles "POST /admin/readers/:id/replace".
func (s *ReaderHandlers) readerReplace(c *gin.Context) {
	withID(c, func(id uint) {
		ctx := c.Request.Context()
		succ, code, err := s.readerAdmin.Replace(ctx, id, c.PostForm("serial"), actor(c))
		var ve *models.ValidationError
		if errors.As(err, &ve) {
			r, err := s.readerQ.ByID(ctx, id)
			if err != nil {
				fail(c, err)
				return
			}
			evs, _ := s.readerQ.Events(ctx, id, 50)
			txs, _ := s.txQ.List(ctx, models.TxFilter{ReaderID: id, Limit: 10})
			s.render(c, http.StatusUnprocessableEntity, r.Label, templates.ReaderDetailPage(r, evs, txs, "", ve.Error()))
			return
		} else if err != nil {
			fail(c, err)
			return
		}
		s.showPairingCode(c, succ, code)
	})
}
