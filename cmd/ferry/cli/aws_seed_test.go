package cli

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/remote/dialguard"
)

// The seeds' example on EC2 (examples/aws-webserver), end to end on moto
// through the CLI: the file users run against AWS, with vars that point
// it at the test bed.

// seedExample is the folder of the example.
const seedExample = "../../../examples/aws-webserver"

// secondRegion is the example's other region ("us"); the bed's own
// region is its "eu".
const secondRegion = "us-east-1"

// The example's machines, by the region of their instance.
var seedMachines = map[string]string{"web-eu": awstest.DefaultRegion, "web-us": secondRegion}

// newSeedBed is the test bed of examples/aws-webserver: its files copied
// into the bed's folder, a loopback subnet in each of its two regions,
// and the vars that point it at moto: the endpoint, the bed's VPCs and
// subnets, logins on private addresses, the test's public key.
func newSeedBed(t *testing.T) *awsBed {
	t.Helper()
	files := map[string][]byte{}
	entries, err := os.ReadDir(seedExample)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue // .ferry of other runs
		}
		data, err := os.ReadFile(filepath.Join(seedExample, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	b := newAWSBedFiles(t, files)
	us := b.env.Subnet(t, secondRegion)
	b.set(map[string]string{
		"FERRY_VAR_eu_region":      b.env.Region,
		"FERRY_VAR_eu_vpc":         b.lookup["FERRY_VAR_vpc"],
		"FERRY_VAR_eu_subnet":      b.lookup["FERRY_VAR_subnet"],
		"FERRY_VAR_us_region":      secondRegion,
		"FERRY_VAR_us_vpc":         us.VPC,
		"FERRY_VAR_us_subnet":      us.ID,
		"FERRY_VAR_connect":        "private",
		"FERRY_VAR_ssh_public_key": b.pubkey,
		dialguard.Env:              b.env.Guard().String(), // now with the second region's subnet
	})
	return b
}

// set sets environment variables for the following ferry runs.
func (b *awsBed) set(vars map[string]string) {
	b.t.Helper()
	for k, v := range vars {
		b.lookup[k] = v
		b.t.Setenv(k, v)
	}
}

// seedSystems are the systems a plan pins for the example's machines, by
// machine name.
func seedSystems(t testing.TB, plan string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name := range seedMachines {
		m := regexp.MustCompile(`system:\s+(/nix/store/\S+-nixos-system-` + name + `-\S+)`).FindStringSubmatch(planBlock(plan, "machine."+name))
		if m == nil {
			t.Fatalf("the plan pins no system for machine.%s:\n%s", name, plan)
		}
		out[name] = m[1]
	}
	return out
}

// planBlock is the entry of addr in a rendered plan: from its "# ADDR
// will ..." line to the next blank line.
func planBlock(plan, addr string) string {
	_, rest, ok := strings.Cut(plan, "# "+addr+" ")
	if !ok {
		return ""
	}
	block, _, _ := strings.Cut(rest, "\n\n")
	return block
}

// liveInstances are the instances of region that are not terminated, by
// ID.
func (b *awsBed) liveInstances(region string) map[string]ec2types.Instance {
	b.t.Helper()
	out := map[string]ec2types.Instance{}
	p := ec2.NewDescribeInstancesPaginator(b.env.EC2(region), &ec2.DescribeInstancesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(b.t.Context())
		if err != nil {
			b.t.Fatalf("DescribeInstances in %s: %v", region, err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				if in.State != nil && in.State.Name != ec2types.InstanceStateNameTerminated {
					out[aws.ToString(in.InstanceId)] = in
				}
			}
		}
	}
	return out
}

// deployed checks that machine name runs system on the test host of its
// instance, and returns that instance's ID.
func (b *awsBed) deployed(ctx context.Context, name, system string) string {
	b.t.Helper()
	id := b.instanceID("aws.instance." + name)
	in, err := b.watch.WaitUp(ctx, id)
	if err != nil {
		b.t.Fatal(err)
	}
	if got, err := in.Host.CurrentSystem(); err != nil || got != system {
		b.t.Errorf("machine.%s: the host of %s runs %q (%v), want %s", name, id, got, err, system)
	}
	return id
}

// hostConfig is the part of a system's configuration that the stub
// nixpkgs writes to etc/ferry-config.json, as the host holds it.
type hostConfig struct {
	HostName    string `json:"hostName"`
	FileSystems map[string]struct {
		Device     string `json:"device"`
		FSType     string `json:"fsType"`
		AutoFormat bool   `json:"autoFormat"`
	} `json:"fileSystems"`
	Services struct {
		Nginx struct {
			Enable bool `json:"enable"`
		} `json:"nginx"`
	} `json:"services"`
}

func (b *awsBed) hostConfig(ctx context.Context, id, system string) hostConfig {
	b.t.Helper()
	in, err := b.watch.WaitUp(ctx, id)
	if err != nil {
		b.t.Fatal(err)
	}
	data, err := os.ReadFile(in.Host.StorePath(system + "/etc/ferry-config.json"))
	if err != nil {
		b.t.Fatalf("the host of %s lacks its system's configuration: %v", id, err)
	}
	var c hostConfig
	if err := json.Unmarshal(data, &c); err != nil {
		b.t.Fatal(err)
	}
	return c
}

// noChanges checks that a plan finds nothing to do.
func (b *awsBed) noChanges(when string) {
	b.t.Helper()
	if out := b.ferry(0, "", "plan", "--detailed-exitcode").stdout; !strings.Contains(out, "No changes.") {
		b.t.Errorf("plan %s:\n%s", when, out)
	}
}

// TestSeedExample: examples/aws-webserver planned and applied on moto.
// The plan pins each machine's system and the NixOS image, and shows
// every address as known after apply; apply creates the instances in
// both regions, deploys both systems onto their hosts, attaches the data
// volume to the European server, which mounts it at /data, and associates
// the elastic IP with it; the next plan is empty.
func TestSeedExample(t *testing.T) {
	b := newSeedBed(t)
	ctx := waitCtx(t)

	p := b.ferry(0, "", "plan", "--out", "plan.json").stdout
	image := awstest.NixOSImages()[0].ID // the newest 25.11 x86_64 image
	for name := range seedMachines {
		inst := planBlock(p, "aws.instance."+name)
		for _, want := range []string{
			`will be created`,
			`\+ ami\s+= "` + image + `"`,
			`\+ private_ip\s+= \(known after apply\)`,
			`\+ public_ip\s+= \(known after apply\)`,
			`\+ host_key\s+= \(known after apply\)`,
		} {
			if !regexp.MustCompile(want).MatchString(inst) {
				t.Errorf("plan of aws.instance.%s lacks %s:\n%s", name, want, inst)
			}
		}
		m := planBlock(p, "machine."+name)
		for _, want := range []string{
			"will be deployed",
			"host = aws.instance." + name + ".private_ip (known after apply)",
			"host key: aws.instance." + name + ".host_key (known after apply), pinned before the first login",
		} {
			if !strings.Contains(m, want) {
				t.Errorf("plan of machine.%s lacks %q:\n%s", name, want, m)
			}
		}
	}
	if eip := planBlock(p, "aws.elastic_ip.web-eu"); !regexp.MustCompile(`\+ public_ip\s+= \(known after apply\)`).MatchString(eip) {
		t.Errorf("plan of the elastic IP:\n%s", eip)
	}
	if !strings.Contains(p, "Plan: 11 to add, 0 to change, 0 to destroy. 2 machines to deploy, 0 unchanged.") {
		t.Errorf("plan summary:\n%s", p)
	}
	systems := seedSystems(t, p)

	if out := b.ferry(0, "", "apply", "plan.json").stdout; !strings.Contains(out, "Resources: 11 added, 0 changed, 0 destroyed. Machines: 2 deployed.") {
		t.Errorf("apply:\n%s", out)
	}
	ids := map[string]string{}
	for name, region := range seedMachines {
		id := b.deployed(ctx, name, systems[name])
		ids[name] = id
		live := b.liveInstances(region)
		if _, ok := live[id]; !ok || len(live) != 1 {
			t.Errorf("instances in %s: %v, want only %s (machine.%s)", region, slices.Collect(maps.Keys(live)), id, name)
		}
		c := b.hostConfig(ctx, id, systems[name])
		if c.HostName != name || !c.Services.Nginx.Enable {
			t.Errorf("machine.%s runs a system of host %q, nginx enabled %v", name, c.HostName, c.Services.Nginx.Enable)
		}
		data, mounted := c.FileSystems["/data"]
		switch {
		case name == "web-eu" && (!mounted || data.Device != "/dev/xvdf" || data.FSType != "ext4" || !data.AutoFormat):
			t.Errorf("machine.web-eu: /data is %+v (mounted %v), want /dev/xvdf, ext4, formatted on first boot", data, mounted)
		case name == "web-us" && mounted:
			t.Errorf("machine.web-us mounts /data: %+v", data)
		}
	}

	// The data volume is attached to the European instance as /dev/xvdf,
	// and the elastic IP is associated with it.
	eu := b.env.EC2(b.env.Region)
	vol := b.instanceID("aws.ebs_volume.data")
	vols, err := eu.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{vol}})
	if err != nil {
		t.Fatal(err)
	}
	if a := vols.Volumes[0].Attachments; len(a) != 1 || aws.ToString(a[0].InstanceId) != ids["web-eu"] || aws.ToString(a[0].Device) != "/dev/xvdf" {
		t.Errorf("data volume %s: attachments %+v, want %s as /dev/xvdf", vol, a, ids["web-eu"])
	}
	addrs, err := eu.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{b.instanceID("aws.elastic_ip.web-eu")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(addrs.Addresses[0].InstanceId); got != ids["web-eu"] {
		t.Errorf("the elastic IP is associated with %q, want %s", got, ids["web-eu"])
	}

	b.noChanges("after apply")
}

