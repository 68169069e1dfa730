package aws

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// The finders of Route53 objects, shared by aws.route53_zone and
// aws.route53_record. Route53 has no call that describes many zones or
// records by ID: zones are found by paging ListHostedZones, records by
// paging ListResourceRecordSets of their zone. Their errors are
// callErrors naming the action; the resource wraps them with its
// address.

// Route53's page limits.
const (
	maxZonesPage   = 100 // ListHostedZones, ListHostedZonesByName
	maxRecordsPage = 300 // ListResourceRecordSets
	maxTagIDs      = 10  // ListTagsForResources, and keys per ChangeTagsForResource
	maxChanges     = 100 // changes per ChangeResourceRecordSets of force_destroy (AWS takes 1000)
)

// route53Region is the region Route53 requests are signed for: the
// service is global, served from the partition's first region.
func route53Region(region string) string {
	switch partition(region) {
	case "aws-cn":
		return "cn-northwest-1"
	case "aws-us-gov":
		return "us-gov-west-1"
	}
	return "us-east-1"
}

// bareZoneID is a hosted zone ID without the "/hostedzone/" that the API
// puts before it.
func bareZoneID(id string) string { return strings.TrimPrefix(id, "/hostedzone/") }

// normDomain is a domain name as Route53 compares it: lower case, without
// the trailing dot, and with its \DDD escapes (\052 for *) decoded.
func normDomain(s string) string {
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isNoSuchZone reports whether err says the hosted zone does not exist.
// AWS answers InvalidInput for an ID of the wrong form, which names no
// zone either.
func isNoSuchZone(err error) bool {
	switch errorCode(err) {
	case "NoSuchHostedZone", "InvalidInput":
		return true
	}
	return false
}

// route53Page is how many items one list call asks for: the client's page
// size, within the API's limit.
func (c *Client) route53Page(limit int) *int32 { return aws.Int32(int32(min(c.pageSize, limit))) }

// findZonesByIDs returns the hosted zones with the given IDs that exist,
// by bare ID. Route53 cannot describe zones by ID in one call, so it pages
// through ListHostedZones, and stops once it has seen every wanted zone:
// about one call per 100 zones of the account, whatever the number wanted.
func (c *Client) findZonesByIDs(ctx context.Context, ids []string) (map[string]types.HostedZone, error) {
	want := map[string]bool{}
	for _, id := range ids {
		if id != "" {
			want[bareZoneID(id)] = true
		}
	}
	found := map[string]types.HostedZone{}
	if len(want) == 0 {
		return found, nil
	}
	in := &route53.ListHostedZonesInput{MaxItems: c.route53Page(maxZonesPage)}
	for {
		out, err := c.route53.ListHostedZones(ctx, in)
		if err != nil {
			return nil, callErr("route53:ListHostedZones", err)
		}
		for _, z := range out.HostedZones {
			if id := bareZoneID(aws.ToString(z.Id)); want[id] {
				found[id] = z
			}
		}
		if len(found) == len(want) || !out.IsTruncated || aws.ToString(out.NextMarker) == "" {
			return found, nil
		}
		in.Marker = out.NextMarker
	}
}

// findZone returns one hosted zone with its name servers and VPCs, nil
// when it does not exist.
func (c *Client) findZone(ctx context.Context, id string) (*route53.GetHostedZoneOutput, error) {
	out, err := c.route53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(bareZoneID(id))})
	switch {
	case isNoSuchZone(err):
		return nil, nil
	case err != nil:
		return nil, callErr("route53:GetHostedZone", err)
	}
	return out, nil
}

