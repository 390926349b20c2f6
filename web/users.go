package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/example/mposportal/models"
	"github.com/example/mposportal/templates"
	"github.com/gin-gonic/gin"
)

// withID parses the :id path parameter; a malformed id is a 404.
func withID(c *gin.Context, f func(id uint)) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || id == 0 {
		fail(c, errNotFound)
		return
	}
	f(uint(id))
}

// usersIndex handles "GET /admin/users": the most recently created first, a page at a time.
func (s *Server) usersIndex(c *gin.Context) {
	s.renderUsers(c, http.StatusOK, templates.UserForm{Role: models.RoleStaff})
}

func (s *Server) renderUsers(c *gin.Context, status int, f templates.UserForm) {
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
func (s *Server) userCreate(c *gin.Context) {
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
	if err := s.users.Create(c.Request.Context(), &u); errors.Is(err, models.ErrConflict) {
		f.Errors["username"] = "This username is taken."
		s.renderUsers(c, http.StatusUnprocessableEntity, f)
		return
	} else if err != nil {
		fail(c, err)
		return
	}
	s.record(c, "user.create", u.Username, "role "+string(u.Role))
	s.flash(c, fmt.Sprintf("User %s created.", u.Username))
	redirect(c, "/admin/users")
}

// userShow handles "GET /admin/users/:id".
func (s *Server) userShow(c *gin.Context) {
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
func (s *Server) lastAdminGuard(c *gin.Context, u models.User) bool {
	if u.Role != models.RoleAdmin || u.Disabled {
		return true
	}
	n, err := s.users.ActiveAdmins(c.Request.Context())
	return err == nil && n > 1
}

// userUpdate handles "POST /admin/users/:id": name and role.
func (s *Server) userUpdate(c *gin.Context) {
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
		before := u.Role
		u.Name, u.Role = f.Name, f.Role
		if err := s.users.Update(ctx, &u); err != nil {
			fail(c, err)
			return
		}
		s.record(c, "user.update", u.Username, fmt.Sprintf("role %s → %s", before, u.Role))
		s.flash(c, "Saved.")
		redirect(c, "/admin/users")
	})
}

// userSetDisabled handles "POST /admin/users/:id/disable" and ".../enable".
func (s *Server) userSetDisabled(disabled bool) gin.HandlerFunc {
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
			u.Disabled = disabled
			if err := s.users.Update(ctx, &u); err != nil {
				fail(c, err)
				return
			}
			action, word := "user.enable", "enabled"
			if disabled {
				action, word = "user.disable", "disabled"
			}
			s.record(c, action, u.Username, "")
			s.flash(c, fmt.Sprintf("User %s %s.", u.Username, word))
			redirect(c, "/admin/users")
		})
	}
}

// userPassword handles "POST /admin/users/:id/password".
func (s *Server) userPassword(c *gin.Context) {
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
		if u.PasswordHash, err = models.HashPassword(pw); err != nil {
			fail(c, err)
			return
		}
		u.SessionEpoch++ // the old password's sessions end
		if err := s.users.Update(ctx, &u); err != nil {
			fail(c, err)
			return
		}
		if me := currentUser(c); me != nil && me.ID == u.ID {
			s.signIn(c, &u) // an admin resetting their own password stays signed in here
		}
		s.record(c, "user.password_reset", u.Username, "every session of the user was ended")
		s.flash(c, fmt.Sprintf("Password of %s reset.", u.Username))
		redirect(c, "/admin/users")
	})
}
