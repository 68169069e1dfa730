package aws_test

import (
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/nixferry/ferry/providers/aws/awstest"
)

// r53 is a Route53 client on moto, as someone working outside ferry has.
func r53(env *awstest.Env) *route53.Client {
	return route53.NewFromConfig(env.Config("us-east-1"))
}

// testZone makes a public hosted zone outside ferry and returns its ID.
func testZone(t testing.TB, env *awstest.Env, name string) string {
	t.Helper()
	out, err := r53(env).CreateHostedZone(t.Context(), &route53.CreateHostedZoneInput{Name: awssdk.String(name), CallerReference: awssdk.String("test-" + name + "-" + t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	return awssdk.ToString(out.HostedZone.Id)[len("/hostedzone/"):]
}
