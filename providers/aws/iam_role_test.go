package aws_test

import (
	"testing"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/providertest"
)

const (
	ec2TrustPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}`
	lambdaTrust    = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}`
	readLogsPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:GetLogEvents", "logs:DescribeLogStreams"], "Resource": "*"}]}`
)

// TestConformanceIAMRole runs aws.iam_role through the provider contract.
func TestConformanceIAMRole(t *testing.T) {
	env := awstest.New(t)
	providertest.Run(t, providertest.Case{
		New:    func(t *testing.T) providers.Resource { return configure(t, env, nil).Resources()[aws.IAMRoleType] },
		Create: map[string]any{"assume_role_policy": ec2TrustPolicy, "tags": map[string]any{"env": "test"}},
		Update: map[string]any{
			"assume_role_policy": lambdaTrust,
			"inline_policies":    map[string]any{"logs": readLogsPolicy},
			"description":        "reads logs",
			"tags":               map[string]any{"env": "prod"},
		},
		Replace:    map[string]any{"path": "/ferry/"},
		External:   true,
		Idempotent: true,
	})
}
