package aws_test

import (
	"fmt"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
)

func rule(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func strs(s ...string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// permissions lists a group's permissions in EC2, one line each.
func permissions(t *testing.T, env *awstest.Env, id string) (in, out []string) {
	t.Helper()
	resp, err := env.EC2(env.Region).DescribeSecurityGroups(t.Context(), &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	list := func(ips []types.IpPermission) []string {
		var out []string
		for _, ip := range ips {
			p := awssdk.ToString(ip.IpProtocol)
			if ip.FromPort != nil {
				p += fmt.Sprintf(" %d-%d", *ip.FromPort, *ip.ToPort)
			}
			for _, r := range ip.IpRanges {
				out = append(out, p+" "+awssdk.ToString(r.CidrIp)+" "+awssdk.ToString(r.Description))
			}
			for _, g := range ip.UserIdGroupPairs {
				out = append(out, p+" "+awssdk.ToString(g.GroupId))
			}
		}
		return out
	}
	sg := resp.SecurityGroups[0]
	return list(sg.IpPermissions), list(sg.IpPermissionsEgress)
}

// TestSecurityGroupRuleDrift: rules added or removed outside ferry show
// in a read, and the update puts back exactly the configured ones.
func TestSecurityGroupRuleDrift(t *testing.T) {
	env := awstest.New(t)
	vpc := env.VPC(t, env.Region)
	c := configure(t, env, nil)
	o := newObject(t, resource(t, c, aws.SecurityGroupType), "web", map[string]any{
		"vpc_id": vpc,
		"ingress": []any{
			rule("protocol", "tcp", "port", num(22), "cidr_blocks", strs("0.0.0.0/0"), "description", "ssh"),
			rule("protocol", "tcp", "port", num(80), "cidr_blocks", strs("0.0.0.0/0", "10.1.0.0/16")),
		},
	})
	st := o.create("tok-web")
	id := st["id"].(string)
	o.steady("after create")
	in, out := permissions(t, env, id)
	if len(in) != 3 || len(out) != 1 {
		t.Fatalf("in EC2 after create: ingress %v, egress %v", in, out)
	}

	// Someone opens the database port and closes http from 10.1/16.
	ec2c := env.EC2(env.Region)
	_, err := ec2c.AuthorizeSecurityGroupIngress(t.Context(), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: awssdk.String(id), IpPermissions: []types.IpPermission{
		{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(5432), ToPort: awssdk.Int32(5432), IpRanges: []types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ec2c.RevokeSecurityGroupIngress(t.Context(), &ec2.RevokeSecurityGroupIngressInput{GroupId: awssdk.String(id), IpPermissions: []types.IpPermission{
		{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(80), ToPort: awssdk.Int32(80), IpRanges: []types.IpRange{{CidrIp: awssdk.String("10.1.0.0/16")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}

	// The rule EC2 still has whole keeps the form it was written in, so
	// that a plan shows only the rules that changed.
	drifted := o.refresh()
	want := []any{
		rule("protocol", "tcp", "port", num(22), "cidr_blocks", strs("0.0.0.0/0"), "description", "ssh"),
		rule("protocol", "tcp", "from_port", num(80), "to_port", num(80), "cidr_blocks", strs("0.0.0.0/0")),
		rule("protocol", "tcp", "from_port", num(5432), "to_port", num(5432), "cidr_blocks", strs("0.0.0.0/0")),
	}
	if diff := cmp.Diff(want, drifted["ingress"]); diff != "" {
		t.Errorf("ingress after the changes outside ferry (-want +read):\n%s", diff)
	}
	before := c.Calls().Total()
	o.update()
	// One revoke, one authorize.
	if n := c.Calls().Total() - before; n != 2 {
		t.Errorf("update made %d calls, want 2: %v", n, c.Calls().Counts())
	}
	o.steady("after the update")
	in, _ = permissions(t, env, id)
	if got := strings.Join(in, "; "); got != "tcp 22-22 0.0.0.0/0 ssh; tcp 80-80 0.0.0.0/0 ; tcp 80-80 10.1.0.0/16 " {
		t.Errorf("ingress in EC2 after the update: %s", got)
	}
}

// TestSecurityGroupRules: the forms a rule may take all read back as
// written, and egress = [] leaves nothing out.
func TestSecurityGroupRules(t *testing.T) {
	env := awstest.New(t)
	vpc := env.VPC(t, env.Region)
	r := resource(t, configure(t, env, nil), aws.SecurityGroupType)
	lb := newObject(t, r, "lb", map[string]any{"vpc_id": vpc, "group_name": "lb", "description": "load balancer"})
	lbID := lb.create("tok-lb")["id"].(string)
	o := newObject(t, r, "app", map[string]any{
		"vpc_id": vpc,
		"ingress": []any{
			rule("protocol", "tcp", "from_port", num(8000), "to_port", num(8099), "security_groups", strs(lbID)),
			rule("protocol", "udp", "port", num(53), "cidr_blocks", strs("127.0.1.0/24")),
			rule("protocol", "icmp", "cidr_blocks", strs("0.0.0.0/0")),
			rule("protocol", "all", "ipv6_cidr_blocks", strs("fd00::/8"), "description", "inside"),
		},
		"egress": []any{},
		"tags":   map[string]any{"role": "app"},
	})
	st := o.create("tok-app")
	o.steady("after create")
	if st["group_name"] != "ferry-app-"+st["group_name"].(string)[len("ferry-app-"):] || st["vpc_id"] != vpc {
		t.Errorf("state %v", st)
	}
	in, out := permissions(t, env, st["id"].(string))
	if len(in) != 3 || len(out) != 0 { // the IPv6 rule is not in permissions' list
		t.Errorf("in EC2: ingress %v, egress %v", in, out)
	}

	o.delete()
	if got := o.refresh(); got != nil {
		t.Errorf("after delete: %v", got)
	}
}

func TestSecurityGroupPlanErrors(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.SecurityGroupType)
	tests := []struct {
		rule any
		want string
	}{
		{rule("port", num(22), "cidr_blocks", strs("0.0.0.0/0")), `missing "protocol"`},
		{rule("protocol", "gre", "cidr_blocks", strs("0.0.0.0/0")), `protocol "gre"`},
		{rule("protocol", "tcp", "cidr_blocks", strs("0.0.0.0/0")), "needs port, or from_port and to_port"},
		{rule("protocol", "tcp", "port", num(22), "from_port", num(22), "to_port", num(22), "cidr_blocks", strs("0.0.0.0/0")), "either port or"},
		{rule("protocol", "tcp", "from_port", num(90), "to_port", num(80), "cidr_blocks", strs("0.0.0.0/0")), "from_port <= to_port"},
		{rule("protocol", "tcp", "port", num(70000), "cidr_blocks", strs("0.0.0.0/0")), "<= 65535"},
		{rule("protocol", "all", "port", num(22), "cidr_blocks", strs("0.0.0.0/0")), "has no ports"},
		{rule("protocol", "tcp", "port", num(22)), "needs a source"},
		{rule("protocol", "tcp", "port", num(22), "cidr_blocks", strs("10.0.0.1/8")), "write 10.0.0.0/8"},
		{rule("protocol", "tcp", "port", num(22), "cidr_blocks", strs("fd00::/8")), "IPv6 ones in ipv6_cidr_blocks"},
		{rule("protocol", "tcp", "port", num(22), "security_groups", strs("web")), "not a security group ID"},
		{rule("protocol", "tcp", "port", num(22), "cidr_block", strs("0.0.0.0/0")), `unknown key "cidr_block"`},
		{"tcp/22", "a rule is a dict"},
	}
	for _, tt := range tests {
		o := newObject(t, r, "g", map[string]any{"ingress": []any{tt.rule}})
		_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "aws.security_group.g: ingress[0]") {
			t.Errorf("plan of rule %v: error %v; want one naming aws.security_group.g: ingress[0] and saying %q", tt.rule, err, tt.want)
		}
	}
	o := newObject(t, r, "g", map[string]any{"ingress": []any{
		rule("protocol", "tcp", "port", num(22), "cidr_blocks", strs("0.0.0.0/0"), "description", "a"),
		rule("protocol", "tcp", "port", num(22), "cidr_blocks", strs("0.0.0.0/0"), "description", "b"),
	}})
	if _, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("plan of one permission with two descriptions: %v", err)
	}
}

// TestSecurityGroupGone: an update of a group deleted outside ferry says
// so and what to do.
func TestSecurityGroupGone(t *testing.T) {
	env := awstest.New(t)
	vpc := env.VPC(t, env.Region)
	o := newObject(t, resource(t, configure(t, env, nil), aws.SecurityGroupType), "g", map[string]any{"vpc_id": vpc})
	st := o.create("tok-gone")
	if _, err := env.EC2(env.Region).DeleteSecurityGroup(t.Context(), &ec2.DeleteSecurityGroupInput{GroupId: awssdk.String(st["id"].(string))}); err != nil {
		t.Fatal(err)
	}
	o.config["ingress"] = []any{rule("protocol", "tcp", "port", num(22), "cidr_blocks", strs("0.0.0.0/0"))}
	p := o.plan()
	_, err := o.r.Apply(t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Update, Prior: st, Planned: p.Planned})
	if err == nil || !strings.Contains(err.Error(), "no longer exists") || !strings.Contains(err.Error(), "ferry plan") {
		t.Errorf("update of a deleted group: %v", err)
	}
	if got := o.refresh(); got != nil {
		t.Errorf("read of a deleted group: %v", got)
	}
}
