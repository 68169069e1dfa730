package aws_test

import (
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/providertest"
)

// iamClient is an IAM client of the test bed, for changes made outside
// ferry.
func iamClient(env *awstest.Env) *iam.Client { return iam.NewFromConfig(env.Config(env.Region)) }

// makeRole makes a role outside ferry.
func makeRole(t *testing.T, env *awstest.Env, name string) {
	t.Helper()
	_, err := iamClient(env).CreateRole(t.Context(), &iam.CreateRoleInput{RoleName: awssdk.String(name), AssumeRolePolicyDocument: awssdk.String(ec2TrustPolicy)})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConformanceInstanceProfile runs aws.instance_profile through the
// provider contract.
func TestConformanceInstanceProfile(t *testing.T) {
	env := awstest.New(t)
	makeRole(t, env, "web")
	makeRole(t, env, "worker")
	providertest.Run(t, providertest.Case{
		New: func(t *testing.T) providers.Resource {
			return configure(t, env, nil).Resources()[aws.InstanceProfileType]
		},
		Create:     map[string]any{"role": "web", "tags": map[string]any{"env": "test"}},
		Update:     map[string]any{"role": "worker", "tags": map[string]any{"env": "prod", "team": "ops"}},
		Replace:    map[string]any{"path": "/ferry/"},
		External:   true,
		Idempotent: true,
	})
}
