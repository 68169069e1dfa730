package aws_test

import (
	"testing"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/providertest"
)

const readOnlyPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"}]}`

// TestConformanceS3Bucket runs aws.s3_bucket through the provider
// contract.
func TestConformanceS3Bucket(t *testing.T) {
	env := awstest.New(t)
	providertest.Run(t, providertest.Case{
		New:    func(t *testing.T) providers.Resource { return configure(t, env, nil).Resources()[aws.S3BucketType] },
		Create: map[string]any{"tags": map[string]any{"env": "test"}},
		Update: map[string]any{
			"versioning": true, "tags": map[string]any{"env": "prod"}, "policy": readOnlyPolicy, "force_destroy": true,
			"public_access_block": map[string]any{"block_public_acls": true, "block_public_policy": false, "ignore_public_acls": true, "restrict_public_buckets": false},
		},
		Replace:    map[string]any{"bucket": "ferry-conformance-replaced"},
		External:   true,
		Idempotent: true,
	})
}
