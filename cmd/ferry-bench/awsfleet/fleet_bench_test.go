package awsfleet

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"golang.org/x/crypto/ssh"

	_ "gocloud.dev/blob/fileblob" // file:// state, the CLI's default

	"github.com/nixferry/ferry/cmd/ferry/cli"
	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/lang"
	"github.com/nixferry/ferry/providers"
	awsprovider "github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/checked"
)

// fleetStar is the deployment: a VPC, a subnet and a key pair, and n of
// each of a security group, a volume and an instance that uses its group
// and the key pair. The instances launch into the bed's loopback subnet
// (var subnet), so that moto gives them addresses nothing else uses; their
// groups are in its VPC. The volumes are not attached: the instances are
// plain ones.
const fleetStar = `
n = int(var("n"))
aws.provider(region = var("region"), endpoint = var("endpoint"))
vpc = aws.vpc(name = "main", cidr_block = "10.20.0.0/16")
subnet = aws.subnet(name = "main", vpc_id = vpc.id, cidr_block = "10.20.1.0/24", availability_zone = var("zone"))
key = aws.key_pair(name = "deploy", public_key = var("public_key"))

def fleet():
    for i in range(n):
        sg = aws.security_group(name = "web%d" % i, vpc_id = var("bed_vpc"),
            ingress = [{"protocol": "tcp", "port": 22, "cidr_blocks": ["10.0.0.0/8"]}])
        aws.ebs_volume(name = "data%d" % i, availability_zone = var("zone"), size = 8)
        aws.instance(name = "web%d" % i, nixos_release = "25.11", instance_type = "t3.micro",
            subnet_id = var("subnet"), key_name = key.key_name, security_group_ids = [sg.id],
            tags = {"fleet": "bench"})

fleet()
`

// fleetSize is the fleet: 200 of each.
const fleetSize = 200

