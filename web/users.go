package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// UserAdmin is what the administrators' user pages read and write of the user table.
type UserAdmin interface {
	ListPage(ctx context.Context, p models.Page) ([]models.User, models.Paged, error)
	ByID(ctx context.Context, id uint) (models.User, error)
	ActiveAdmins(ctx context.Context) (int64, error)
	// The changes, each audited by the store with the change.
	Add(ctx context.Context, u *models.User, by models.Actor) error
	Edit(ctx context.Context, u *models.User, name string, role models.Role, by models.Actor) error
	SetDisabled(ctx context.Context, u *models.User, disabled bool, by models.Actor) error
	ResetPassword(ctx context.Context, u *models.User, hash string, by models.Actor) error
}

// SecondFactorReset removes a user's authenticator and recovery codes (audited).
type SecondFactorReset interface {
	Reset(ctx context.Context, u models.User, by models.Actor) error
}

// UserHandlers serve the administrators' user pages: create, edit, disable, reset a password
// or a second factor.
type UserHandlers struct {
	*pages
	users         UserAdmin
	secondFactors SecondFactorReset
}

func newUserHandlers(p *pages, users UserAdmin, factors SecondFactorReset) *UserHandlers {
	return &UserHandlers{pages: p, users: users, secondFactors: factors}
}

// usersIndex handles "GET /admin/users": the most recently created first, a page at a time.
func (s *UserHandlers) usersIndex(c *gin.Context) {
	s.renderUsers(c, http.StatusOK, templates.UserForm{Role: models.RoleStaff})
}

func (s *UserHandlers) renderUsers(c *gin.Context, status int, f templates.UserForm) {
	users, pg, err := s.users.ListPage(c.Request.Context(), pageFrom(c))
	if err != nil {
		fail(c, err)
		return
	}
	s.render(c, status, "Users", templates.UsersPage(users, f, pager(c, pg)))
}

func parseRole(v string) (models.Role, string) {
	switch models.Role(v) {
	case models.RoleAdmin, models.RoleManager, models.RoleStaff:
		return models.Role(v), ""
	}
	return models.RoleStaff, "Choose staff, manager or administrator."
}

// userCreate handles "POST /admin/users".
func (s *UserHandlers) userCreate(c *gin.Context) {
	f := templates.UserForm{Username: strings.ToLower(strings.TrimSpace(c.PostForm("username"))),
		Name: strings.TrimSpace(c.PostForm("name")), Errors: templates.FormErrors{}}
	var roleErr string
	f.Role, roleErr = parseRole(c.PostForm("role"))
	if roleErr != "" {
		f.Errors["role"] = roleErr
	}
	if msg := models.ValidateUsername(f.Username); msg != "" {
		f.Errors["username"] = msg
	}
	if f.Name == "" || len(f.Name) > 64 {
		f.Errors["name"] = "Enter a name of at most 64 characters."
	}
	pw := c.PostForm("password")
	if msg := models.ValidatePassword(pw); msg != "" {
		f.Errors["password"] = msg
	}
	if len(f.Errors) > 0 {
		s.renderUsers(c, http.StatusUnprocessableEntity, f)
		return
	}
	hash, err := models.HashPassword(pw)
	if err != nil {
		fail(c, err)
		return
	}
	u := models.User{Username: f.Username, Name: f.Name, Role: f.Role, PasswordHash: hash}
	if err := s.users.Add(c.Request.Context(), &u, actor(c)); errors.Is(err, models.ErrConflict) {
		f.Errors["username"] = "This username is taken."
		s.renderUsers(c, http.StatusUnprocessableEntity, f)
		return
	} else if err != nil {
		fail(c, err)
		return
	}
	s.flash(c, fmt.Sprintf("User %s created.", u.Username))
	redirect(c, "/admin/users")
}

// userShow handles "GET /admin/users/:id".
func (s *UserHandlers) userShow(c *gin.Context) {
	withID(c, func(id uint) {
		u, err := s.users.ByID(c.Request.Context(), id)
		if err != nil {
			fail(c, err)
			return
		}
		s.render(c, http.StatusOK, "User "+u.Username, templates.UserEditPage(u, templates.UserForm{Name: u.Name, Role: u.Role}, ""))
	})
}

// lastAdminGuard refuses to leave the portal without an active administrator.
func (s *UserHandlers) lastAdminGuard(c *gin.Context, u models.User) bool {
	if u.Role != models.RoleAdmin || u.Disabled {
		return true
	}
	n, err := s.users.ActiveAdmins(c.Request.Context())
	return err == nil && n > 1
}

