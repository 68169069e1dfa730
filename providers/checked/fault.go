package checked

import (
	"fmt"
	"strings"
)

// Fault is a result that breaks the provider contract: a bug in the
// provider, which the engine reports as such instead of blaming the
// configuration.
type Fault struct {
	Type     string   // the resource type whose implementation is at fault
	Call     string   // "Plan", "Apply(create)", "Read", "ReadMany", ...
	Addr     string   // the resource concerned; "" when the call named none
	Problems []string // what was wrong, one noun phrase each
	// Err is the provider's own error when the call also failed, with
	// sensitive values redacted from its message.
	Err error
}

func (f *Fault) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "provider fault: %s returned %s in reply to %s", f.Type, strings.Join(f.Problems, "; "), f.Call)
	if f.Addr != "" {
		fmt.Fprintf(&b, " of %s", f.Addr)
	}
	b.WriteString(" (a bug in the provider, not in your configuration)")
	if f.Err != nil {
		fmt.Fprintf(&b, ": %v", f.Err)
	}
	return b.String()
}

// Unwrap gives the provider's own error (redacted), so that errors.Is
// still finds context.Canceled and the like.
func (f *Fault) Unwrap() error { return f.Err }

// redacted is an error whose message has sensitive values replaced; its
// cause stays reachable for errors.Is and errors.As.
type redacted struct {
	msg   string
	cause error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.cause }

// minSecretLen is the shortest sensitive value searched for in error
// messages: shorter ones would match ordinary words, and protect little.
const minSecretLen = 4

// redact returns the names of the attributes whose values err's message
// held, sorted, and err with those values (secrets: attribute name ->
// string leaves of its value) replaced.
func redact(err error, secrets map[string][]string) ([]string, error) {
	if err == nil || len(secrets) == 0 {
		return nil, err
	}
	msg := err.Error()
	var leaked []string
	for _, name := range sortedKeys(secrets) {
		hit := false
		for _, s := range secrets[name] {
			if len(s) >= minSecretLen && strings.Contains(msg, s) {
				msg = strings.ReplaceAll(msg, s, "(sensitive value)")
				hit = true
			}
		}
		if hit {
			leaked = append(leaked, name)
		}
	}
	if leaked == nil {
		return nil, err
	}
	return leaked, &redacted{msg: msg, cause: err}
}
