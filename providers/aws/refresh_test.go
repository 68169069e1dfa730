package aws_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
)

// fleet creates n key pairs and n security groups and returns their
// read requests, by type.
func fleet(t testing.TB, env *awstest.Env, c *aws.Client, n int) map[string][]providers.ReadRequest {
	t.Helper()
	vpc := env.VPC(t, env.Region)
	return map[string][]providers.ReadRequest{
		aws.KeyPairType: objects(t, c, aws.KeyPairType, map[string]any{"public_key": testPublicKey}, n),
		aws.SecurityGroupType: objects(t, c, aws.SecurityGroupType, map[string]any{"vpc_id": vpc, "ingress": []any{
			map[string]any{"protocol": "tcp", "port": num(22), "cidr_blocks": []any{"0.0.0.0/0"}},
		}}, n),
	}
}

// objects creates n objects of type typ with the arguments args (the
// schema's defaults for the others) and returns their read requests.
func objects(t testing.TB, c *aws.Client, typ string, args map[string]any, n int) []providers.ReadRequest {
	t.Helper()
	r := c.Resources()[typ]
	var out []providers.ReadRequest
	for i := range n {
		addr := fmt.Sprintf("%s.n%d", typ, i)
		cfg := map[string]any{}
		for k, v := range args {
			cfg[k] = v
		}
		s := r.Schema()
		for _, at := range s.Attrs {
			if _, set := cfg[at.Name]; !set && at.Default != nil {
				cfg[at.Name] = at.Default
			}
		}
		p, err := r.Plan(t.Context(), providers.PlanRequest{Addr: addr, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := r.Apply(t.Context(), providers.ApplyRequest{Addr: addr, Action: providers.Create, Planned: p.Planned, Token: fmt.Sprintf("tok-%s-%d", typ, i)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, providers.ReadRequest{Addr: addr, Prior: resp.State})
	}
	return out
}

// refresh reads every object of the fleet, one ReadMany per type, and
// returns the calls it made.
func refresh(t testing.TB, c *aws.Client, reqs map[string][]providers.ReadRequest) int {
	t.Helper()
	before := c.Calls().Total()
	for typ, rs := range reqs {
		resps, err := c.Resources()[typ].(providers.BatchReader).ReadMany(t.Context(), rs)
		if err != nil {
			t.Fatal(err)
		}
		for i, resp := range resps {
			if resp.State == nil {
				t.Fatalf("%s: gone", rs[i].Addr)
			}
		}
	}
	return c.Calls().Total() - before
}

// TestRefreshPages: a refresh asks for a page of IDs per call.
func TestRefreshPages(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	reqs := fleet(t, env, c, 7)
	aws.SetPageSize(c, 3)
	before := c.Calls().Counts()
	if n := refresh(t, c, reqs); n != 6 {
		t.Errorf("refresh of 7 key pairs and 7 groups in pages of 3 made %d calls, want 6", n)
	}
	after := c.Calls().Counts()
	for _, op := range []string{"EC2.DescribeKeyPairs", "EC2.DescribeSecurityGroups"} {
		if n := after[op] - before[op]; n != 3 {
			t.Errorf("%s: %d calls, want 3", op, n)
		}
	}
}

// BenchmarkRefresh refreshes 200 key pairs and 200 security groups: the
// issue's bound is at most 10 EC2 calls for a whole deployment's refresh.
func BenchmarkRefresh(b *testing.B) {
	env := awstest.New(b)
	c := configure(b, env, nil)
	start := time.Now()
	reqs := fleet(b, env, c, 200)
	b.Logf("created 200 key pairs and 200 security groups in %s, %d calls", time.Since(start).Round(time.Millisecond), c.Calls().Total())
	b.ResetTimer()
	calls := 0
	for b.Loop() {
		calls = refresh(b, c, reqs)
	}
	b.ReportMetric(float64(calls), "calls/refresh")
}

// instanceFleet creates n instances in one subnet, the first withEIP of
// them with an elastic IP, and returns their read requests.
func instanceFleet(t testing.TB, env *awstest.Env, c *aws.Client, n, withEIP int) []providers.ReadRequest {
	t.Helper()
	subnet := env.Subnet(t, env.Region)
	r := c.Resources()[aws.InstanceType]
	var out []providers.ReadRequest
	for i := range n {
		addr := fmt.Sprintf("%s.m%d", aws.InstanceType, i)
		cfg := map[string]any{"nixos_release": "25.11", "instance_type": "t3.micro", "subnet_id": subnet.ID, "arch": "x86_64", "nixos_host_key": true, "volumes": []any{}, "tags": map[string]any{"fleet": "bench"}}
		if i < withEIP {
			alloc, err := env.EC2(env.Region).AllocateAddress(t.Context(), &ec2.AllocateAddressInput{Domain: types.DomainTypeVpc})
			if err != nil {
				t.Fatal(err)
			}
			cfg["elastic_ip"] = *alloc.AllocationId
		}
		p, err := r.Plan(t.Context(), providers.PlanRequest{Addr: addr, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := r.Apply(t.Context(), providers.ApplyRequest{Addr: addr, Action: providers.Create, Planned: p.Planned, Token: fmt.Sprintf("tok-m%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, providers.ReadRequest{Addr: addr, Prior: resp.State})
	}
	return out
}

// BenchmarkRefreshEC2 refreshes a NixOS fleet on EC2: 200 instances (10
// of them with an elastic IP), 200 security groups and 200 EBS volumes,
// within the bound of 10 EC2 calls: one DescribeInstances, one
// DescribeAddresses, one DescribeSecurityGroups and one DescribeVolumes.
func BenchmarkRefreshEC2(b *testing.B) {
	env := awstest.New(b)
	c := configure(b, env, nil)
	start := time.Now()
	reqs := map[string][]providers.ReadRequest{aws.InstanceType: instanceFleet(b, env, c, 200, 10)}
	reqs[aws.SecurityGroupType] = fleet(b, env, c, 200)[aws.SecurityGroupType]
	reqs[aws.EBSVolumeType] = objects(b, c, aws.EBSVolumeType, map[string]any{"availability_zone": env.Region + "a", "size": num(8)}, 200)
	b.Logf("created 200 instances, 200 security groups and 200 volumes (and 200 key pairs) in %s, %d calls", time.Since(start).Round(time.Millisecond), c.Calls().Total())
	b.ResetTimer()
	calls := 0
	var counts map[string]int
	for b.Loop() {
		before := c.Calls().Counts()
		calls = refresh(b, c, reqs)
		counts = c.Calls().Counts()
		for op, n := range before {
			if counts[op] -= n; counts[op] == 0 {
				delete(counts, op)
			}
		}
	}
	if calls > 10 {
		b.Errorf("refresh of 200 instances, 200 security groups and 200 volumes made %d EC2 calls, want at most 10: %v", calls, counts)
	}
	b.Logf("calls of one refresh: %v", counts)
	b.ReportMetric(float64(calls), "calls/refresh")
}