// userUpdate handles "POST /admin/users/:id": name and role.
func (s *UserHandlers) userUpdate(c *gin.Context) {
	withID(c, func(id uint) {
		ctx := c.Request.Context()
		u, err := s.users.ByID(ctx, id)
		if err != nil {
			fail(c, err)
			return
		}
		f := templates.UserForm{Name: strings.TrimSpace(c.PostForm("name")), Errors: templates.FormErrors{}}
		var roleErr string
		f.Role, roleErr = parseRole(c.PostForm("role"))
		if roleErr != "" {
			f.Errors["role"] = roleErr
		}
		if f.Name == "" || len(f.Name) > 64 {
			f.Errors["name"] = "Enter a name of at most 64 characters."
		}
		if f.Role != models.RoleAdmin && !s.lastAdminGuard(c, u) {
			f.Errors["role"] = "This is the last active administrator; make someone else an administrator first."
		}
		if len(f.Errors) > 0 {
			s.render(c, http.StatusUnprocessableEntity, "User "+u.Username, templates.UserEditPage(u, f, ""))
			return
		}
		if err := s.users.Edit(ctx, &u, f.Name, f.Role, actor(c)); err != nil {
			fail(c, err)
			return
		}
		s.flash(c, "Saved.")
		redirect(c, "/admin/users")
	})
}

// userSetDisabled handles "POST /admin/users/:id/disable" and ".../enable".
func (s *UserHandlers) userSetDisabled(disabled bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		withID(c, func(id uint) {
			ctx := c.Request.Context()
			u, err := s.users.ByID(ctx, id)
			if err != nil {
				fail(c, err)
				return
			}
			if disabled && !s.lastAdminGuard(c, u) {
				f := templates.UserForm{Name: u.Name, Role: u.Role, Errors: templates.FormErrors{
					"access": "This is the last active administrator and cannot be disabled."}}
				s.render(c, http.StatusUnprocessableEntity, "User "+u.Username, templates.UserEditPage(u, f, ""))
				return
			}
			if err := s.users.SetDisabled(ctx, &u, disabled, actor(c)); err != nil {
				fail(c, err)
				return
			}
			word := "enabled"
			if disabled {
				word = "disabled"
			}
			s.flash(c, fmt.Sprintf("User %s %s.", u.Username, word))
			redirect(c, "/admin/users")
		})
	}
}

// userPassword handles "POST /admin/users/:id/password".
func (s *UserHandlers) userPassword(c *gin.Context) {
	withID(c, func(id uint) {
		ctx := c.Request.Context()
		u, err := s.users.ByID(ctx, id)
		if err != nil {
			fail(c, err)
			return
		}
		pw := c.PostForm("password")
		if msg := models.ValidatePassword(pw); msg != "" {
			s.render(c, http.StatusUnprocessableEntity, "User "+u.Username, templates.UserEditPage(u, templates.UserForm{Name: u.Name, Role: u.Role}, msg))
			return
		}
		hash, err := models.HashPassword(pw)
		if err != nil {
			fail(c, err)
			return
		}
		if err := s.users.ResetPassword(ctx, &u, hash, actor(c)); err != nil { // the old password's sessions end
			fail(c, err)
			return
		}
		if me := currentUser(c); me != nil && me.ID == u.ID {
			s.signIn(c, &u) // an admin resetting their own password stays signed in here
		}
		s.flash(c, fmt.Sprintf("Password of %s reset.", u.Username))
		redirect(c, "/admin/users")
	})
}

// userSecondFactorReset handles "POST /admin/users/:id/second-factor/reset": for a user who
// lost their phone and recovery codes. Their sessions end; their next sign-in sets up a new
// authenticator (or goes without one, where the role allows).
func (s *UserHandlers) userSecondFactorReset(c *gin.Context) {
	withID(c, func(id uint) {
		ctx := c.Request.Context()
		u, err := s.users.ByID(ctx, id)
		if err != nil {
			fail(c, err)
			return
		}
		if err := s.secondFactors.Reset(ctx, u, actor(c)); err != nil {
			fail(c, err)
			return
		}
		s.flash(c, fmt.Sprintf("Two-step sign-in reset for %s: they set it up again at their next sign-in.", u.Username))
		redirect(c, "/admin/users")
	})
}
