package aws

import (
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
)

func r(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func TestParseRules(t *testing.T) {
	rules := []any{
		r("protocol", "TCP", "port", spec.Number(22), "cidr_blocks", []any{"0.0.0.0/0", "10.0.0.0/8"}, "description", "ssh"),
		r("protocol", "6", "port", spec.Number(22), "cidr_blocks", []any{"0.0.0.0/0"}, "description", "ssh"), // the same again
		r("protocol", "icmp", "from_port", spec.Number(8), "cidr_blocks", []any{"0.0.0.0/0"}),
		r("protocol", "all", "security_groups", []any{"sg-1"}),
		r("protocol", "50", "prefix_lists", []any{"pl-1"}),
	}
	got, complete, err := parseRules("a", "ingress", rules)
	if err != nil || !complete {
		t.Fatalf("parseRules: %v, complete %v", err, complete)
	}
	want := []perm{
		{proto: "-1", from: -1, to: -1, kind: "sg", source: "sg-1"},
		{proto: "50", from: -1, to: -1, kind: "pl", source: "pl-1"},
		{proto: "icmp", from: 8, to: -1, kind: "cidr", source: "0.0.0.0/0"},
		{proto: "tcp", from: 22, to: 22, kind: "cidr", source: "0.0.0.0/0", desc: "ssh"},
		{proto: "tcp", from: 22, to: 22, kind: "cidr", source: "10.0.0.0/8", desc: "ssh"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(perm{})); diff != "" {
		t.Errorf("permissions (-want +got):\n%s", diff)
	}
}

// TestRulesRoundTrip: EC2's permissions written as rules parse back to
// the same permissions, and group as EC2 shows them.
func TestRulesRoundTrip(t *testing.T) {
	ips := []types.IpPermission{
		{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(80), ToPort: awssdk.Int32(80), IpRanges: []types.IpRange{{CidrIp: awssdk.String("10.0.0.0/8")}, {CidrIp: awssdk.String("0.0.0.0/0")}}},
		{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22), IpRanges: []types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0"), Description: awssdk.String("ssh")}}, UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: awssdk.String("sg-9"), UserId: awssdk.String("123456789012")}}},
		{IpProtocol: awssdk.String("-1"), Ipv6Ranges: []types.Ipv6Range{{CidrIpv6: awssdk.String("::/0")}}},
	}
	perms := permsOf(ips)
	rules := rulesOf(perms)
	want := []any{
		r("protocol", "-1", "ipv6_cidr_blocks", []any{"::/0"}),
		r("protocol", "tcp", "from_port", spec.Number(22), "to_port", spec.Number(22), "security_groups", []any{"sg-9"}),
		r("protocol", "tcp", "from_port", spec.Number(22), "to_port", spec.Number(22), "cidr_blocks", []any{"0.0.0.0/0"}, "description", "ssh"),
		r("protocol", "tcp", "from_port", spec.Number(80), "to_port", spec.Number(80), "cidr_blocks", []any{"0.0.0.0/0", "10.0.0.0/8"}),
	}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	back, complete, err := parseRules("a", "ingress", rules)
	if err != nil || !complete {
		t.Fatalf("parse of written rules: %v", err)
	}
	if diff := cmp.Diff(perms, back, cmp.AllowUnexported(perm{})); diff != "" {
		t.Errorf("round trip (-EC2 +parsed):\n%s", diff)
	}
	// One Authorize call groups them by protocol and ports again.
	if got := len(ipPermissions(perms, true)); got != 3 {
		t.Errorf("ipPermissions made %d groups, want 3", got)
	}
}

// TestShapeRules: a read keeps the configuration's form while the
// permissions are the same, whatever order EC2 returns them in.
func TestShapeRules(t *testing.T) {
	prior := []any{
		r("protocol", "tcp", "port", spec.Number(22), "cidr_blocks", []any{"10.0.0.0/8", "0.0.0.0/0"}),
	}
	same := permsOf([]types.IpPermission{{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22),
		IpRanges: []types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0")}, {CidrIp: awssdk.String("10.0.0.0/8")}}}})
	if diff := cmp.Diff(any(prior), shapeRules("a", "ingress", prior, same)); diff != "" {
		t.Errorf("same permissions changed the form (-prior +read):\n%s", diff)
	}
	fewer := same[:1]
	got := shapeRules("a", "ingress", prior, fewer)
	if cmp.Equal(any(prior), got) {
		t.Errorf("a removed permission kept the prior form")
	}
}

func TestUnknownRules(t *testing.T) {
	u := spec.Unknown{Source: "aws.security_group.lb.id"}
	for _, v := range []any{
		u,
		[]any{u},
		[]any{r("protocol", "tcp", "port", spec.Number(80), "security_groups", []any{u})},
		[]any{r("protocol", "tcp", "port", u, "cidr_blocks", []any{"0.0.0.0/0"})},
	} {
		if _, complete, err := parseRules("a", "ingress", v); err != nil || complete {
			t.Errorf("parseRules(%s) = complete %v, %v; want incomplete, no error", spec.Render(v), complete, err)
		}
	}
	_, _, err := parseRules("a", "ingress", []any{r("protocol", "tcp", "port", u, "cidr_blocks", []any{"nonsense"})})
	if err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("a bad known part next to an unknown one: %v", err)
	}
}

func TestMinus(t *testing.T) {
	a := perm{proto: "tcp", from: 22, to: 22, kind: "cidr", source: "0.0.0.0/0"}
	b := a
	b.desc = "ssh"
	if got := minus([]perm{a}, []perm{b}); len(got) != 1 {
		t.Errorf("a description change must revoke and authorize: minus = %v", got)
	}
}
