package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

func TestErrorHints(t *testing.T) {
	c := &Client{name: `aws.provider(region = "eu-west-1", profile = "prod")`, region: "eu-west-1", profile: "prod"}
	tests := []struct {
		code, msg string
		want      []string
	}{
		{"UnauthorizedOperation", "You are not authorized to perform this operation. Encoded authorization failure message: abc", []string{"may not call ec2:CreateKeyPair", "decode-authorization-message", `profile = "prod"`}},
		{"ExpiredToken", "The security token included in the request is expired", []string{"have expired", "aws sso login --profile prod", `profile = "prod"`}},
		{"AuthFailure", "AWS was not able to validate the provided access credentials", []string{"refused the credentials", "get-caller-identity --profile prod", `profile = "prod"`}},
		{"RequestLimitExceeded", "Request limit exceeded.", []string{"throttled", "--parallelism"}},
		{"KeyPairLimitExceeded", "Maximum of 5000 keypairs reached", []string{"account limit of region eu-west-1"}},
		{"InstanceLimitExceeded", "You have requested more instances (21) than your current instance limit of 20 allows", []string{"running instances", "region eu-west-1", "Service Quotas"}},
		{"InsufficientInstanceCapacity", "We currently do not have sufficient t3.micro capacity in the Availability Zone you requested", []string{"not enough capacity", "another availability_zone or instance_type"}},
	}
	for _, tt := range tests {
		api := &smithy.GenericAPIError{Code: tt.code, Message: tt.msg}
		err := c.fail("create", "aws.key_pair.deploy", callErr("ec2:CreateKeyPair", &smithy.OperationError{ServiceID: "EC2", OperationName: "CreateKeyPair", Err: api}))
		msg := err.Error()
		for _, want := range append(tt.want, "create aws.key_pair.deploy: ec2:CreateKeyPair: "+tt.code+": ") {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q does not say %q", tt.code, msg, want)
			}
		}
		var got smithy.APIError
		if !errors.As(err, &got) || got.ErrorCode() != tt.code {
			t.Errorf("%s: the API error is not in the chain of %v", tt.code, err)
		}
	}
}

func TestCancelledCallError(t *testing.T) {
	c := &Client{name: "aws.provider()"}
	err := c.fail("read", "aws.key_pair.k", callErr("ec2:DescribeKeyPairs", fmt.Errorf("operation error EC2: DescribeKeyPairs, %w", context.Canceled)))
	if !errors.Is(err, context.Canceled) || err.Error() != "read aws.key_pair.k: ec2:DescribeKeyPairs: context canceled" {
		t.Errorf("got %q", err)
	}
}

func TestEC2Keys(t *testing.T) {
	keys := parseEC2Keys([]byte("AKIA1 s1 dev # the dev account\n# a comment\n\nAKIA2 s2\none\nAKIA3 s3 x y\n  AKIA4\ts4  prod  \n"))
	want := []ec2Key{{"AKIA1", "s1", "dev"}, {"AKIA2", "s2", ""}, {"AKIA4", "s4", "prod"}}
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("parsed %v, want %v", keys, want)
	}
	for ident, id := range map[string]string{"dev": "AKIA1", "AKIA2": "AKIA2", "prod": "AKIA4", "nope": ""} {
		k, ok := lookupEC2Key(keys, ident)
		if k.id != id || ok != (id != "") {
			t.Errorf("lookup %q = %v, %v; want %q", ident, k, ok, id)
		}
	}
	if _, ok := lookupEC2Key(keys, ""); ok {
		t.Error("lookup without a name in a file of three keys found one")
	}
}
