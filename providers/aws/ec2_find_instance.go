package aws

import (
	"context"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The finders and waiters of instances and what aws.instance attaches to
// them (elastic IPs, volumes), by filter as in ec2_find.go: an ID that no
// longer exists drops out of a page instead of failing it.

// findInstances pages through DescribeInstances. MaxResults is set, so
// that a page of 200 IDs takes one call (without it moto answers 100
// reservations a page, as AWS may).
func (c *Client) findInstances(ctx context.Context, filters ...types.Filter) ([]types.Instance, error) {
	var out []types.Instance
	p := ec2.NewDescribeInstancesPaginator(c.ec2, &ec2.DescribeInstancesInput{Filters: filters, MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, callErr("ec2:DescribeInstances", err)
		}
		for _, r := range page.Reservations {
			out = append(out, r.Instances...)
		}
	}
	return out, nil
}

// findInstancesByIDs returns the instances with the given IDs that EC2
// still lists (terminated ones too: see instanceGone), by ID, in one call
// per page of IDs.
func (c *Client) findInstancesByIDs(ctx context.Context, ids []string) (map[string]types.Instance, error) {
	return findByIDs(ctx, c, ids, func(ctx context.Context, page []string) ([]types.Instance, error) {
		return c.findInstances(ctx, filter("instance-id", page...))
	}, func(inst types.Instance) string { return aws.ToString(inst.InstanceId) })
}

// findInstanceByID returns one instance, nil when EC2 does not list it.
func (c *Client) findInstanceByID(ctx context.Context, id string) (*types.Instance, error) {
	return findOne(ctx, id, c.findInstancesByIDs)
}

// findInstanceByToken returns the oldest live instance a create with
// token made, nil when none did.
func (c *Client) findInstanceByToken(ctx context.Context, token string) (*types.Instance, error) {
	insts, err := c.findInstances(ctx, filter("tag:"+tokenTag, token))
	if err != nil {
		return nil, err
	}
	insts = slices.DeleteFunc(insts, func(i types.Instance) bool { return instanceGone(&i) })
	if len(insts) == 0 {
		return nil, nil
	}
	slices.SortStableFunc(insts, func(a, b types.Instance) int {
		return aws.ToTime(a.LaunchTime).Compare(aws.ToTime(b.LaunchTime))
	})
	return &insts[0], nil
}

// instanceGone reports whether an instance is terminated or on its way
// there: EC2 lists terminated instances for about an hour.
func instanceGone(inst *types.Instance) bool {
	if inst == nil || inst.State == nil {
		return inst == nil
	}
	switch inst.State.Name {
	case types.InstanceStateNameTerminated, types.InstanceStateNameShuttingDown:
		return true
	}
	return false
}

// waitInstance polls the instance until its state is want; another
// state in which it will never get there fails, as does ctx ending.
// It returns the instance as last described.
func (c *Client) waitInstance(ctx context.Context, id string, want types.InstanceStateName) (*types.Instance, error) {
	var inst *types.Instance
	err := poll(ctx, func() (bool, error) {
		var err error
		inst, err = c.findInstanceByID(ctx, id)
		switch {
		case err != nil:
			return false, err
		case inst == nil || inst.State == nil:
			return false, nil // not visible yet: EC2 is eventually consistent
		case inst.State.Name == want:
			return true, nil
		case want != types.InstanceStateNameTerminated && instanceGone(inst):
			return false, &stateError{id: id, want: want, inst: inst}
		}
		return false, nil
	})
	return inst, err
}

// stateError is an instance that went into a state other than the one
// waited for.
type stateError struct {
	id   string
	want types.InstanceStateName
	inst *types.Instance
}

func (e *stateError) Error() string {
	reason := ""
	if e.inst.StateReason != nil {
		reason = " (" + aws.ToString(e.inst.StateReason.Message) + ")"
	}
	return "instance " + e.id + " is " + string(e.inst.State.Name) + reason + " while waiting for it to be " + string(e.want)
}

// poll calls check until it reports done or an error, or ctx ends: at
// once, then after 1 s, the delay doubling up to 15 s. The engine's
// timeouts reach it through ctx.
func poll(ctx context.Context, check func() (bool, error)) error {
	delay := time.Second
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := check()
		if err != nil || done {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 15*time.Second)
	}
}

// findAddressesByInstance returns the elastic IPs associated with the
// given instances, by instance ID, in one call per page of IDs.
func (c *Client) findAddressesByInstance(ctx context.Context, ids []string) (map[string]types.Address, error) {
	return findByIDs(ctx, c, ids, func(ctx context.Context, page []string) ([]types.Address, error) {
		return c.findAddresses(ctx, filter("instance-id", page...))
	}, func(a types.Address) string { return aws.ToString(a.InstanceId) })
}

// findAddress returns the elastic IP with allocation ID id, nil when
// there is none.
func (c *Client) findAddress(ctx context.Context, id string) (*types.Address, error) {
	addrs, err := c.findAddresses(ctx, filter("allocation-id", id))
	if err != nil || len(addrs) == 0 {
		return nil, err
	}
	return &addrs[0], nil
}

// volumeAttachment returns the attachment of volume v to instance, nil
// when it is not attached there (or is being detached).
func volumeAttachment(v types.Volume, instance string) *types.VolumeAttachment {
	for _, a := range v.Attachments {
		if aws.ToString(a.InstanceId) == instance && a.State != types.VolumeAttachmentStateDetaching && a.State != types.VolumeAttachmentStateDetached {
			return &a
		}
	}
	return nil
}