// applySeed plans and applies the example from scratch and returns the
// systems the plan pinned.
func (b *awsBed) applySeed() map[string]string {
	b.t.Helper()
	systems := seedSystems(b.t, b.ferry(0, "", "plan", "--out", "plan.json").stdout)
	b.ferry(0, "", "apply", "plan.json")
	return systems
}

// TestSeedInstanceTerminatedOutside: the European instance is terminated
// behind ferry's back (its data volume and elastic IP stay). The next
// plan creates it again and deploys its machine, and nothing else; apply
// brings the new instance up with the same system, the volume and the
// address.
func TestSeedInstanceTerminatedOutside(t *testing.T) {
	b := newSeedBed(t)
	ctx := waitCtx(t)
	systems := b.applySeed()
	old := b.deployed(ctx, "web-eu", systems["web-eu"])
	us := b.instanceID("aws.instance.web-us")

	eu := b.env.EC2(b.env.Region)
	if _, err := eu.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{old}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.watch.WaitGone(ctx, old); err != nil {
		t.Fatal(err)
	}

	p := b.ferry(0, "", "plan", "--out", "plan.json").stdout
	for _, want := range []string{
		"# aws.instance.web-eu will be created",
		"# machine.web-eu will be deployed",
		"Plan: 1 to add, 0 to change, 0 to destroy. 1 machine to deploy, 1 unchanged.",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("plan after the instance was terminated lacks %q:\n%s", want, p)
		}
	}
	b.ferry(0, "", "apply", "plan.json")
	id := b.deployed(ctx, "web-eu", systems["web-eu"])
	if id == old {
		t.Fatalf("state still records the terminated instance %s", old)
	}
	if live := b.liveInstances(b.env.Region); len(live) != 1 {
		t.Errorf("instances in %s after the re-create: %v, want only %s", b.env.Region, slices.Collect(maps.Keys(live)), id)
	}
	if got := b.instanceID("aws.instance.web-us"); got != us {
		t.Errorf("aws.instance.web-us is %s, was %s: it should not have been touched", got, us)
	}
	vols, err := eu.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{b.instanceID("aws.ebs_volume.data")}})
	if err != nil {
		t.Fatal(err)
	}
	if a := vols.Volumes[0].Attachments; len(a) != 1 || aws.ToString(a[0].InstanceId) != id {
		t.Errorf("data volume attachments %+v, want the new instance %s", a, id)
	}
	addrs, err := eu.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{b.instanceID("aws.elastic_ip.web-eu")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(addrs.Addresses[0].InstanceId); got != id {
		t.Errorf("the elastic IP is associated with %q, want the new instance %s", got, id)
	}
	b.noChanges("after the re-create")
}

