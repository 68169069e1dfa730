package aws

import "time"

// SetDependencyWait makes c's deletes wait at most max on objects EC2
// still sees in use, pausing first at first, and call refused (when not
// nil) at each refusal, so that tests wait on events, not on minutes.
func SetDependencyWait(c *Client, max, first time.Duration, refused func(action string)) {
	c.deps = dependencyWait{max: max, first: first, refused: refused}
}
