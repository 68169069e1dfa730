package aws_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/providertest"
)

const readOnlyPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"}]}`

// s3BucketCase is aws.s3_bucket's conformance case (TestConformance).
// moto does not check that a bucket policy's resources are the bucket's
// (AWS does): readOnlyPolicy names every bucket.
func s3BucketCase(t *testing.T, env *awstest.Env) providertest.Case {
	t.Helper()
	return providertest.Case{
		Create: map[string]any{"tags": map[string]any{"env": "test"}},
		Update: map[string]any{
			"versioning": true, "tags": map[string]any{"env": "prod"}, "policy": readOnlyPolicy, "force_destroy": true,
			"public_access_block": map[string]any{"block_public_acls": true, "block_public_policy": false, "ignore_public_acls": true, "restrict_public_buckets": false},
		},
		Replace:    map[string]any{"bucket": "ferry-conformance-replaced"},
		External:   true,
		Idempotent: true,
	}
}

// bucketObject creates a bucket through ferry and returns it.
func bucketObject(t *testing.T, env *awstest.Env, c *aws.Client, name string, args map[string]any) *object {
	t.Helper()
	o := newObject(t, resource(t, c, aws.S3BucketType), name, args)
	o.create("tok-" + name)
	o.steady("after create")
	return o
}