// TestSeedSecurityGroupRuleAddedOutside: a rule added to the HTTP group
// behind ferry's back shows in the next plan as a change that removes it;
// apply removes it and leaves the configured rule.
func TestSeedSecurityGroupRuleAddedOutside(t *testing.T) {
	b := newSeedBed(t)
	ctx := waitCtx(t)
	b.applySeed()
	sg := b.instanceID("aws.security_group.http-eu")
	eu := b.env.EC2(b.env.Region)
	if _, err := eu.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(sg),
		IpPermissions: []ec2types.IpPermission{{
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(8080), ToPort: aws.Int32(8080),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}},
		}},
	}); err != nil {
		t.Fatal(err)
	}

	p := b.ferry(0, "", "plan", "--out", "plan.json").stdout
	block := planBlock(p, "aws.security_group.http-eu")
	if !strings.Contains(block, "will be updated in place (drift: changed outside ferry)") || !strings.Contains(block, `"from_port": 8080`) || !strings.Contains(block, "10.0.0.0/8") {
		t.Errorf("plan does not remove the rule added outside ferry:\n%s", p)
	}
	if !strings.Contains(p, "Plan: 0 to add, 1 to change, 0 to destroy. 0 machines to deploy, 2 unchanged.") {
		t.Errorf("plan summary:\n%s", p)
	}
	b.ferry(0, "", "apply", "plan.json")
	out, err := eu.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sg}})
	if err != nil {
		t.Fatal(err)
	}
	var ports []int32
	for _, perm := range out.SecurityGroups[0].IpPermissions {
		ports = append(ports, aws.ToInt32(perm.FromPort))
	}
	if !slices.Equal(ports, []int32{80}) {
		t.Errorf("ingress ports of %s after apply: %v, want [80]", sg, ports)
	}
	b.noChanges("after the rule was removed")
}

