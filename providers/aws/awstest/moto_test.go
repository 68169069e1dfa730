package awstest_test

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nixferry/ferry/providers/aws/awstest"
)

// TestMissingVenv: without moto the error says what installs it.
func TestMissingVenv(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no-venv")
	t.Setenv(awstest.VenvEnv, dir)
	_, err := awstest.ServerPath()
	if err == nil {
		t.Fatal("ServerPath found moto in an empty folder")
	}
	for _, want := range []string{"install-deps.sh", "moto[server]==" + awstest.MotoVersion, dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestLoopbackVPC: subnets are fresh /24s of 127.X.0.0/16, never
// 127.X.0.0/24, one VPC per region, each on its own X, and the guard
// follows them.
func TestLoopbackVPC(t *testing.T) {
	env := awstest.New(t)
	a := env.Subnet(t, env.Region)
	b := env.Subnet(t, env.Region)
	other := env.Subnet(t, "us-east-1")
	x := a.CIDR.Addr().As4()[1]
	if a.CIDR != netip.PrefixFrom(netip.AddrFrom4([4]byte{127, x, 1, 0}), 24) || b.CIDR != netip.PrefixFrom(netip.AddrFrom4([4]byte{127, x, 2, 0}), 24) {
		t.Errorf("subnets %s, %s; want 127.X.1.0/24 and 127.X.2.0/24", a.CIDR, b.CIDR)
	}
	if a.VPC != b.VPC || a.VPC == other.VPC {
		t.Errorf("VPCs %s %s %s: want one per region", a.VPC, b.VPC, other.VPC)
	}
	if y := other.CIDR.Addr().As4(); y[1] == x || y[2] != 1 || other.CIDR.Bits() != 24 {
		t.Errorf("second region's subnet %s, want 127.Y.1.0/24 with Y != %d", other.CIDR, x)
	}
	if got := env.Guard().Allowed(); !slices.Equal(got, []netip.Prefix{a.CIDR, b.CIDR, other.CIDR}) {
		t.Errorf("guard allows %v", got)
	}

	// An instance in the subnet gets a loopback address the guard allows;
	// one in the default VPC gets an address it refuses.
	c := env.EC2(env.Region)
	run := func(subnet string) types.Instance {
		in := &ec2.RunInstancesInput{ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: types.InstanceTypeT3Micro}
		if subnet != "" {
			in.SubnetId = aws.String(subnet)
		}
		out, err := c.RunInstances(t.Context(), in)
		if err != nil {
			t.Fatalf("RunInstances: %v", err)
		}
		return out.Instances[0]
	}
	inBed := run(a.ID)
	ip := aws.ToString(inBed.PrivateIpAddress)
	if !a.CIDR.Contains(netip.MustParseAddr(ip)) {
		t.Errorf("instance in %s got %s", a.CIDR, ip)
	}
	if err := env.Guard().Check(ip + ":22"); err != nil {
		t.Errorf("guard refuses the bed's own instance: %v", err)
	}
	outside := run("")
	for _, addr := range []string{aws.ToString(outside.PrivateIpAddress), aws.ToString(outside.PublicIpAddress)} {
		if addr == "" {
			continue
		}
		if err := env.Guard().Check(addr + ":22"); err == nil {
			t.Errorf("guard allows %s, an address moto invented", addr)
		}
	}
}

// TestReset: a new test sees an empty moto.
func TestReset(t *testing.T) {
	for i := range 2 {
		t.Run("", func(t *testing.T) {
			env := awstest.New(t)
			c := env.S3(env.Region)
			out, err := c.ListBuckets(t.Context(), &s3.ListBucketsInput{})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Buckets) != 0 {
				t.Fatalf("run %d: %d buckets left from before the reset", i, len(out.Buckets))
			}
			_, err = c.CreateBucket(t.Context(), &s3.CreateBucketInput{
				Bucket:                    aws.String("ferry-reset"),
				CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(env.Region)},
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEnviron carries the credentials and the guard to a subprocess.
func TestEnviron(t *testing.T) {
	env := awstest.New(t)
	s := env.Subnet(t, env.Region)
	got := strings.Join(env.Environ(), "\n")
	for _, want := range []string{"AWS_ACCESS_KEY_ID=testing", "AWS_EC2_METADATA_DISABLED=true", awstest.GuardEnv + "=" + s.CIDR.String()} {
		if !strings.Contains(got, want) {
			t.Errorf("Environ lacks %s:\n%s", want, got)
		}
	}
}

// TestServerStartStop: a server of its own answers, resets, and is gone
// after Stop.
func TestServerStartStop(t *testing.T) {
	start := time.Now()
	s, err := awstest.StartServer(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("moto_server %s (pid %d) ready in %s", s.URL, s.PID, time.Since(start).Round(time.Millisecond))
	if err := s.Reset(t.Context()); err != nil {
		t.Error(err)
	}
	start = time.Now()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
	if !s.Exited() {
		t.Error("the process is still running after Stop")
	}
	if err := syscall.Kill(s.PID, 0); err == nil {
		t.Errorf("pid %d still exists after Stop", s.PID)
	}
}
