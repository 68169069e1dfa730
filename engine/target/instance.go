package target

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/remote"
)

// KindAWSEC2 is the kind of aws.ec2(...) targets: an aws.instance that
// ferry creates, reached over SSH at its address, with the host key
// ferry generated for it.
const KindAWSEC2 = "aws.ec2"

// Instance is the driver of targets that are a cloud instance ferry
// creates (plan.Target.Resource names it): lang gives such a target
// references to the instance's address and host key, which apply
// resolves and pins like any ssh target's, so it reaches the machine as
// SSH does. What it adds is the power switch: stop and start go to the
// cloud's API through the instance's provider (Env.Power).
type Instance struct{ kind string }

var (
	_ Rebooter    = Instance{}
	_ PowerSwitch = Instance{}
	_ Hinter      = Instance{}
)

// UnreachableHint points at the instance's console output, where a
// machine that does not boot says why.
func (i Instance) UnreachableHint(t plan.Target, id string) string {
	if id == "" {
		id = "ID"
	}
	hint := fmt.Sprintf("its host is %s (instance %s): `ferry info` shows its state", t.Resource, id)
	if i.kind == KindAWSEC2 {
		hint += fmt.Sprintf(", and `aws ec2 get-console-output --instance-id %s` what it printed while booting", id)
	}
	return hint
}

// Kind is the target kind, e.g. "aws.ec2".
func (i Instance) Kind() string { return i.kind }

// Endpoint is the instance's resolved address, user and host key.
func (Instance) Endpoint(ctx context.Context, env Env, t plan.Target) (remote.Target, error) {
	return SSH{}.Endpoint(ctx, env, t)
}

// Wait waits until the instance accepts SSH connections: a new one boots.
func (Instance) Wait(ctx context.Context, env Env, ep remote.Target, timeout time.Duration) error {
	return SSH{}.Wait(ctx, env, ep, timeout)
}

// Reboot reboots over SSH, as for ssh targets: the wait for the new boot
// is the same, and needs no API call.
func (Instance) Reboot(ctx context.Context, env Env, ep remote.Target, opts remote.RebootOptions) (*remote.Conn, error) {
	return SSH{}.Reboot(ctx, env, ep, opts)
}

// Stop stops the instance through its provider.
func (i Instance) Stop(ctx context.Context, env Env, t plan.Target) error {
	return i.power(ctx, env, t, "stop")
}

// Start starts the instance through its provider; Wait then says when it
// is reachable.
func (i Instance) Start(ctx context.Context, env Env, t plan.Target) error {
	return i.power(ctx, env, t, "start")
}

func (i Instance) power(ctx context.Context, env Env, t plan.Target, op string) error {
	if t.Resource == "" {
		return fmt.Errorf("a %s target without its instance resource: run ferry plan and ferry apply to record it", i.kind)
	}
	if env.Power == nil {
		return errors.New(op + ": this command cannot reach providers")
	}
	return env.Power(ctx, t.Resource, op)
}
