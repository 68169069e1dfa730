package target

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/remote"
)

// Driver reaches the machines of one kind of target. Implementations must
// be safe for concurrent use: apply reaches many machines at once.
type Driver interface {
	// Kind is the target kind it serves: "ssh"; later "aws.ec2",
	// "install".
	Kind() string
	// Endpoint is what ferry logs in to for t, whose arguments are all
	// known (the engine resolved and checked them): address, port, user,
	// jump chain, sudo, and the host key to pin before the first login
	// ("" only when the driver cannot learn it: trust on first use).
	Endpoint(ctx context.Context, env Env, t plan.Target) (remote.Target, error)
	// Wait returns once ep accepts SSH connections (a handshake, no
	// login), or an error after timeout saying what was tried last.
	Wait(ctx context.Context, env Env, ep remote.Target, timeout time.Duration) error
}

// Rebooter is a Driver that can reboot its machines and wait until they
// are back with a new boot: the returned Conn is on the new boot, and the
// host key is checked against the same pin as before.
type Rebooter interface {
	Reboot(ctx context.Context, env Env, ep remote.Target, opts remote.RebootOptions) (*remote.Conn, error)
}

// PowerSwitch is a Driver whose machines can be stopped and started from
// outside (a cloud API). Start returns once the machine runs; Wait then
// says when it is reachable.
type PowerSwitch interface {
	Stop(ctx context.Context, env Env, t plan.Target) error
	Start(ctx context.Context, env Env, t plan.Target) error
}

// Hinter is a Driver that can say where to look when a new machine of its
// kind never accepts SSH: the cloud's console output, say.
type Hinter interface {
	// UnreachableHint is a sentence for the error; id is the ID of the
	// resource that is the host (t.Resource), "" when unknown.
	UnreachableHint(t plan.Target, id string) string
}

// Env is what the engine lends a driver for one call.
type Env struct {
	// SSH is the run's connection pool (one reused connection per host,
	// pinned host keys).
	SSH *remote.Dialer
	// Power stops, starts or reboots (op "stop", "start", "reboot") the
	// resource at address resource through its provider, and records its
	// new state; nil where the command offers no such thing (plan, apply).
	Power func(ctx context.Context, resource, op string) error
	// Progress reports a step of a long driver call as the machine's
	// progress line; nil drops them.
	Progress func(format string, args ...any)
}

// progress reports a step through e.Progress, if set.
func (e Env) progress(format string, args ...any) {
	if e.Progress != nil {
		e.Progress(format, args...)
	}
}

// Registry holds the drivers by kind.
type Registry struct{ drivers map[string]Driver }

// NewRegistry returns a registry of ds; a kind may be registered once.
func NewRegistry(ds ...Driver) (*Registry, error) {
	r := &Registry{drivers: map[string]Driver{}}
	for _, d := range ds {
		if _, dup := r.drivers[d.Kind()]; dup {
			return nil, fmt.Errorf("target drivers: kind %q registered twice", d.Kind())
		}
		r.drivers[d.Kind()] = d
	}
	return r, nil
}

// Default is the registry of the drivers ferry has built in: ssh,
// aws.ec2 and install.
func Default() *Registry {
	r, _ := NewRegistry(SSH{}, Instance{kind: KindAWSEC2}, Install{})
	return r
}

// Driver returns the driver of kind ("" is ssh). The error names the
// kinds there are.
func (r *Registry) Driver(kind string) (Driver, error) {
	if kind == "" {
		kind = KindSSH
	}
	if d, ok := r.drivers[kind]; ok {
		return d, nil
	}
	kinds := make([]string, 0, len(r.drivers))
	for k := range r.drivers {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return nil, fmt.Errorf("no target driver for kind %q in this ferry (it has %s)", kind, strings.Join(kinds, ", "))
}
