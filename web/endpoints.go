package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// EndpointStore holds the gateway settings: the endpoint pages read and write them.
type EndpointStore interface {
	List(ctx context.Context) ([]models.Endpoint, error)
	ByID(ctx context.Context, id uint) (models.Endpoint, error)
	Save(ctx context.Context, e *models.Endpoint, by models.Actor) error // creates or updates, audited
	ControlKey(ctx context.Context, id uint) (string, error)             // a callback's signing key, read lean
	FreshControlKey(ctx context.Context, id uint) (string, error)        // the same, read now
}

// The other areas only read endpoints, each what it needs of EndpointStore:

// EndpointList lists the endpoints: the store's look (pages.store) and the start page.
type EndpointList interface {
	List(ctx context.Context) ([]models.Endpoint, error)
}

// EndpointLookup loads one endpoint: a callback's control key, a receipt's letterhead, a
// close's endpoint.
type EndpointLookup interface {
	ByID(ctx context.Context, id uint) (models.Endpoint, error)
}

// EndpointReads lists the endpoints and loads one: the reader and Close Day pages.
type EndpointReads interface {
	EndpointList
	EndpointLookup
}

// EndpointHandlers serve the gateway settings (admins).
type EndpointHandlers struct {
	*pages
	endpoints EndpointStore
}

func newEndpointHandlers(p *pages, endpoints EndpointStore) *EndpointHandlers {
	return &EndpointHandlers{pages: p, endpoints: endpoints}
}

// endpointsIndex handles "GET /admin/endpoints".
func (s *EndpointHandlers) endpointsIndex(c *gin.Context) {
	eps, err := s.endpoints.List(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "Gateway", templates.EndpointsPage(eps))
}

// endpointNew handles "GET /admin/endpoints/new".
func (s *EndpointHandlers) endpointNew(c *gin.Context) {
	s.render(c, http.StatusOK, "New endpoint", templates.EndpointFormPage(templates.EndpointForm{Enabled: true, Currency: "EUR"}))
}

// endpointShow handles "GET /admin/endpoints/:id".
func (s *EndpointHandlers) endpointShow(c *gin.Context) {
	withID(c, func(id uint) {
		e, err := s.endpoints.ByID(c.Request.Context(), id)
		if err != nil {
			fail(c, err)
			return
		}
		s.render(c, http.StatusOK, "Endpoint "+e.Name, templates.EndpointFormPage(endpointForm(e)))
	})
}

func endpointForm(e models.Endpoint) templates.EndpointForm {
	f := templates.EndpointForm{ID: e.ID, Name: e.Name, EndpointID: e.EndpointID, Login: e.Login, Currency: e.Currency,
		BaseURL: e.BaseURL, Address1: e.Address1, City: e.City, ZipCode: e.ZipCode, Country: e.Country, Email: e.Email, Enabled: e.Enabled,
		CloseTime: e.CloseTime, TimeZone: e.TimeZone, Locale: e.Locale, PreauthWarnDays: strconv.Itoa(e.WarnDays()),
		MerchantName: e.MerchantName, Address2: e.Address2, VATNumber: e.VATNumber, ReceiptFooter: e.ReceiptFooter}
	if e.RefundApprovalMinor > 0 {
		f.RefundApproval = e.Money().Input(e.RefundApprovalMinor, e.Currency)
	}
	if e.ConfirmAboveMinor > 0 {
		f.ConfirmAbove = e.Money().Input(e.ConfirmAboveMinor, e.Currency)
	}
	if e.PreauthReleaseDays > 0 {
		f.PreauthReleaseDays = strconv.Itoa(e.PreauthReleaseDays)
	}
	if e.ControlKey != "" {
		f.MaskedKey = e.MaskedKey()
	}
	return f
}

// endpointSave handles "POST /admin/endpoints" and "POST /admin/endpoints/:id". The control key
// is write-only: a blank field keeps the stored key, and the key never reaches a page or log.
func (s *EndpointHandlers) endpointSave(c *gin.Context) {
	ctx := c.Request.Context()
	var e models.Endpoint
	if c.Param("id") != "" {
		var found bool
		withID(c, func(id uint) {
			var err error
			if e, err = s.endpoints.ByID(ctx, id); err != nil {
				fail(c, err)
				return
			}
			found = true
		})
		if !found {
			return
		}
	}
	before := e
	tr := func(k string) string { return strings.TrimSpace(c.PostForm(k)) }
	e.Name, e.EndpointID, e.Login = tr("name"), tr("endpoint_id"), tr("login")
	e.Currency, e.BaseURL = strings.ToUpper(tr("currency")), tr("base_url")
	e.Address1, e.City, e.ZipCode, e.Country, e.Email = tr("address1"), tr("city"), tr("zip_code"), strings.ToUpper(tr("country")), tr("email")
	e.Enabled = c.PostForm("enabled") == "1"
	e.CloseTime, e.TimeZone, e.Locale = tr("close_time"), tr("time_zone"), tr("locale")
	e.MerchantName, e.Address2, e.VATNumber, e.ReceiptFooter = tr("merchant_name"), tr("address2"), tr("vat_number"), tr("receipt_footer")
	e.RefundApprovalMinor, e.ConfirmAboveMinor, e.PreauthWarnDays, e.PreauthReleaseDays = 0, 0, 7, 0
	var policy []string
	for field, dst := range map[string]*int64{"refund_approval": &e.RefundApprovalMinor, "confirm_above": &e.ConfirmAboveMinor} {
		if v := tr(field); v != "" {
			if a, err := e.Money().Parse(v, e.Currency); err == nil {
				*dst = a
			} else {
				policy = append(policy, field)
			}
		}
	}
	if v := tr("preauth_warn_days"); v != "" {
		if e.PreauthWarnDays, _ = strconv.Atoi(v); e.PreauthWarnDays == 0 {
			e.PreauthWarnDays = -1 // refused by Validate with its message
		}
	}
	if v := tr("preauth_release_days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = -1
		}
		e.PreauthReleaseDays = n
	}
	keyChanged := false
	if k := tr("control_key"); k != "" {
		e.ControlKey, keyChanged = k, true
	}
	ve := e.Validate()
	if len(policy) > 0 {
		if ve == nil {
			ve = &models.ValidationError{}
		}
		for _, field := range policy {
			ve.Add(field, "Enter an amount such as 100.00, or leave empty for never.")
		}
	}
	if ve != nil {
		f := endpointForm(e)
		f.RefundApproval, f.ConfirmAbove, f.PreauthWarnDays, f.PreauthReleaseDays = tr("refund_approval"), tr("confirm_above"), tr("preauth_warn_days"), tr("preauth_release_days")
		if !keyChanged && before.ControlKey == "" {
			f.MaskedKey = ""
		}
		f.Errors = templates.FormErrors(ve.Fields)
		s.render(c, http.StatusUnprocessableEntity, "Endpoint", templates.EndpointFormPage(f))
		return
	}
	err := s.endpoints.Save(ctx, &e, actor(c))
	if errors.Is(err, models.ErrConflict) {
		f := endpointForm(e)
		f.Errors = templates.FormErrors{"endpoint_id": "This ENDPOINTID is already configured."}
		s.render(c, http.StatusUnprocessableEntity, "Endpoint", templates.EndpointFormPage(f))
		return
	} else if err != nil {
		fail(c, err)
		return
	}
	s.flash(c, fmt.Sprintf("Endpoint %s saved.", e.Name))
	redirect(c, "/admin/endpoints")
}
