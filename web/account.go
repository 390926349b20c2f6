package web

import (
	"context"
	"net/http"
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

// userSessions lists u's live sessions, this one first. A session is u's when it carries u's
// id and u's current session epoch (older ones are already ended).
func (s *Server) userSessions(ctx context.Context, u *models.User) ([]templates.SessionView, error) {
	if s.sessionList == nil {
		return nil, nil
	}
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
func (s *Server) account(c *gin.Context) {
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
	s.render(c, http.StatusOK, "Your account", templates.AccountPage(u, views, left))
}

// signOutOthers handles "POST /account/signout-others": every other session of the user ends
// (a lost tablet, a shared computer); this one goes on.
func (s *Server) signOutOthers(c *gin.Context) {
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
