package aws

import (
	"context"
	"maps"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/checked"
)

// CallCounter counts the HTTP requests a configuration's SDK clients
// send, by "SERVICE.Operation" ("EC2.DescribeInstances"): a retried
// call counts once per attempt, because each attempt is a request the
// API (and its rate limit, and moto) has to answer. It is installed on
// every client of a configuration, so that tests and benchmarks can hold
// refresh and apply to a number of calls. Safe for concurrent use.
type CallCounter struct {
	mu sync.Mutex
	n  map[string]int
}

// NewCallCounter returns a counter at zero.
func NewCallCounter() *CallCounter { return &CallCounter{n: map[string]int{}} }

// countID is the counting middleware's ID in the stack.
const countID = "ferry.CountCalls"

// Middleware adds the counter to an SDK client's middleware stack (an
// entry of aws.Config.APIOptions): in the finalize step after the
// retryer, so that it sees every attempt.
func (c *CallCounter) Middleware(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc(countID,
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.add(awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx))
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

func (c *CallCounter) add(op string) {
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
}

// Counts returns the requests so far by operation.
func (c *CallCounter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// Total returns the requests so far.
func (c *CallCounter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for _, n := range c.n {
		total += n
	}
	return total
}

// Of returns the requests so far of one operation ("EC2.DescribeKeyPairs").
func (c *CallCounter) Of(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// CallsOf returns the call counter of the configuration a resource of
// this provider (or the runtime checker around one) belongs to.
func CallsOf(r providers.Resource) (*CallCounter, bool) {
	if b, ok := checked.Unwrap(r).(interface{ client() *Client }); ok {
		return b.client().calls, true
	}
	return nil, false
}
