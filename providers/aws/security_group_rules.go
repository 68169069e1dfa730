package aws

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/engine/spec"
)

// A security group's rules are written as a list of dicts, each with a
// protocol, ports and one or more sources:
//
//	{"protocol": "tcp", "port": 22, "cidr_blocks": ["0.0.0.0/0"], "description": "ssh"}
//	{"protocol": "tcp", "from_port": 8000, "to_port": 8099, "security_groups": [lb.id]}
//	{"protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}            # everything
//
// EC2 stores them as permissions of one protocol, port range and source
// each, and groups them as it likes. ferry compares rules as sets of such
// permissions: a Read whose permissions equal the prior state's keeps the
// state as the configuration wrote it; one that differs (a rule added or
// removed outside ferry) returns EC2's rules, one dict per protocol, port
// range and description, so that the plan shows the difference, and the
// update revokes and authorizes exactly the permissions that differ.

// perm is one permission: one protocol, port range and source.
type perm struct {
	proto    string // tcp, udp, icmp, icmpv6, -1 (all), or a protocol number
	from, to int32  // -1 for protocols without ports
	kind     string // one of sourceKinds' keys
	source   string
	desc     string
}

// sourceKinds maps the source lists of a rule to the kind of their
// permissions.
var sourceKinds = map[string]string{
	"cidr_blocks":      "cidr",
	"ipv6_cidr_blocks": "ipv6",
	"security_groups":  "sg",
	"prefix_lists":     "pl",
}

var ruleKeys = []string{"protocol", "port", "from_port", "to_port", "cidr_blocks", "ipv6_cidr_blocks", "security_groups", "prefix_lists", "description"}

// protoNames maps the protocol numbers EC2 has names for to the names.
var protoNames = map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}

func normalProto(p string) string {
	p = strings.ToLower(strings.TrimSpace(p))
	if n, ok := protoNames[p]; ok {
		return n
	}
	return p
}

// hasPorts: tcp and udp take a port range; icmp a type and a code.
func hasPorts(proto string) bool {
	switch proto {
	case "tcp", "udp", "icmp", "icmpv6":
		return true
	}
	return false
}

// parseRules reads the rules of the argument name. Parts still unknown
// (a source group not created yet) are left out, and complete is false.
func parseRules(addr, name string, v any) (perms []perm, complete bool, err error) {
	if v == nil {
		return nil, true, nil
	}
	if spec.HasUnknown(v) {
		if _, isUnknown := v.(spec.Unknown); isUnknown {
			return nil, false, nil
		}
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false, fmt.Errorf("%s: argument %q must be a list of rules, got %s", addr, name, spec.Render(v))
	}
	complete = true
	seen := map[perm]string{} // permission without description -> description
	for i, r := range list {
		where := fmt.Sprintf("%s: %s[%d]", addr, name, i)
		if spec.HasUnknown(r) {
			complete = false
			if _, isUnknown := r.(spec.Unknown); isUnknown {
				continue
			}
		}
		ps, ok, err := parseRule(where, r)
		if err != nil {
			return nil, false, err
		}
		complete = complete && ok
		for _, p := range ps {
			bare := p
			bare.desc = ""
			if d, dup := seen[bare]; dup && d != p.desc {
				return nil, false, fmt.Errorf("%s: the permission %s is given twice, with descriptions %q and %q; EC2 keeps one description per permission", where, p.String(), d, p.desc)
			}
			seen[bare] = p.desc
			perms = append(perms, p)
		}
	}
	return uniqPerms(perms), complete, nil
}

