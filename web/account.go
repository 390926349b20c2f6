package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// SessionLister lists the live sessions, to show users where they are signed in.
type SessionLister interface {
	Live(ctx context.Context) ([]models.Session, error)
}

// AccountUsers is what the account page writes of its user.
type AccountUsers interface {
	Update(ctx context.Context, u *models.User) error
	SetTimeZone(ctx context.Context, u *models.User, zone string) error
}

// RecoveryCodes counts a user's unused recovery codes.
type RecoveryCodes interface {
	RecoveryLeft(ctx context.Context, userID uint) (int64, error)
}

// AccountHandlers serve the signed-in user's own account page: where they are signed in,
// their two-step sign-in and the time zone they read times in.
type AccountHandlers struct {
	*pages
	users         AccountUsers
	secondFactors RecoveryCodes
	sessionList   SessionLister
}

func newAccountHandlers(p *pages, users AccountUsers, factors RecoveryCodes, sessions SessionLister) *AccountHandlers {
	return &AccountHandlers{pages: p, users: users, secondFactors: factors, sessionList: sessions}
}

// userSessions lists u's live sessions, this one first. A session is u's when it carries u's
// id and u's current session epoch (older ones are already ended).
func (s *AccountHandlers) userSessions(ctx context.Context, u *models.User) ([]templates.SessionView, error) {
	rows, err := s.sessionList.Live(ctx)
	if err != nil {
		return nil, err
	}
	current := s.sessions.Token(ctx)
	var out []templates.SessionView
	for _, r := range rows {
		_, values, err := (scs.GobCodec{}).Decode(r.Data)
		if err != nil {
			continue
		}
		if id, _ := values["user_id"].(int); id != int(u.ID) {
			continue
		}
		if epoch, _ := values["session_epoch"].(int); epoch != u.SessionEpoch {
			continue
		}
		v := templates.SessionView{Current: r.Token == current, Expires: r.Expiry}
		v.IP, _ = values["ip"].(string)
		v.Browser, _ = values["ua"].(string)
		if at, ok := values["signed_in_at"].(int64); ok {
			v.SignedIn = time.Unix(at, 0)
		}
		if v.Current {
			out = append([]templates.SessionView{v}, out...)
		} else {
			out = append(out, v)
		}
	}
	return out, nil
}

// account handles "GET /account": where the user is signed in, and their two-step sign-in.
func (s *AccountHandlers) account(c *gin.Context) { s.renderAccount(c, http.StatusOK, "") }

// renderAccount shows the account page, with a problem on the time-zone form when it has one.
func (s *AccountHandlers) renderAccount(c *gin.Context, status int, zoneProblem string) {
	u := currentUser(c)
	views, err := s.userSessions(c.Request.Context(), u)
	if err != nil {
		fail(c, err)
		return
	}
	left, err := s.secondFactors.RecoveryLeft(c.Request.Context(), u.ID)
	if err != nil {
		fail(c, err)
		return
	}
	s.render(c, status, "Your account", templates.AccountPage(u, views, left, s.zoneChoice(c, zoneProblem)))
}

// zoneChoice is the account page's time-zone form.
func (s *AccountHandlers) zoneChoice(c *gin.Context, problem string) templates.ZoneChoice {
	zc := templates.ZoneChoice{Current: currentUser(c).TimeZone, Store: zoneName(s.store(c.Request.Context()).zone), Zones: displayZones, Error: problem}
	if zc.Current != "" && !slices.Contains(zc.Zones, zc.Current) {
		zc.Zones = append([]string{zc.Current}, zc.Zones...)
	}
	return zc
}

// zoneName names a zone for people: its IANA name, or for the server's own zone (a store that
// set none) what it is called now ("the server's, UTC").
func zoneName(loc *time.Location) string {
	if loc == time.Local {
		return "the server's, " + time.Now().In(loc).Format("MST")
	}
	return loc.String()
}

// displayZones are the zones offered on the account page: one for each region's main time.
var displayZones = []string{
	"UTC",
	"Europe/Lisbon", "Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Rome",
	"Europe/Amsterdam", "Europe/Stockholm", "Europe/Warsaw", "Europe/Prague", "Europe/Vienna", "Europe/Zurich",
	"Europe/Riga", "Europe/Tallinn", "Europe/Vilnius", "Europe/Helsinki", "Europe/Kyiv", "Europe/Athens", "Europe/Bucharest",
	"Europe/Istanbul", "Europe/Moscow",
	"Asia/Dubai", "Asia/Kuwait", "Asia/Kolkata", "Asia/Bangkok", "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo", "Asia/Seoul",
	"Australia/Perth", "Australia/Sydney", "Pacific/Auckland",
	"Africa/Cairo", "Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi",
	"America/Sao_Paulo", "America/Argentina/Buenos_Aires", "America/New_York", "America/Chicago", "America/Denver",
	"America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu",
}

// accountZone handles "POST /account/zone": the zone the user reads times in ("" for the
// store's).
func (s *AccountHandlers) accountZone(c *gin.Context) {
	u := currentUser(c)
	zone := c.PostForm("zone")
	err := s.users.SetTimeZone(c.Request.Context(), u, zone)
	var verr *models.ValidationError
	switch {
	case errors.As(err, &verr):
		s.renderAccount(c, http.StatusUnprocessableEntity, verr.Error())
	case err != nil:
		fail(c, err)
	default:
		if zone == "" {
			s.flash(c, "Times are shown in the store's time zone again.")
		} else {
			s.flash(c, "Times are now shown in "+zone+".")
		}
		redirect(c, "/account")
	}
}

// signOutOthers handles "POST /account/signout-others": every other session of the user ends
// (a lost tablet, a shared computer); this one goes on.
func (s *AccountHandlers) signOutOthers(c *gin.Context) {
	u := *currentUser(c)
	u.SessionEpoch++
	if err := s.users.Update(c.Request.Context(), &u); err != nil {
		fail(c, err)
		return
	}
	s.signIn(c, &u)
	s.record(c, "user.signout_everywhere", u.Username, "every other session ended")
	s.flash(c, "Signed out everywhere else.")
	redirect(c, "/account")
}
