package devices

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidSerial is returned (wrapped) for a serial number that is not well formed.
var ErrInvalidSerial = errors.New("invalid serial number")

// Serial numbers are printed on the reader's label and typed in by admins, so we accept what a
// person would type (lower case, surrounding spaces, spaces or underscores between groups) and
// store one canonical form: upper-case letters and digits in groups joined by single hyphens,
// 4 to 32 characters. The gateway identifies readers by exactly this string
// (device-serial-number), so two spellings of one label must never become two readers.
const (
	serialMinLen = 4
	serialMaxLen = 32
)

// NormalizeSerial returns the canonical form of a reader serial number, or an error wrapping
// ErrInvalidSerial that says what is wrong in words an admin can act on.
func NormalizeSerial(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: it is empty", ErrInvalidSerial)
	}
	var b strings.Builder
	lastSep := true // no leading separator
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
			lastSep = false
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
			lastSep = false
		case r == '-' || r == ' ' || r == '_':
			if lastSep {
				return "", fmt.Errorf("%w: separators must stand between letters or digits", ErrInvalidSerial)
			}
			b.WriteByte('-')
			lastSep = true
		default:
			return "", fmt.Errorf("%w: only letters, digits and hyphens are allowed (found %q)", ErrInvalidSerial, r)
		}
		if b.Len() > serialMaxLen {
			return "", fmt.Errorf("%w: at most %d characters", ErrInvalidSerial, serialMaxLen)
		}
	}
	out := b.String()
	if lastSep {
		return "", fmt.Errorf("%w: it must end with a letter or digit", ErrInvalidSerial)
	}
	if len(out) < serialMinLen {
		return "", fmt.Errorf("%w: at least %d characters", ErrInvalidSerial, serialMinLen)
	}
	return out, nil
}