func parseRule(where string, r any) ([]perm, bool, error) {
	m, ok := r.(map[string]any)
	if !ok {
		return nil, false, fmt.Errorf("%s: a rule is a dict such as {\"protocol\": \"tcp\", \"port\": 22, \"cidr_blocks\": [\"0.0.0.0/0\"]}, got %s", where, spec.Render(r))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(ruleKeys, k) {
			return nil, false, fmt.Errorf("%s: unknown key %q; a rule takes %s", where, k, strings.Join(ruleKeys, ", "))
		}
	}
	complete := true
	unknown := func(k string) bool {
		if spec.HasUnknown(m[k]) {
			complete = false
			return true
		}
		return false
	}
	var proto string
	switch p := m["protocol"].(type) {
	case string:
		proto = normalProto(p)
		if n, err := strconv.Atoi(proto); proto != "-1" && !hasPorts(proto) && (err != nil || n < 0 || n > 255) {
			return nil, false, fmt.Errorf("%s: protocol %q: want tcp, udp, icmp, icmpv6, all (or -1), or a protocol number", where, p)
		}
	case nil:
		return nil, false, fmt.Errorf("%s: missing \"protocol\" (tcp, udp, icmp, icmpv6 or all)", where)
	default:
		if unknown("protocol") {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("%s: protocol must be a string such as \"tcp\", got %s", where, spec.Render(p))
	}

	from, to := int32(-1), int32(-1)
	ports := []string{"port", "from_port", "to_port"}
	given := map[string]int64{}
	for _, k := range ports {
		if m[k] == nil || unknown(k) {
			continue
		}
		n, err := wholeNumber(m[k])
		if err != nil {
			return nil, false, fmt.Errorf("%s: %s %v", where, k, err)
		}
		given[k] = n
	}
	portsUnknown := !complete
	switch {
	case !hasPorts(proto):
		if len(given) > 0 {
			return nil, false, fmt.Errorf("%s: protocol %q has no ports; leave out port, from_port and to_port", where, proto)
		}
	case proto == "icmp" || proto == "icmpv6":
		if _, ok := given["port"]; ok {
			return nil, false, fmt.Errorf("%s: an %s rule takes from_port (the ICMP type) and to_port (the code), -1 for any, not port", where, proto)
		}
		for k, n := range given {
			if n < -1 || n > 255 {
				return nil, false, fmt.Errorf("%s: %s = %d: an ICMP type or code is from -1 (any) to 255", where, k, n)
			}
		}
		if n, ok := given["from_port"]; ok {
			from = int32(n)
		}
		if n, ok := given["to_port"]; ok {
			to = int32(n)
		}
	default: // tcp, udp
		p, single := given["port"]
		f, hasFrom := given["from_port"]
		t, hasTo := given["to_port"]
		switch {
		case single && (hasFrom || hasTo):
			return nil, false, fmt.Errorf("%s: give either port or from_port and to_port", where)
		case single:
			f, t = p, p
		case !portsUnknown && (!hasFrom || !hasTo):
			return nil, false, fmt.Errorf("%s: a %s rule needs port, or from_port and to_port", where, proto)
		}
		if !portsUnknown {
			if f < 0 || t > 65535 || f > t {
				return nil, false, fmt.Errorf("%s: ports %d to %d: want 0 <= from_port <= to_port <= 65535", where, f, t)
			}
			from, to = int32(f), int32(t)
		}
	}

	var desc string
	switch d := m["description"].(type) {
	case nil:
	case string:
		if len(d) > 255 {
			return nil, false, fmt.Errorf("%s: description has more than 255 characters", where)
		}
		desc = d
	default:
		if !unknown("description") {
			return nil, false, fmt.Errorf("%s: description must be a string, got %s", where, spec.Render(d))
		}
	}

	var out []perm
	sources := 0
	for _, key := range slices.Sorted(maps.Keys(sourceKinds)) {
		v := m[key]
		if v == nil {
			continue
		}
		if _, isUnknown := v.(spec.Unknown); isUnknown {
			complete = false
			sources++
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return nil, false, fmt.Errorf("%s: %s must be a list of strings, got %s", where, key, spec.Render(v))
		}
		for _, e := range list {
			sources++
			if spec.HasUnknown(e) {
				complete = false
				continue
			}
			s, ok := e.(string)
			if !ok {
				return nil, false, fmt.Errorf("%s: %s: %s is not a string", where, key, spec.Render(e))
			}
			if err := checkSource(key, s); err != nil {
				return nil, false, fmt.Errorf("%s: %s: %v", where, key, err)
			}
			out = append(out, perm{proto: proto, from: from, to: to, kind: sourceKinds[key], source: s, desc: desc})
		}
	}
	if sources == 0 {
		return nil, false, fmt.Errorf("%s: a rule needs a source: cidr_blocks, ipv6_cidr_blocks, security_groups or prefix_lists", where)
	}
	if !complete {
		return nil, false, nil // its permissions are not known yet
	}
	return out, true, nil
}

func wholeNumber(v any) (int64, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0, fmt.Errorf("= %s is not a whole number", n)
		}
		return i, nil
	case int:
		return int64(n), nil
	default:
		return 0, fmt.Errorf("must be a number, got %s", spec.Render(v))
	}
}