// TestS3BucketDrift: versioning and a policy changed outside ferry show
// in a read, and the update puts them back; a policy S3 holds in another
// form (keys reordered, one-element lists) is no change.
func TestS3BucketDrift(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	o := bucketObject(t, env, c, "data", map[string]any{"policy": readOnlyPolicy})
	name := o.state["bucket"].(string)
	s3c := env.S3(env.Region)

	// The same policy, written otherwise.
	same := `{"Statement":{"Resource":"arn:aws:s3:::*/*","Action":["s3:GetObject"],"Principal":{"AWS":["arn:aws:iam::123456789012:root"]},"Effect":"Allow"},"Version":"2012-10-17"}`
	if _, err := s3c.PutBucketPolicy(t.Context(), &s3.PutBucketPolicyInput{Bucket: awssdk.String(name), Policy: awssdk.String(same)}); err != nil {
		t.Fatal(err)
	}
	o.steady("after the policy was rewritten in the same meaning")

	other := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::*/*"}]}`
	if _, err := s3c.PutBucketPolicy(t.Context(), &s3.PutBucketPolicyInput{Bucket: awssdk.String(name), Policy: awssdk.String(other)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketVersioning(t.Context(), &s3.PutBucketVersioningInput{Bucket: awssdk.String(name), VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	drifted := o.refresh()
	if drifted["versioning"] != true {
		t.Errorf("read versioning %v after it was enabled outside ferry", drifted["versioning"])
	}
	if p, _ := drifted["policy"].(string); !strings.Contains(p, "Deny") {
		t.Errorf("read policy %v, want the one put outside ferry", drifted["policy"])
	}
	before := c.Calls().Counts()
	o.update()
	after := c.Calls().Counts()
	for _, op := range []string{"S3.PutBucketVersioning", "S3.PutBucketPolicy"} {
		if after[op]-before[op] != 1 {
			t.Errorf("update: %d calls of %s, want 1", after[op]-before[op], op)
		}
	}
	o.steady("after the update")
	v, err := s3c.GetBucketVersioning(t.Context(), &s3.GetBucketVersioningInput{Bucket: awssdk.String(name)})
	if err != nil || v.Status != s3types.BucketVersioningStatusSuspended {
		t.Errorf("versioning in S3 after the update: %v (%v), want Suspended", v.Status, err)
	}
}

// putObjects writes n versions of one key to a bucket.
func putObjects(t *testing.T, env *awstest.Env, bucket string, n int) {
	t.Helper()
	for i := range n {
		_, err := env.S3(env.Region).PutObject(t.Context(), &s3.PutObjectInput{Bucket: awssdk.String(bucket), Key: awssdk.String("k"), Body: strings.NewReader(fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestS3BucketForceDestroy: a bucket holding objects is not deleted
// unless force_destroy is set, and then every version goes.
func TestS3BucketForceDestroy(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	o := bucketObject(t, env, c, "logs", map[string]any{"versioning": true})
	name := o.state["bucket"].(string)
	putObjects(t, env, name, 3)
	_, err := o.r.Apply(t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Delete, Prior: o.state})
	for _, want := range []string{"delete aws.s3_bucket.logs", "s3:DeleteBucket", "BucketNotEmpty", name, "force_destroy = true"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("delete of a bucket with objects: error %v does not say %q", err, want)
		}
	}
	o.config["force_destroy"] = true
	o.update()
	o.delete()
	if o.refresh() != nil {
		t.Errorf("bucket %s still exists after a delete with force_destroy", name)
	}
}

// TestS3BucketReadCalls: ReadMany reads each bucket in 4 calls, and a
// bucket deleted outside ferry drops out.
func TestS3BucketReadCalls(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	var reqs []providers.ReadRequest
	for i := range 5 {
		o := bucketObject(t, env, c, fmt.Sprintf("b%d", i), nil)
		reqs = append(reqs, providers.ReadRequest{Addr: o.addr, Prior: o.state})
	}
	if _, err := env.S3(env.Region).DeleteBucket(t.Context(), &s3.DeleteBucketInput{Bucket: awssdk.String(reqs[2].Prior["bucket"].(string))}); err != nil {
		t.Fatal(err)
	}
	before := c.Calls().Total()
	resps, err := resource(t, c, aws.S3BucketType).(providers.BatchReader).ReadMany(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	// 4 per bucket; the deleted one ends at its first call.
	if n := c.Calls().Total() - before; n != 4*4+1 {
		t.Errorf("ReadMany of 5 buckets, one gone, made %d calls, want 17", n)
	}
	for i, r := range resps {
		if (r.State == nil) != (i == 2) {
			t.Errorf("ReadMany[%d]: state %v", i, r.State)
		}
	}
}

// TestS3BucketNames: generated names are DNS-safe; a name another
// deployment's bucket has is not taken over; plan errors name the
// resource.
func TestS3BucketNames(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	o := bucketObject(t, env, c, "Web_Assets", nil)
	if name := o.state["bucket"].(string); !regexp.MustCompile(`^ferry-web-assets-[0-9a-f]{8}$`).MatchString(name) {
		t.Errorf("generated name %q", name)
	}
	if _, err := env.S3(env.Region).CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: awssdk.String("taken"), CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(env.Region)}}); err != nil {
		t.Fatal(err)
	}
	taken := newObject(t, resource(t, c, aws.S3BucketType), "t", map[string]any{"bucket": "taken"})
	p := taken.plan()
	_, err := taken.r.Apply(t.Context(), providers.ApplyRequest{Addr: taken.addr, Action: providers.Create, Planned: p.Planned, Token: "tok-taken"})
	if err == nil || !strings.Contains(err.Error(), "ferry import aws.s3_bucket.t taken") {
		t.Errorf("create over a bucket this deployment did not make: %v", err)
	}
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"bucket": "Upper"}, "not a valid bucket name"},
		{map[string]any{"policy": "{"}, "not a JSON policy document"},
		{map[string]any{"policy": `{"Version": "2012-10-17"}`}, `no "Statement"`},
		{map[string]any{"public_access_block": map[string]any{"block_public_acls": true}}, "give all four"},
		{map[string]any{"public_access_block": map[string]any{"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true, "x": true}}, `unknown setting "x"`},
	}
	for _, tt := range tests {
		o := newObject(t, resource(t, c, aws.S3BucketType), "b", tt.args)
		_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "aws.s3_bucket.b") {
			t.Errorf("plan %v: error %v, want one naming aws.s3_bucket.b and saying %q", tt.args, err, tt.want)
		}
	}
}

// TestS3BucketUSEast1: S3 refuses us-east-1 as a location constraint, so
// a bucket there is made without one.
func TestS3BucketUSEast1(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, map[string]any{"region": "us-east-1"})
	o := bucketObject(t, env, c, "east", nil)
	if o.state["region"] != "us-east-1" || o.state["arn"] != "arn:aws:s3:::"+o.state["bucket"].(string) {
		t.Errorf("state %v", o.state)
	}
	o.delete()
}