// BenchmarkAWSFleet200 measures issue 11's targets for a fleet on EC2
// (moto), each iteration on a fresh state and an empty moto (emptyBed):
//
//   - plan-s: load ferry.star, plan from empty state and encode the plan
//     file, as `ferry plan --out` (target ≤ 1 s);
//   - apply-s: decode the plan file and apply it, as `ferry apply PLAN`,
//     at --parallelism 10 (the CLI's default) inside the aws provider's
//     own limit of 16 calls at once (awsprovider.DefaultLimit) (≤ 15 s);
//   - calls/instance: the API calls of the aws.instance creates per
//     instance (≤ 5); apply-calls are the apply's calls of every type;
//   - noop-plan-s and noop-plan-ec2-calls: a plan of the applied
//     configuration, which must find no change (≤ 1 s, ≤ 10 EC2 calls);
//     noop-norefresh-s is the same plan with --refresh=false: ferry's
//     own share of it (the rest is moto rendering 200 of each object);
//   - destroy-s: plan and apply the deletion of everything, as `ferry
//     destroy` (≤ 15 s).
//
// Values are medians over the iterations. The calls of each resource type
// are counted apart (a configuration per type, see splitAWS) and logged.
// moto answers one request at a time, so the calls decide the time.
//
//	go test ./cmd/ferry-bench/awsfleet -run '^$' -bench AWSFleet200 -benchtime 1x
func BenchmarkAWSFleet200(b *testing.B) {
	env := awstest.New(b)
	aws := &splitAWS{Provider: awsprovider.New()}
	reg, err := providers.NewRegistry(checked.WrapProvider(aws))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(fleetStar), 0o644); err != nil {
		b.Fatal(err)
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		b.Fatal(err)
	}
	bed := env.Subnet(b, env.Region)
	vars := map[string]string{
		"n": strconv.Itoa(fleetSize), "region": env.Region, "endpoint": env.URL, "zone": bed.Zone,
		"public_key": strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))),
	}
	load := func() *spec.Config {
		cfg, err := lang.Load(b.Context(), lang.Options{
			Dir: dir, Vars: vars, Schemas: reg.Schemas(), Providers: cli.LangProviders(reg),
			Print: func(spec.Pos, string) {},
		})
		if err != nil {
			b.Fatalf("load ferry.star: %v", err)
		}
		return cfg
	}

	var m struct{ plan, apply, noop, noopNoRefresh, destroy, perInstance, applyCalls, noopEC2 []float64 }
	var planCounts, applyCounts, noopCounts, destroyCounts map[string]map[string]int
	iter := 0
	for b.Loop() {
		iter++
		b.StopTimer()
		vars["bed_vpc"], vars["subnet"] = emptyBed(b, env, bed)
		store, err := statestore.Open(b.Context(), "file://"+filepath.ToSlash(filepath.Join(b.TempDir(), "state")))
		if err != nil {
			b.Fatal(err)
		}
		eng := &engine.Engine{Providers: reg, Store: store, Version: "bench"}
		deployment := fmt.Sprintf("fleet%d", iter)
		b.StartTimer()

		// ferry plan --out plan.json
		aws.reset()
		start := time.Now()
		p, err := eng.Plan(b.Context(), load(), engine.PlanOptions{Deployment: deployment})
		if err != nil {
			b.Fatalf("plan: %v", err)
		}
		file, err := plan.Encode(p)
		if err != nil {
			b.Fatal(err)
		}
		m.plan = append(m.plan, time.Since(start).Seconds())
		planCounts = aws.counts()
		if c := p.Count(); c.Add != 3*fleetSize+3 {
			b.Fatalf("plan adds %d resources, want %d", c.Add, 3*fleetSize+3)
		}

		// ferry apply plan.json
		aws.reset()
		start = time.Now()
		p, err = plan.Decode("plan.json", file)
		if err != nil {
			b.Fatal(err)
		}
		res, err := eng.Apply(b.Context(), p, engine.ApplyOptions{Dir: dir, Deployment: deployment})
		if err == nil {
			err = res.Err()
		}
		if err != nil {
			b.Fatalf("apply: %v", err)
		}
		m.apply = append(m.apply, time.Since(start).Seconds())
		applyCounts = aws.counts()
		m.perInstance = append(m.perInstance, float64(total(applyCounts[awsprovider.InstanceType]))/fleetSize)
		m.applyCalls = append(m.applyCalls, float64(total(merged(applyCounts))))

		// ferry plan, nothing changed
		aws.reset()
		start = time.Now()
		p, err = eng.Plan(b.Context(), load(), engine.PlanOptions{Deployment: deployment})
		if err != nil {
			b.Fatalf("no-change plan: %v", err)
		}
		m.noop = append(m.noop, time.Since(start).Seconds())
		noopCounts = aws.counts()
		m.noopEC2 = append(m.noopEC2, float64(totalOf(merged(noopCounts), "EC2.")))
		if p.HasChanges() {
			b.Fatalf("the plan after apply has changes: %+v", p.Count())
		}
		// The same without refresh: what of it is ferry's own work.
		start = time.Now()
		if _, err := eng.Plan(b.Context(), load(), engine.PlanOptions{Deployment: deployment, NoRefresh: true}); err != nil {
			b.Fatalf("no-change plan without refresh: %v", err)
		}
		m.noopNoRefresh = append(m.noopNoRefresh, time.Since(start).Seconds())

		// ferry destroy
		aws.reset()
		start = time.Now()
		p, err = eng.Plan(b.Context(), load(), engine.PlanOptions{Deployment: deployment, Destroy: true})
		if err != nil {
			b.Fatalf("destroy plan: %v", err)
		}
		if c := p.Count(); c.Destroy != 3*fleetSize+3 {
			b.Fatalf("destroy plan deletes %d resources, want %d", c.Destroy, 3*fleetSize+3)
		}
		res, err = eng.Apply(b.Context(), p, engine.ApplyOptions{Dir: dir, Deployment: deployment})
		if err == nil {
			err = res.Err()
		}
		if err != nil {
			b.Fatalf("destroy: %v", err)
		}
		m.destroy = append(m.destroy, time.Since(start).Seconds())
		destroyCounts = aws.counts()

		b.StopTimer()
		if err := store.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.Logf("plan calls by type: %v", planCounts)
	b.Logf("apply calls by type: %v", applyCounts)
	b.Logf("no-change plan calls by type: %v", noopCounts)
	b.Logf("destroy calls by type: %v", destroyCounts)
	b.Logf("plan-s %.3f, apply-s %.2f, noop-plan-s %.3f (without refresh %.3f), destroy-s %.2f (each run)", m.plan, m.apply, m.noop, m.noopNoRefresh, m.destroy)
	b.ReportMetric(median(m.plan), "plan-s")
	b.ReportMetric(median(m.apply), "apply-s")
	b.ReportMetric(median(m.applyCalls), "apply-calls")
	b.ReportMetric(median(m.perInstance), "calls/instance")
	b.ReportMetric(median(m.noop), "noop-plan-s")
	b.ReportMetric(median(m.noopEC2), "noop-plan-ec2-calls")
	b.ReportMetric(median(m.noopNoRefresh), "noop-norefresh-s")
	b.ReportMetric(median(m.destroy), "destroy-s")
	b.ReportMetric(float64(awsprovider.DefaultLimit), "api-limit")
	b.ReportMetric(float64(engine.LimitParallelism.Default), "parallelism")
}