func checkSource(key, s string) error {
	switch key {
	case "cidr_blocks", "ipv6_cidr_blocks":
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR block such as \"10.0.0.0/16\"", s)
		}
		if (key == "cidr_blocks") != p.Addr().Is4() {
			return fmt.Errorf("%q: IPv4 blocks go in cidr_blocks, IPv6 ones in ipv6_cidr_blocks", s)
		}
		if p.Masked() != p {
			return fmt.Errorf("%q has host bits set; write %s", s, p.Masked())
		}
	case "security_groups":
		if !strings.HasPrefix(s, "sg-") {
			return fmt.Errorf("%q is not a security group ID (sg-...)", s)
		}
	case "prefix_lists":
		if !strings.HasPrefix(s, "pl-") {
			return fmt.Errorf("%q is not a prefix list ID (pl-...)", s)
		}
	}
	return nil
}

func (p perm) String() string {
	ports := ""
	if hasPorts(p.proto) {
		ports = fmt.Sprintf(" %d-%d", p.from, p.to)
	}
	return fmt.Sprintf("%s%s from %s", p.proto, ports, p.source)
}

func comparePerms(a, b perm) int {
	return cmp.Or(
		cmp.Compare(a.proto, b.proto), cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to),
		cmp.Compare(a.desc, b.desc), cmp.Compare(a.kind, b.kind), cmp.Compare(a.source, b.source))
}

// uniqPerms sorts ps and drops duplicates.
func uniqPerms(ps []perm) []perm {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, comparePerms)
	return slices.Compact(ps)
}

// permsOf reads EC2's permissions.
func permsOf(ips []types.IpPermission) []perm {
	var out []perm
	for _, ip := range ips {
		proto := normalProto(aws.ToString(ip.IpProtocol))
		from, to := int32(-1), int32(-1)
		if hasPorts(proto) {
			if ip.FromPort != nil {
				from = *ip.FromPort
			}
			if ip.ToPort != nil {
				to = *ip.ToPort
			}
		}
		add := func(kind, source string, desc *string) {
			out = append(out, perm{proto: proto, from: from, to: to, kind: kind, source: source, desc: aws.ToString(desc)})
		}
		for _, r := range ip.IpRanges {
			add("cidr", aws.ToString(r.CidrIp), r.Description)
		}
		for _, r := range ip.Ipv6Ranges {
			add("ipv6", aws.ToString(r.CidrIpv6), r.Description)
		}
		for _, g := range ip.UserIdGroupPairs {
			add("sg", aws.ToString(g.GroupId), g.Description)
		}
		for _, pl := range ip.PrefixListIds {
			add("pl", aws.ToString(pl.PrefixListId), pl.Description)
		}
	}
	return uniqPerms(out)
}

// rulesOf writes permissions as rules: one per protocol, port range and
// description, sources sorted.
func rulesOf(ps []perm) []any {
	out := []any{}
	ps = uniqPerms(ps)
	kindKey := map[string]string{}
	for k, v := range sourceKinds {
		kindKey[v] = k
	}
	for i := 0; i < len(ps); {
		p := ps[i]
		r := map[string]any{"protocol": p.proto}
		if hasPorts(p.proto) {
			r["from_port"], r["to_port"] = spec.Number(int64(p.from)), spec.Number(int64(p.to))
		}
		if p.desc != "" {
			r["description"] = p.desc
		}
		for ; i < len(ps) && ps[i].proto == p.proto && ps[i].from == p.from && ps[i].to == p.to && ps[i].desc == p.desc; i++ {
			key := kindKey[ps[i].kind]
			list, _ := r[key].([]any)
			r[key] = append(list, ps[i].source)
		}
		out = append(out, r)
	}
	return out
}

// shapeRules is the value of a rules attribute after a read: the prior
// value when it holds the same permissions as EC2, EC2's rules otherwise.
// When they differ, every prior rule that EC2 still has whole keeps its
// shape (so that a plan shows only the rules that differ, not a kept rule
// written in another form), and the rest of EC2's permissions follow in
// canonical form.
func shapeRules(addr, name string, prior any, actual []perm) any {
	if mine, complete, err := parseRules(addr, name, prior); err == nil && complete && slices.Equal(mine, actual) {
		return spec.Clone(prior)
	}
	list, _ := prior.([]any)
	left := map[perm]bool{}
	for _, p := range actual {
		left[p] = true
	}
	out := []any{}
	for i, r := range list {
		ps, ok, err := parseRule(fmt.Sprintf("%s: %s[%d]", addr, name, i), r)
		if err != nil || !ok || len(ps) == 0 || !allIn(ps, left) {
			continue
		}
		for _, p := range ps {
			delete(left, p)
		}
		out = append(out, spec.Clone(r))
	}
	var rest []perm
	for _, p := range actual {
		if left[p] {
			rest = append(rest, p)
		}
	}
	return append(out, rulesOf(rest)...)
}

