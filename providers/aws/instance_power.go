package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/nixferry/ferry/providers"
)

// Power stops, starts or reboots the instance through the EC2 API (ferry
// stop, start and reboot of a machine on EC2), and returns its state
// afterwards. Stopping a stopped instance and starting a running one
// succeed at once; a spot instance cannot be stopped (EC2 says so).
func (r *instance) Power(ctx context.Context, req providers.PowerRequest) (providers.ReadResponse, error) {
	verb := string(req.Op)
	if err := checkCtx(ctx, verb, req.Addr); err != nil {
		return providers.ReadResponse{}, err
	}
	id, err := idOf(verb, req.Addr, req.State)
	if err != nil {
		return providers.ReadResponse{}, err
	}
	switch req.Op {
	case providers.PowerStop:
		err = r.c.stopInstance(ctx, id)
	case providers.PowerStart:
		err = r.c.startInstance(ctx, id)
	case providers.PowerReboot:
		_, err = r.c.ec2.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: []string{id}})
		err = callErr("ec2:RebootInstances", err)
	default:
		return providers.ReadResponse{}, fmt.Errorf("%s: unknown power operation %q; want stop, start or reboot", req.Addr, req.Op)
	}
	if err != nil {
		return providers.ReadResponse{}, r.c.fail(verb, req.Addr, err)
	}
	resp, err := r.Read(ctx, providers.ReadRequest{Addr: req.Addr, Prior: req.State})
	if err == nil && resp.State == nil {
		err = fmt.Errorf("%s %s: instance %s no longer exists (terminated outside ferry?)", verb, req.Addr, id)
	}
	return resp, err
}
