package aws

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// update changes in place what EC2 allows: tags, security groups, the
// IAM instance profile, the instance type (stopping a running instance
// for it), the elastic IP and the attached volumes, in that order. A
// failure returns the instance as it then is.
func (r *instance) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	id, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	args, a, err := r.applyArgs("update", req)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	had, err := parseInstanceArgs(req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("update %s: the prior state does not read (%v); run ferry plan again", req.Addr, err)
	}
	steps := []func() error{
		func() error { return r.c.updateTags(ctx, id, had.tags, a.tags) },
		func() error {
			if !a.securityGroupsSet || sameStrings(a.securityGroups, had.securityGroups) {
				return nil
			}
			_, err := r.c.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id), Groups: a.securityGroups})
			return callErr("ec2:ModifyInstanceAttribute", err)
		},
		func() error {
			if a.profile == had.profile {
				return nil
			}
			return r.c.setInstanceProfile(ctx, id, a.profile)
		},
		func() error {
			if a.instanceType == had.instanceType {
				return nil
			}
			return r.c.changeInstanceType(ctx, id, a.instanceType)
		},
		func() error {
			if a.elasticIP == had.elasticIP {
				return nil
			}
			if had.elasticIP != "" {
				if err := r.c.disassociateAddress(ctx, id, had.elasticIP); err != nil {
					return err
				}
			}
			if a.elasticIP != "" {
				return r.c.associateAddress(ctx, id, a.elasticIP)
			}
			return nil
		},
		func() error {
			var gone []volumeArg
			for _, v := range had.volumes {
				if !slices.Contains(a.volumes, v) {
					gone = append(gone, v)
				}
			}
			if err := r.c.detachVolumes(ctx, id, gone); err != nil {
				return err
			}
			return r.c.attachVolumes(ctx, id, a.volumes)
		},
	}
	for _, step := range steps {
		if err = step(); err != nil {
			break
		}
	}
	inst, rerr := r.c.findInstanceByID(context.WithoutCancel(ctx), id)
	if rerr == nil && (inst == nil || instanceGone(inst)) {
		return providers.ApplyResponse{}, fmt.Errorf("update %s: instance %s no longer exists (terminated outside ferry?); run ferry plan again to create it anew", req.Addr, id)
	}
	if err != nil {
		if rerr == nil {
			// What changed so far: a read of it (the elastic IP as it was).
			return providers.ApplyResponse{State: r.c.instanceState(*inst, req.Prior, spec.Clone(req.Prior["elastic_ip"]))}, r.c.fail("update", req.Addr, err)
		}
		return providers.ApplyResponse{}, r.c.fail("update", req.Addr, err)
	}
	if rerr != nil {
		return providers.ApplyResponse{}, r.c.fail("update", req.Addr, rerr)
	}
	st := r.c.instanceState(*inst, updatedState(req.Prior, args), nullable(a.elasticIP))
	if a.profile != "" || req.Prior["iam_instance_profile"] != nil {
		profiles, err := r.c.profilesOf(context.WithoutCancel(ctx), []string{id})
		if err != nil {
			return providers.ApplyResponse{State: st}, r.c.fail("update", req.Addr, err)
		}
		st["iam_instance_profile"] = nullable(profiles[id])
	}
	return providers.ApplyResponse{State: st}, nil
}

// sameStrings reports whether a and b hold the same strings.
func sameStrings(a, b []string) bool {
	return slices.Equal(uniq(a), uniq(b))
}

// changeInstanceType stops the instance if it runs, changes its type and
// starts it again if it ran.
func (c *Client) changeInstanceType(ctx context.Context, id, typ string) error {
	inst, err := c.findInstanceByID(ctx, id)
	if err != nil {
		return err
	}
	if inst == nil || instanceGone(inst) {
		return fmt.Errorf("instance %s no longer exists", id)
	}
	running := inst.State.Name == types.InstanceStateNameRunning || inst.State.Name == types.InstanceStateNamePending
	if inst.State.Name != types.InstanceStateNameStopped {
		if err := c.stopInstance(ctx, id); err != nil {
			return err
		}
	}
	_, err = c.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(id), InstanceType: &types.AttributeValue{Value: aws.String(typ)}})
	if err != nil {
		return callErr("ec2:ModifyInstanceAttribute", err)
	}
	if running {
		return c.startInstance(ctx, id)
	}
	return nil
}