// TestSeedDestroy: a plan that would replace the data volume, and
// destroy, are refused while it is protected (prevent_destroy), naming
// it and its declaration, and nothing is destroyed;
// with protect_data=false it deletes everything, and nothing of the
// deployment is left in moto, in either region, of any type.
func TestSeedDestroy(t *testing.T) {
	b := newSeedBed(t)
	ctx := waitCtx(t)
	b.applySeed()
	ids := map[string]string{}
	for name := range seedMachines {
		ids[name] = b.instanceID("aws.instance." + name)
	}
	resources := b.ferry(0, "", "state", "list").stdout

	// A plan that would replace the volume (another zone) is refused too.
	b.set(map[string]string{"FERRY_VAR_eu_zone": b.env.Region + "b"})
	if r := b.ferry(1, "", "plan"); !strings.Contains(r.stderr, "aws.ebs_volume.data has lifecycle(prevent_destroy = True)") || !strings.Contains(r.stderr, "but this plan would replace it") {
		t.Errorf("plan that moves the protected volume to another zone:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	b.set(map[string]string{"FERRY_VAR_eu_zone": b.env.Region + "a"})

	refused := b.ferry(1, "", "destroy", "--auto-approve")
	if !regexp.MustCompile(`aws\.ebs_volume\.data has lifecycle\(prevent_destroy = True\) \(declared at ferry\.star:\d+:\d+\), but this plan would destroy it`).MatchString(refused.stderr) {
		t.Errorf("destroy of a protected volume:\nstdout:\n%s\nstderr:\n%s", refused.stdout, refused.stderr)
	}
	if now := b.ferry(0, "", "state", "list").stdout; now != resources {
		t.Errorf("a refused destroy changed the state:\n%s\nwas:\n%s", now, resources)
	}
	for name, region := range seedMachines {
		if _, ok := b.liveInstances(region)[ids[name]]; !ok {
			t.Errorf("a refused destroy terminated %s (machine.%s)", ids[name], name)
		}
	}

	b.set(map[string]string{"FERRY_VAR_protect_data": "false"})
	out := b.ferry(0, "", "destroy", "--auto-approve").stdout
	if !strings.Contains(out, "aws.ebs_volume.data: destroyed") || !strings.Contains(out, "Resources: 0 added, 0 changed, 11 destroyed.") {
		t.Errorf("destroy:\n%s", out)
	}
	for _, id := range ids {
		if _, err := b.watch.WaitGone(ctx, id); err != nil {
			t.Error(err)
		}
	}
	if list := b.ferry(0, "", "state", "list").stdout; strings.TrimSpace(list) != "" {
		t.Errorf("state after destroy:\n%s", list)
	}
	for _, region := range []string{b.env.Region, secondRegion} {
		b.nothingLeft(ctx, region)
	}
	buckets, err := b.env.S3(b.env.Region).ListBuckets(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, bk := range buckets.Buckets {
		t.Errorf("bucket %s is left after destroy", aws.ToString(bk.Name))
	}
}

// nothingLeft fails the test for every EC2 object of region that a
// deployment could have made: instances not terminated, key pairs,
// security groups other than the VPCs' default ones, elastic IPs,
// volumes.
func (b *awsBed) nothingLeft(ctx context.Context, region string) {
	b.t.Helper()
	c := b.env.EC2(region)
	for id := range b.liveInstances(region) {
		b.t.Errorf("%s: instance %s is left", region, id)
	}
	kps, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, kp := range kps.KeyPairs {
		b.t.Errorf("%s: key pair %s is left", region, aws.ToString(kp.KeyName))
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, sg := range sgs.SecurityGroups {
		if aws.ToString(sg.GroupName) != "default" {
			b.t.Errorf("%s: security group %s (%s) is left", region, aws.ToString(sg.GroupId), aws.ToString(sg.GroupName))
		}
	}
	addrs, err := c.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, a := range addrs.Addresses {
		b.t.Errorf("%s: elastic IP %s is left", region, aws.ToString(a.AllocationId))
	}
	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, v := range vols.Volumes {
		b.t.Errorf("%s: volume %s is left", region, aws.ToString(v.VolumeId))
	}
}

// TestSeedStateOnS3WithKMS: the example's state in a bucket of moto's S3,
// sealed with a key of moto's KMS (awskms://): plan, apply and the next
// plan work, every object that may hold state (snapshots, journal, plan
// key) is sealed with that key, none holds an instance ID or a resource
// address in clear, and a run without the key refuses, naming it.
func TestSeedStateOnS3WithKMS(t *testing.T) {
	b := newSeedBed(t)
	ctx := waitCtx(t)
	region := b.env.Region
	s3c := b.env.S3(region)
	const bucket = "ferry-state"
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)},
	}); err != nil {
		t.Fatal(err)
	}
	kmsc := kms.NewFromConfig(b.env.Config(region))
	key, err := kmsc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("ferry state")})
	if err != nil {
		t.Fatal(err)
	}
	const alias = "alias/ferry-state"
	if _, err := kmsc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	endpoint := url.QueryEscape(b.env.URL)
	b.set(map[string]string{
		"FERRY_STATE":         "s3://" + bucket + "?endpoint=" + endpoint + "&region=" + region + "&use_path_style=true",
		"FERRY_STATE_SECRETS": "awskms://" + alias + "?endpoint=" + endpoint + "&region=" + region,
	})

	systems := b.applySeed()
	var clear []string // what must not be readable in the bucket
	for name := range seedMachines {
		id := b.deployed(ctx, name, systems[name])
		clear = append(clear, id, "aws.instance."+name, systems[name])
	}
	b.noChanges("after apply, state on S3")

	objects, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var snapshots, sealedObjects int
	for _, o := range objects.Contents {
		name := aws.ToString(o.Key)
		got, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(got.Body)
		got.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range clear {
			if strings.Contains(string(body), s) {
				t.Errorf("state object %s holds %q in clear", name, s)
			}
		}
		if strings.HasSuffix(name, "/lock.json") || strings.HasSuffix(name, "/latest.json") {
			continue // hold no state, and stay clear
		}
		if strings.Contains(name, "/state/") {
			snapshots++
		}
		for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			var env struct {
				Format string `json:"format"`
				Keeper string `json:"keeper"`
				KeyID  string `json:"key_id"`
			}
			if err := json.Unmarshal([]byte(line), &env); err != nil || env.Format != "ferry-sealed" || env.Keeper != "awskms" || env.KeyID != alias {
				t.Errorf("state object %s is not sealed with awskms://%s: %.200s", name, alias, line)
				continue
			}
			sealedObjects++
		}
	}
	if snapshots == 0 || sealedObjects == 0 {
		t.Errorf("the state bucket holds %d snapshots, %d sealed objects: %v", snapshots, sealedObjects, objects.Contents)
	}

	b.set(map[string]string{"FERRY_STATE_SECRETS": ""})
	if r := b.ferry(1, "", "plan"); !strings.Contains(r.stderr, "is encrypted with an awskms:// key ("+alias+")") {
		t.Errorf("plan without the key does not name it:\n%s", r.stderr)
	}
}
