package aws_test

import (
	"fmt"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-cmp/cmp"

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

// iamRoleCase is aws.iam_role's conformance case (TestConformance): a
// managed policy made for it, since moto's server has none of AWS's.
func iamRoleCase(t *testing.T, env *awstest.Env) providertest.Case {
	t.Helper()
	logs := makePolicy(t, env, "logs")
	return providertest.Case{
		Create: map[string]any{"assume_role_policy": ec2TrustPolicy, "tags": map[string]any{"env": "test"}},
		Update: map[string]any{
			"assume_role_policy":  lambdaTrust,
			"inline_policies":     map[string]any{"logs": readLogsPolicy},
			"managed_policy_arns": strs(logs),
			"description":         "reads logs",
			"tags":                map[string]any{"env": "prod"},
		},
		Replace:    map[string]any{"path": "/ferry/"},
		External:   true,
		Idempotent: true,
	}
}

// makePolicy makes a customer managed policy outside ferry (moto's server
// has no AWS managed policies) and returns its ARN.
func makePolicy(t *testing.T, env *awstest.Env, name string) string {
	t.Helper()
	out, err := iamClient(env).CreatePolicy(t.Context(), &iam.CreatePolicyInput{PolicyName: awssdk.String(name), PolicyDocument: awssdk.String(readLogsPolicy)})
	if err != nil {
		t.Fatal(err)
	}
	return awssdk.ToString(out.Policy.Arn)
}

// TestIAMRoleDrift: a managed policy detached and an inline policy
// changed outside ferry show in a read, and the update puts them back; a
// trust policy IAM holds in another form is no change.
func TestIAMRoleDrift(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	logs, metrics := makePolicy(t, env, "logs"), makePolicy(t, env, "metrics")
	o := newObject(t, resource(t, c, aws.IAMRoleType), "app", map[string]any{
		"assume_role_policy":  ec2TrustPolicy,
		"managed_policy_arns": strs(metrics, logs),
		"inline_policies":     map[string]any{"read": readLogsPolicy},
	})
	st := o.create("tok-app")
	o.steady("after create")
	name := st["role_name"].(string)
	ic := iamClient(env)

	same := `{"Statement":{"Action":"sts:AssumeRole","Principal":{"Service":["ec2.amazonaws.com"]},"Effect":"Allow"},"Version":"2012-10-17"}`
	if _, err := ic.UpdateAssumeRolePolicy(t.Context(), &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String(name), PolicyDocument: awssdk.String(same)}); err != nil {
		t.Fatal(err)
	}
	o.steady("after the trust policy was rewritten in the same meaning")

	if _, err := ic.DetachRolePolicy(t.Context(), &iam.DetachRolePolicyInput{RoleName: awssdk.String(name), PolicyArn: awssdk.String(logs)}); err != nil {
		t.Fatal(err)
	}
	wider := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	if _, err := ic.PutRolePolicy(t.Context(), &iam.PutRolePolicyInput{RoleName: awssdk.String(name), PolicyName: awssdk.String("read"), PolicyDocument: awssdk.String(wider)}); err != nil {
		t.Fatal(err)
	}
	drifted := o.refresh()
	if diff := cmp.Diff(strs(metrics), drifted["managed_policy_arns"]); diff != "" {
		t.Errorf("managed_policy_arns after a detach outside ferry (-want +read):\n%s", diff)
	}
	if got := drifted["inline_policies"].(map[string]any)["read"]; !strings.Contains(got.(string), `"Action":"*"`) {
		t.Errorf("inline policy after a change outside ferry: %v", got)
	}
	before := c.Calls().Counts()
	o.update()
	after := c.Calls().Counts()
	for _, op := range []string{"IAM.AttachRolePolicy", "IAM.PutRolePolicy"} {
		if after[op]-before[op] != 1 {
			t.Errorf("update: %d calls of %s, want 1", after[op]-before[op], op)
		}
	}
	if n := after["IAM.UpdateAssumeRolePolicy"] - before["IAM.UpdateAssumeRolePolicy"]; n != 0 {
		t.Errorf("update: %d calls of UpdateAssumeRolePolicy for a trust policy of the same meaning", n)
	}
	o.steady("after the update")
}

