package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Deleting a network object EC2 still sees in use fails with
// DependencyViolation: a VPC with subnets, a subnet with the network
// interface of an instance being terminated, a gateway whose VPC still
// maps public addresses. Within one apply, ferry deletes dependents
// first, but EC2 frees some of them only later (an instance's interface
// goes away some time after it is terminated), and objects that do not
// refer to each other (an internet gateway and the instances of its VPC)
// are deleted at the same time. So these deletes wait, for a bounded
// time, until EC2 takes them.
//
// They wait here rather than return a providers.Retryable error: the
// engine's retry is made for throttling (a handful of attempts within
// seconds), while EC2 may take minutes to free an interface. The wait
// ends sooner with the call's context (the resource's delete timeout).
// After it, the error is not Retryable and names what still depends on
// the object.

// dependencyWait is how a Client waits on DependencyViolation.
type dependencyWait struct {
	max   time.Duration // in all
	first time.Duration // the first pause; each next one doubles, up to maxDependencyPause
	// refused, when set, is called with the action at each refusal
	// (tests wait on it instead of on time).
	refused func(action string)
}

const maxDependencyPause = 15 * time.Second

func defaultDependencyWait() dependencyWait {
	return dependencyWait{max: 5 * time.Minute, first: time.Second}
}

// dependencyCodes are the errors that say an object is still in use.
var dependencyCodes = []string{"DependencyViolation"}

// whileInUse makes call (the API action named action) until it succeeds,
// fails with an error whose code is not one of codes (dependencyCodes
// when none are given), or the wait is over; it returns call's last
// error, or, when the context ended the wait, a callError of action
// wrapping the context's error.
func (c *Client) whileInUse(ctx context.Context, action string, call func() error, codes ...string) error {
	if len(codes) == 0 {
		codes = dependencyCodes
	}
	deadline := time.Now().Add(c.deps.max)
	pause := c.deps.first
	for {
		err := call()
		if err == nil || !slices.Contains(codes, errorCode(err)) {
			return err
		}
		if c.deps.refused != nil {
			c.deps.refused(action)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return err
		}
		t := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return callErr(action, fmt.Errorf("%w while the object was still in use", ctx.Err()))
		case <-t.C:
		}
		pause = min(2*pause, maxDependencyPause)
	}
}

// inUse is the error of a call EC2 still refused with
// DependencyViolation after the wait: it names what still uses the
// object (what dependents finds), so that the user can delete it.
func (c *Client) inUse(ctx context.Context, verb, addr string, err error, noun, id string, dependents func(context.Context, string) ([]string, error)) error {
	re := c.fail(verb, addr, err).(*ResourceError)
	what := noun + " " + id
	var deps []string
	if ctx.Err() == nil {
		deps, _ = dependents(ctx, id)
	}
	if len(deps) == 0 {
		re.Hint = fmt.Sprintf("%s is still in use: delete what uses it first, then apply again", what)
	} else {
		re.Hint = fmt.Sprintf("%s is still used by %s: delete those first (ferry deletes what it manages before; these were made outside ferry or by another deployment), then apply again", what, strings.Join(deps, ", "))
	}
	return re
}