// findZoneByCallerReference returns the hosted zone called name that a
// CreateHostedZone with the caller reference ref made, nil when none did.
// ListHostedZonesByName lists zones from name on in name order, each with
// its caller reference; several zones may share a name.
func (c *Client) findZoneByCallerReference(ctx context.Context, name, ref string) (*types.HostedZone, error) {
	in := &route53.ListHostedZonesByNameInput{DNSName: aws.String(name), MaxItems: c.route53Page(maxZonesPage)}
	for {
		out, err := c.route53.ListHostedZonesByName(ctx, in)
		if err != nil {
			return nil, callErr("route53:ListHostedZonesByName", err)
		}
		for _, z := range out.HostedZones {
			if normDomain(aws.ToString(z.Name)) != normDomain(name) {
				return nil, nil // past the name
			}
			if aws.ToString(z.CallerReference) == ref {
				return &z, nil
			}
		}
		if !out.IsTruncated || out.NextDNSName == nil {
			return nil, nil
		}
		in.DNSName, in.HostedZoneId = out.NextDNSName, out.NextHostedZoneId
	}
}

// zoneTags returns the tags of hosted zones by bare ID, in one call per
// ten zones. A zone deleted meanwhile has none.
func (c *Client) zoneTags(ctx context.Context, ids []string) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	for _, page := range chunks(uniq(ids), min(c.pageSize, maxTagIDs)) {
		resp, err := c.route53.ListTagsForResources(ctx, &route53.ListTagsForResourcesInput{ResourceType: types.TagResourceTypeHostedzone, ResourceIds: page})
		if isNoSuchZone(err) && len(page) > 1 {
			// One zone of the page is gone: ask for each on its own.
			for _, id := range page {
				one, err := c.zoneTags(ctx, []string{id})
				if err != nil {
					return nil, err
				}
				out[id] = one[id]
			}
			continue
		}
		if isNoSuchZone(err) {
			continue
		}
		if err != nil {
			return nil, callErr("route53:ListTagsForResources", err)
		}
		for _, set := range resp.ResourceTagSets {
			tags := map[string]any{}
			for _, t := range set.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			out[bareZoneID(aws.ToString(set.ResourceId))] = tags
		}
	}
	return out, nil
}

// listRecordSets returns every record set of a zone, one call per page;
// gone is true when the zone does not exist.
func (c *Client) listRecordSets(ctx context.Context, zone string) (sets []types.ResourceRecordSet, gone bool, err error) {
	in := &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(bareZoneID(zone)), MaxItems: c.route53Page(maxRecordsPage)}
	for {
		out, err := c.route53.ListResourceRecordSets(ctx, in)
		if isNoSuchZone(err) {
			return nil, true, nil
		}
		if err != nil {
			return nil, false, callErr("route53:ListResourceRecordSets", err)
		}
		sets = append(sets, out.ResourceRecordSets...)
		if !out.IsTruncated || out.NextRecordName == nil {
			return sets, false, nil
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier
	}
}

// findRecordSet returns the simple (not weighted, latency, ...) record
// set of name and type in a zone, in one call: ListResourceRecordSets
// starting at it. nil when there is none; gone is true when the zone does
// not exist.
func (c *Client) findRecordSet(ctx context.Context, zone, name string, typ types.RRType) (rs *types.ResourceRecordSet, gone bool, err error) {
	out, err := c.route53.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId:    aws.String(bareZoneID(zone)),
		StartRecordName: aws.String(name),
		StartRecordType: typ,
		MaxItems:        aws.Int32(1),
	})
	if isNoSuchZone(err) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, callErr("route53:ListResourceRecordSets", err)
	}
	for _, s := range out.ResourceRecordSets {
		if isRecord(s, name, typ) {
			return &s, false, nil
		}
	}
	return nil, false, nil
}

// isRecord reports whether s is the simple record set of name and type.
func isRecord(s types.ResourceRecordSet, name string, typ types.RRType) bool {
	return s.Type == typ && s.SetIdentifier == nil && normDomain(aws.ToString(s.Name)) == normDomain(name)
}

// changeRecordSets sends one ChangeResourceRecordSets.
func (c *Client) changeRecordSets(ctx context.Context, zone string, changes ...types.Change) error {
	_, err := c.route53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(bareZoneID(zone)),
		ChangeBatch:  &types.ChangeBatch{Changes: changes},
	})
	return callErr("route53:ChangeResourceRecordSets", err)
}