// stopInstance stops the instance and waits until it is stopped.
func (c *Client) stopInstance(ctx context.Context, id string) error {
	if _, err := c.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		return callErr("ec2:StopInstances", err)
	}
	_, err := c.waitInstance(ctx, id, types.InstanceStateNameStopped)
	return err
}

// startInstance starts the instance and waits until it runs.
func (c *Client) startInstance(ctx context.Context, id string) error {
	if _, err := c.ec2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
		return callErr("ec2:StartInstances", err)
	}
	_, err := c.waitInstance(ctx, id, types.InstanceStateNameRunning)
	return err
}

// profilesOf returns the instance profile (its name) associated with each
// of the instances ids now, from their associations, in one call per page
// of IDs. The associations are the truth: moto's DescribeInstances keeps
// showing the profile an instance was launched with after a replace.
func (c *Client) profilesOf(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, page := range chunks(uniq(ids), c.pageSize) {
		p := ec2.NewDescribeIamInstanceProfileAssociationsPaginator(c.ec2, &ec2.DescribeIamInstanceProfileAssociationsInput{Filters: []types.Filter{filter("instance-id", page...)}})
		for p.HasMorePages() {
			res, err := p.NextPage(ctx)
			if err != nil {
				return nil, callErr("ec2:DescribeIamInstanceProfileAssociations", err)
			}
			for _, a := range res.IamInstanceProfileAssociations {
				live := a.State == types.IamInstanceProfileAssociationStateAssociating || a.State == types.IamInstanceProfileAssociationStateAssociated
				if live && a.IamInstanceProfile != nil {
					arn := aws.ToString(a.IamInstanceProfile.Arn)
					out[aws.ToString(a.InstanceId)] = arn[strings.LastIndex(arn, "/")+1:]
				}
			}
		}
	}
	return out, nil
}

// setInstanceProfile associates profile (a name; "" for none) with the
// instance, replacing or removing the association it has.
func (c *Client) setInstanceProfile(ctx context.Context, id, profile string) error {
	// The association's state is checked here, not by a filter: moto
	// ignores the state filter and returns nothing.
	out, err := c.ec2.DescribeIamInstanceProfileAssociations(ctx, &ec2.DescribeIamInstanceProfileAssociationsInput{
		Filters: []types.Filter{filter("instance-id", id)},
	})
	if err != nil {
		return callErr("ec2:DescribeIamInstanceProfileAssociations", err)
	}
	var assoc string
	for _, a := range out.IamInstanceProfileAssociations {
		live := a.State == types.IamInstanceProfileAssociationStateAssociating || a.State == types.IamInstanceProfileAssociationStateAssociated
		if aws.ToString(a.InstanceId) == id && live {
			assoc = aws.ToString(a.AssociationId)
		}
	}
	ps := &types.IamInstanceProfileSpecification{Name: aws.String(profile)}
	switch {
	case profile == "" && assoc != "":
		_, err = c.ec2.DisassociateIamInstanceProfile(ctx, &ec2.DisassociateIamInstanceProfileInput{AssociationId: aws.String(assoc)})
		return callErr("ec2:DisassociateIamInstanceProfile", err)
	case profile == "":
		return nil
	case assoc != "":
		_, err = c.ec2.ReplaceIamInstanceProfileAssociation(ctx, &ec2.ReplaceIamInstanceProfileAssociationInput{AssociationId: aws.String(assoc), IamInstanceProfile: ps})
		return callErr("ec2:ReplaceIamInstanceProfileAssociation", err)
	}
	_, err = c.ec2.AssociateIamInstanceProfile(ctx, &ec2.AssociateIamInstanceProfileInput{InstanceId: aws.String(id), IamInstanceProfile: ps})
	return callErr("ec2:AssociateIamInstanceProfile", err)
}

// associateAddress associates the elastic IP alloc with the instance,
// taking it from another instance if it is associated there.
func (c *Client) associateAddress(ctx context.Context, id, alloc string) error {
	_, err := c.ec2.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: aws.String(alloc), InstanceId: aws.String(id), AllowReassociation: aws.Bool(true)})
	return callErr("ec2:AssociateAddress", err)
}