// TestIAMRoleReadMany: a few roles are read one by one; more from the
// account's listing in 2 calls; a role deleted outside drops out.
func TestIAMRoleReadMany(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	r := resource(t, c, aws.IAMRoleType)
	var reqs []providers.ReadRequest
	for i := range 6 {
		o := newObject(t, r, fmt.Sprintf("r%d", i), map[string]any{"assume_role_policy": ec2TrustPolicy, "description": "role", "tags": map[string]any{"n": fmt.Sprint(i)}})
		o.create(fmt.Sprintf("tok-%d", i))
		reqs = append(reqs, providers.ReadRequest{Addr: o.addr, Prior: o.state})
	}
	if _, err := iamClient(env).DeleteRole(t.Context(), &iam.DeleteRoleInput{RoleName: awssdk.String(reqs[1].Prior["role_name"].(string))}); err != nil {
		t.Fatal(err)
	}
	br := r.(providers.BatchReader)
	before := c.Calls().Total()
	resps, err := br.ReadMany(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Calls().Total() - before; n != 2 {
		t.Errorf("ReadMany of 6 roles made %d calls, want 2 (GetAccountAuthorizationDetails, ListRoles)", n)
	}
	for i, resp := range resps {
		if i == 1 {
			if resp.State != nil {
				t.Errorf("ReadMany[1]: %v for a role deleted outside ferry", resp.State)
			}
			continue
		}
		if diff := cmp.Diff(reqs[i].Prior, resp.State); diff != "" {
			t.Errorf("ReadMany[%d] from the listing (-created +read):\n%s", i, diff)
		}
	}
	before = c.Calls().Total()
	if _, err := br.ReadMany(t.Context(), reqs[:2]); err != nil {
		t.Fatal(err)
	}
	// GetRole, ListAttachedRolePolicies, ListRolePolicies for the one
	// that exists; GetRole for the other.
	if n := c.Calls().Total() - before; n != 4 {
		t.Errorf("ReadMany of 2 roles made %d calls, want 4", n)
	}
}

// TestIAMRoleNameTaken: a role of the configured name that this
// deployment did not make is not taken over; import takes it by name.
func TestIAMRoleNameTaken(t *testing.T) {
	env := awstest.New(t)
	makeRole(t, env, "deploy")
	r := resource(t, configure(t, env, nil), aws.IAMRoleType)
	o := newObject(t, r, "d", map[string]any{"role_name": "deploy", "assume_role_policy": ec2TrustPolicy})
	p := o.plan()
	_, err := o.r.Apply(t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Create, Planned: p.Planned, Token: "tok-taken"})
	if err == nil || !strings.Contains(err.Error(), "ferry import aws.iam_role.d deploy") {
		t.Errorf("create over a role this deployment did not make: %v", err)
	}
	resp, err := r.(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: o.addr, ID: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	o.state = resp.State
	if p := o.plan(); len(p.RequiresReplace) > 0 || !cmp.Equal(p.Planned, o.state) {
		t.Errorf("plan over the imported role: replaces %v, planned %v", p.RequiresReplace, p.Planned)
	}
}

// TestIAMRoleInProfile: a role an instance profile holds is not deleted;
// the error names the profile.
func TestIAMRoleInProfile(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, nil)
	role := newObject(t, resource(t, c, aws.IAMRoleType), "node", map[string]any{"assume_role_policy": ec2TrustPolicy})
	rn := role.create("tok-role")["role_name"].(string)
	prof := newObject(t, resource(t, c, aws.InstanceProfileType), "node", map[string]any{"role": rn})
	pn := prof.create("tok-profile")["profile_name"].(string)
	_, err := role.r.Apply(t.Context(), providers.ApplyRequest{Addr: role.addr, Action: providers.Delete, Prior: role.state})
	for _, want := range []string{"delete aws.iam_role.node", "instance profile " + pn, "remove it from " + pn} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("delete of a role in a profile: error %v does not say %q", err, want)
		}
	}
	prof.delete()
	role.delete()
	if role.refresh() != nil {
		t.Error("role still there after the delete")
	}
}

func TestIAMRolePlanErrors(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.IAMRoleType)
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"assume_role_policy": "nope"}, "not a JSON policy document"},
		{map[string]any{"assume_role_policy": ec2TrustPolicy, "inline_policies": map[string]any{"p": "{}"}}, `"inline_policies.p" has no "Statement"`},
		{map[string]any{"assume_role_policy": ec2TrustPolicy, "managed_policy_arns": strs("ReadOnlyAccess")}, "is not a policy ARN"},
		{map[string]any{"assume_role_policy": ec2TrustPolicy, "path": "ferry"}, "starts and ends with"},
		{map[string]any{"assume_role_policy": ec2TrustPolicy, "role_name": strings.Repeat("x", 65)}, "at most 64"},
	}
	for _, tt := range tests {
		o := newObject(t, r, "r", tt.args)
		_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "aws.iam_role.r") {
			t.Errorf("plan %v: error %v, want one naming aws.iam_role.r and saying %q", tt.args, err, tt.want)
		}
	}
}