// allIn reports whether every permission of ps is in set.
func allIn(ps []perm, set map[perm]bool) bool {
	for _, p := range ps {
		if !set[p] {
			return false
		}
	}
	return true
}

// minus returns the permissions of a that b lacks.
func minus(a, b []perm) []perm {
	in := map[perm]bool{}
	for _, p := range b {
		in[p] = true
	}
	var out []perm
	for _, p := range a {
		if !in[p] {
			out = append(out, p)
		}
	}
	return out
}

// ipPermissions groups permissions for one Authorize or Revoke call;
// descriptions are left out of revokes (EC2 matches without them).
func ipPermissions(ps []perm, withDesc bool) []types.IpPermission {
	var out []types.IpPermission
	for i := 0; i < len(ps); {
		p := ps[i]
		ip := types.IpPermission{IpProtocol: aws.String(p.proto)}
		if hasPorts(p.proto) {
			ip.FromPort, ip.ToPort = aws.Int32(p.from), aws.Int32(p.to)
		}
		for ; i < len(ps) && ps[i].proto == p.proto && ps[i].from == p.from && ps[i].to == p.to; i++ {
			q := ps[i]
			var desc *string
			if withDesc && q.desc != "" {
				desc = aws.String(q.desc)
			}
			switch q.kind {
			case "cidr":
				ip.IpRanges = append(ip.IpRanges, types.IpRange{CidrIp: aws.String(q.source), Description: desc})
			case "ipv6":
				ip.Ipv6Ranges = append(ip.Ipv6Ranges, types.Ipv6Range{CidrIpv6: aws.String(q.source), Description: desc})
			case "sg":
				ip.UserIdGroupPairs = append(ip.UserIdGroupPairs, types.UserIdGroupPair{GroupId: aws.String(q.source), Description: desc})
			case "pl":
				ip.PrefixListIds = append(ip.PrefixListIds, types.PrefixListId{PrefixListId: aws.String(q.source), Description: desc})
			}
		}
		out = append(out, ip)
	}
	return out
}

// direction is ingress or egress, with its two calls.
type direction struct {
	name      string // the attribute
	authorize func(ctx context.Context, c *Client, id string, ips []types.IpPermission) error
	revoke    func(ctx context.Context, c *Client, id string, ips []types.IpPermission) error
}

var ingress = direction{
	name: "ingress",
	authorize: func(ctx context.Context, c *Client, id string, ips []types.IpPermission) error {
		_, err := c.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: ips})
		return callErr("ec2:AuthorizeSecurityGroupIngress", err)
	},
	revoke: func(ctx context.Context, c *Client, id string, ips []types.IpPermission) error {
		_, err := c.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(id), IpPermissions: ips})
		return callErr("ec2:RevokeSecurityGroupIngress", err)
	},
}

var egress = direction{
	name: "egress",
	authorize: func(ctx context.Context, c *Client, id string, ips []types.IpPermission) error {
		_, err := c.ec2.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: ips})
		return callErr("ec2:AuthorizeSecurityGroupEgress", err)
	},
	revoke: func(ctx context.Context, c *Client, id string, ips []types.IpPermission) error {
		_, err := c.ec2.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(id), IpPermissions: ips})
		return callErr("ec2:RevokeSecurityGroupEgress", err)
	},
}

// sync makes group id's permissions in direction d go from have to want:
// one revoke call for what goes, then one authorize call for what comes
// (none when nothing does). A permission that is already there (or
// already gone), because the state was older than EC2, is not an error:
// the call is then repeated one permission at a time, skipping those.
func (d direction) sync(ctx context.Context, c *Client, id string, have, want []perm) error {
	if gone := minus(have, want); len(gone) > 0 {
		err := d.revoke(ctx, c, id, ipPermissions(gone, false))
		if errorCode(err) == "InvalidPermission.NotFound" {
			err = d.oneByOne(ctx, c, id, gone, d.revoke, false, "InvalidPermission.NotFound")
		}
		if err != nil {
			return err
		}
	}
	if added := minus(want, have); len(added) > 0 {
		err := d.authorize(ctx, c, id, ipPermissions(added, true))
		if errorCode(err) == "InvalidPermission.Duplicate" {
			err = d.oneByOne(ctx, c, id, added, d.authorize, true, "InvalidPermission.Duplicate")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d direction) oneByOne(ctx context.Context, c *Client, id string, ps []perm, call func(context.Context, *Client, string, []types.IpPermission) error, withDesc bool, ignore string) error {
	for _, p := range ps {
		if err := call(ctx, c, id, ipPermissions([]perm{p}, withDesc)); err != nil && errorCode(err) != ignore {
			return err
		}
	}
	return nil
}
