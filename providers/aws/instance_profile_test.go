package aws_test

import (
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

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

// instanceProfileCase is aws.instance_profile's conformance case
// (TestConformance), with the two roles it swaps.
func instanceProfileCase(t *testing.T, env *awstest.Env) providertest.Case {
	t.Helper()
	makeRole(t, env, "web")
	makeRole(t, env, "worker")
	return providertest.Case{
		Create:     map[string]any{"role": "web", "tags": map[string]any{"env": "test"}},
		Update:     map[string]any{"role": "worker", "tags": map[string]any{"env": "prod", "team": "ops"}},
		Replace:    map[string]any{"path": "/ferry/"},
		External:   true,
		Idempotent: true,
	}
}

// TestInstanceProfileDrift: a role removed outside ferry shows as null
// in a read, and the update adds it back.
func TestInstanceProfileDrift(t *testing.T) {
	env := awstest.New(t)
	makeRole(t, env, "web")
	c := configure(t, env, nil)
	o := newObject(t, resource(t, c, aws.InstanceProfileType), "web", map[string]any{"role": "web"})
	name := o.create("tok-web")["profile_name"].(string)
	o.steady("after create")
	if _, err := iamClient(env).RemoveRoleFromInstanceProfile(t.Context(), &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: awssdk.String(name), RoleName: awssdk.String("web")}); err != nil {
		t.Fatal(err)
	}
	if got := o.refresh()["role"]; got != nil {
		t.Errorf("role %v after it was removed outside ferry, want null", got)
	}
	before := c.Calls().Counts()
	o.update()
	after := c.Calls().Counts()
	if after["IAM.AddRoleToInstanceProfile"]-before["IAM.AddRoleToInstanceProfile"] != 1 || after["IAM.RemoveRoleFromInstanceProfile"] != before["IAM.RemoveRoleFromInstanceProfile"] {
		t.Errorf("update calls: %v", after)
	}
	o.steady("after the update")
}
