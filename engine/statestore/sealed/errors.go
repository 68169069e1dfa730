package sealed

import (
	"errors"
	"fmt"
	"strings"
)

// Reason says why something sealed could not be opened.
type Reason int

const (
	// NeedKey: it is sealed and the run was given no key.
	NeedKey Reason = iota + 1
	// WrongKey: it was sealed with another key than those given.
	WrongKey
	// Failed: a key of the right kind could not decrypt it (refused,
	// unreachable); nothing says it is damaged.
	Failed
	// Damaged: the envelope is unreadable, or the key that sealed it
	// does not open it, or its header was edited.
	Damaged
	// Newer: sealed by a newer ferry, in an envelope this one cannot read.
	Newer
)

// Hint says how to give ferry a key.
const Hint = "pass --state-secrets=URL (FERRY_STATE_SECRETS)"

// Error is a failure to open something sealed. Its message names the key
// needed, never any key material.
type Error struct {
	Reason Reason
	// Subject names what was opened: "state of deployment \"web\" in
	// s3://bucket".
	Subject string
	// Header is what the envelope says in clear (as far as it could be
	// read).
	Header Header
	// Given names the keys the run was given.
	Given []string
	// Err is the underlying failure, if any.
	Err error
}

func (e *Error) Error() string {
	key := e.Header.Key()
	given := strings.Join(e.Given, ", ")
	switch e.Reason {
	case NeedKey:
		label := e.Header.KeyID
		if e.Header.Keeper == LocalScheme {
			label = "fingerprint " + label
		}
		return fmt.Sprintf("%s is encrypted with %s %s:// key (%s); %s", e.Subject, article(e.Header.Keeper), e.Header.Keeper, label, Hint)
	case WrongKey:
		msg := fmt.Sprintf("%s could not be decrypted with the key given (%s): it was sealed with another key (%s); %s with that key", e.Subject, given, key, Hint)
		if e.Err != nil {
			msg += fmt.Sprintf(" (the key given said: %v)", e.Err)
		}
		return msg
	case Failed:
		return fmt.Sprintf("%s could not be decrypted with %s: %v; check access to the key and try again", e.Subject, key, e.Err)
	case Newer:
		return fmt.Sprintf("%s is sealed in envelope version %d, newer than this ferry understands (%d); upgrade ferry", e.Subject, e.Header.Version, Version)
	default:
		return fmt.Sprintf("%s is encrypted but damaged: %v", e.Subject, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// article is "a" or "an" for a scheme as it is read aloud.
func article(scheme string) string {
	if scheme != "" && strings.ContainsRune("aeiouAEIOU", rune(scheme[0])) {
		return "an"
	}
	return "a"
}

// ReasonOf returns the Reason of an *Error in err's chain, 0 if none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}