// emptyBed resets moto and makes the bed's loopback VPC and subnet again,
// with the networks the bed leased for this test (the guard allows the
// subnet still), and returns their IDs. Every iteration starts on an
// empty moto: moto lists terminated instances and deleted volumes on, and
// scans them on every describe, so that each run would be slower than the
// one before it.
func emptyBed(b *testing.B, env *awstest.Env, bed awstest.Subnet) (vpc, subnet string) {
	b.Helper()
	ctx := b.Context()
	if err := env.Server().Reset(ctx); err != nil {
		b.Fatal(err)
	}
	ec2c := env.EC2(bed.Region)
	vpcNet := netip.PrefixFrom(bed.CIDR.Addr(), 16).Masked()
	v, err := ec2c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: awssdk.String(vpcNet.String())})
	if err != nil {
		b.Fatalf("loopback VPC %s: %v", vpcNet, err)
	}
	s, err := ec2c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: v.Vpc.VpcId, CidrBlock: awssdk.String(bed.CIDR.String()), AvailabilityZone: awssdk.String(bed.Zone)})
	if err != nil {
		b.Fatalf("loopback subnet %s: %v", bed.CIDR, err)
	}
	return awssdk.ToString(v.Vpc.VpcId), awssdk.ToString(s.Subnet.SubnetId)
}

// splitAWS is the aws provider with a configuration (awsprovider.Client,
// and so a CallCounter) of its own for each type of splitTypes behind
// each configuration the engine asks for, so that their calls are counted
// apart; the other types share one (counted as "other"). The engine sees
// one configuration with the provider's limit: what it runs, and how much
// at once, is what the CLI's wiring runs.
type splitAWS struct {
	*awsprovider.Provider

	mu      sync.Mutex
	clients []map[string]*awsprovider.Client // by type or "other", one map per Configure since reset
}

var splitTypes = []string{awsprovider.InstanceType, awsprovider.SecurityGroupType, awsprovider.EBSVolumeType}

func (p *splitAWS) Configure(ctx context.Context, req providers.ConfigureRequest) (providers.Configured, error) {
	clients := map[string]*awsprovider.Client{}
	for _, key := range append([]string{"other"}, splitTypes...) {
		c, err := p.Provider.Configure(ctx, req)
		if err != nil {
			return nil, err
		}
		clients[key] = c.(*awsprovider.Client)
	}
	out := &splitConfigured{resources: clients["other"].Resources(), limit: clients["other"].Limit()}
	for _, typ := range splitTypes {
		out.resources[typ] = clients[typ].Resources()[typ]
	}
	p.mu.Lock()
	p.clients = append(p.clients, clients)
	p.mu.Unlock()
	return out, nil
}

// reset forgets the configurations made so far: counts then covers what
// configurations made after it did.
func (p *splitAWS) reset() {
	p.mu.Lock()
	p.clients = nil
	p.mu.Unlock()
}

// counts returns the calls since reset by type (or "other") and
// operation.
func (p *splitAWS) counts() map[string]map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]map[string]int{}
	for _, byType := range p.clients {
		for typ, c := range byType {
			for op, n := range c.Calls().Counts() {
				if out[typ] == nil {
					out[typ] = map[string]int{}
				}
				out[typ][op] += n
			}
		}
	}
	return out
}

type splitConfigured struct {
	resources map[string]providers.Resource
	limit     int
}

func (c *splitConfigured) Resources() map[string]providers.Resource { return maps.Clone(c.resources) }
func (c *splitConfigured) Limit() int                               { return c.limit }

func merged(byType map[string]map[string]int) map[string]int {
	out := map[string]int{}
	for _, ops := range byType {
		for op, n := range ops {
			out[op] += n
		}
	}
	return out
}

func total(ops map[string]int) int { return totalOf(ops, "") }

func totalOf(ops map[string]int, prefix string) int {
	n := 0
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		if strings.HasPrefix(op, prefix) {
			n += ops[op]
		}
	}
	return n
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	sort.Float64s(s)
	return s[len(s)/2]
}