// disassociateAddress disassociates the elastic IP alloc from the
// instance, if it is still associated with it (it may have moved to
// another instance already, or been released).
func (c *Client) disassociateAddress(ctx context.Context, id, alloc string) error {
	addr, err := c.findAddress(ctx, alloc)
	if err != nil || addr == nil || aws.ToString(addr.InstanceId) != id || addr.AssociationId == nil {
		return err
	}
	_, err = c.ec2.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: addr.AssociationId})
	if isNotFound(err) {
		return nil
	}
	return callErr("ec2:DisassociateAddress", err)
}

// attachVolumes attaches the volumes not attached to the instance yet and
// waits until they are. moto accepts attaching a volume twice and then
// corrupts its state, and EC2 refuses a volume attached elsewhere: so the
// volumes' attachments are checked first.
func (c *Client) attachVolumes(ctx context.Context, id string, vols []volumeArg) error {
	if len(vols) == 0 {
		return nil
	}
	ids := make([]string, len(vols))
	for i, v := range vols {
		ids[i] = v.id
	}
	found, err := c.findVolumesByIDs(ctx, ids)
	if err != nil {
		return err
	}
	var attaching []string
	for _, v := range vols {
		vol, ok := found[v.id]
		if !ok {
			return fmt.Errorf("volume %s does not exist in region %s", v.id, c.region)
		}
		if at := volumeAttachment(vol, id); at != nil {
			if dev := aws.ToString(at.Device); dev != v.device {
				return fmt.Errorf("volume %s is attached to instance %s as %s, not %s: change its device in volumes, or detach it first", v.id, id, dev, v.device)
			}
			continue
		}
		for _, at := range vol.Attachments {
			if other := aws.ToString(at.InstanceId); other != id && at.State != types.VolumeAttachmentStateDetached {
				return fmt.Errorf("volume %s is attached to instance %s: detach it there first (remove it from that instance's volumes)", v.id, other)
			}
		}
		_, err := c.ec2.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: aws.String(v.id), InstanceId: aws.String(id), Device: aws.String(v.device)})
		if err != nil {
			return callErr("ec2:AttachVolume", err)
		}
		attaching = append(attaching, v.id)
	}
	return c.waitVolumes(ctx, id, attaching, true)
}

// detachVolumes detaches the volumes from the instance, those still
// attached to it, and waits until they are detached.
func (c *Client) detachVolumes(ctx context.Context, id string, vols []volumeArg) error {
	if len(vols) == 0 {
		return nil
	}
	ids := make([]string, len(vols))
	for i, v := range vols {
		ids[i] = v.id
	}
	found, err := c.findVolumesByIDs(ctx, ids)
	if err != nil {
		return err
	}
	var detaching []string
	for _, v := range vols {
		vol, ok := found[v.id]
		if !ok || volumeAttachment(vol, id) == nil {
			continue // deleted or detached already
		}
		_, err := c.ec2.DetachVolume(ctx, &ec2.DetachVolumeInput{VolumeId: aws.String(v.id), InstanceId: aws.String(id), Device: aws.String(v.device)})
		if err != nil && !isNotFound(err) && errorCode(err) != "IncorrectState" {
			return callErr("ec2:DetachVolume", err)
		}
		detaching = append(detaching, v.id)
	}
	return c.waitVolumes(ctx, id, detaching, false)
}

// waitVolumes waits until the volumes are attached to the instance
// (attached = true), or no longer attached to it.
func (c *Client) waitVolumes(ctx context.Context, id string, ids []string, attached bool) error {
	if len(ids) == 0 {
		return nil
	}
	return poll(ctx, func() (bool, error) {
		found, err := c.findVolumesByIDs(ctx, ids)
		if err != nil {
			return false, err
		}
		for _, v := range ids {
			vol, ok := found[v]
			if !ok {
				if attached {
					return false, fmt.Errorf("volume %s was deleted while being attached", v)
				}
				continue
			}
			at := volumeAttachment(vol, id)
			if attached && (at == nil || at.State != types.VolumeAttachmentStateAttached) || !attached && at != nil {
				return false, nil
			}
		}
		return true, nil
	})
}
