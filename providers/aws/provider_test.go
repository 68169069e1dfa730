package aws_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/providertest"
)

// calls counts the API requests of the configuration r belongs to.
func calls(r providers.Resource) int {
	c, ok := aws.CallsOf(r)
	if !ok {
		panic("not an aws resource")
	}
	return c.Total()
}

// TestConformance runs every type through the provider contract on moto.
func TestConformance(t *testing.T) {
	env := awstest.New(t)
	vpc := env.VPC(t, env.Region)
	subnet := env.Subnet(t, env.Region)
	zone := testZone(t, env, "records.example")
	providertest.RunProvider(t, providertest.ProviderCase{
		New:    func(*testing.T) providers.Provider { return aws.New() },
		Config: testConfig(env),
		Types: map[string]providertest.Case{
			aws.KeyPairType: {
				Create:       map[string]any{"tags": map[string]any{"env": "test"}},
				Update:       map[string]any{"tags": map[string]any{"env": "prod", "team": "ops"}},
				Replace:      map[string]any{"key_type": "rsa"},
				External:     true,
				Sensitive:    []string{"private_key"},
				PageSize:     200,
				BatchObjects: 5, // pages: TestRefreshPages
				Calls:        calls,
				ImportIgnore: []string{"private_key"},
				Idempotent:   true,
			},
			aws.SecurityGroupType: {
				Create: map[string]any{
					"vpc_id": vpc,
					// Rules as EC2 returns them, so that an import reads
					// them back the same (rules of another form, over
					// an import, plan an update that makes no call).
					"ingress": []any{map[string]any{"protocol": "tcp", "from_port": num(22), "to_port": num(22), "cidr_blocks": []any{"0.0.0.0/0"}}},
					"tags":    map[string]any{"env": "test"},
				},
				Update: map[string]any{
					"ingress": []any{
						map[string]any{"protocol": "tcp", "port": num(22), "cidr_blocks": []any{"10.0.0.0/8"}, "description": "ssh"},
						map[string]any{"protocol": "tcp", "from_port": num(80), "to_port": num(443), "cidr_blocks": []any{"0.0.0.0/0"}},
					},
					"egress": []any{},
					"tags":   map[string]any{"env": "prod"},
				},
				Replace:  map[string]any{"description": "another"},
				External: true,
				// A rule whose source group does not exist fails after
				// the group is made.
				Fail:         map[string]any{"ingress": []any{map[string]any{"protocol": "tcp", "port": num(22), "security_groups": []any{"sg-00000000000000000"}}}},
				PageSize:     200,
				BatchObjects: 5,
				Calls:        calls,
				Idempotent:   true,
			},
			aws.InstanceType: {
				Create: map[string]any{
					"nixos_release": "25.11",
					"instance_type": "t3.micro",
					"subnet_id":     subnet.ID,
					"tags":          map[string]any{"env": "test"},
				},
				// A type change stops and starts the instance.
				Update:   map[string]any{"instance_type": "t3.small", "tags": map[string]any{"env": "prod"}},
				Replace:  map[string]any{"user_data": "#!/bin/sh\necho hello\n"},
				External: true,
				// An elastic IP that does not exist fails after the
				// instance runs.
				Fail:         map[string]any{"elastic_ip": "eipalloc-00000000000000000"},
				PageSize:     200,
				BatchObjects: 5,
				Calls:        calls,
				// Only the lookup reads it.
				ImportIgnore: []string{"nixos_release"},
				// moto ignores ClientToken: adoption by the token tag.
				Idempotent: false,
			},
			aws.VpcType:             vpcCase(),
			aws.SubnetType:          subnetCase(t, env),
			aws.InternetGatewayType: internetGatewayCase(t, env),
			aws.ElasticIPType:       elasticIPCase(),
			aws.Route53ZoneType: {
				Create:   map[string]any{"zone_name": "zone.example", "tags": map[string]any{"env": "test"}},
				Update:   map[string]any{"comment": "changed", "force_destroy": true, "tags": map[string]any{"env": "prod", "team": "dns"}},
				Replace:  map[string]any{"zone_name": "other.example"},
				External: true,
				PageSize: 10, // ListTagsForResources takes 10 zones
				Calls:    calls,
				// moto ignores CallerReference: a retried create makes a
				// second zone there (AWS refuses it, and create then
				// finds the first: TestRoute53ZoneRetriedCreate).
				Idempotent: false,
			},
			aws.Route53RecordType: {
				Create:  map[string]any{"zone_id": zone, "record_name": "www.records.example", "type": "A", "records": []any{"192.0.2.1"}},
				Update:  map[string]any{"ttl": num(60), "records": []any{"192.0.2.1", "192.0.2.2"}},
				Replace: map[string]any{"record_name": "www2.records.example"},
				// A record is its zone, name and type: objects that
				// exist at once need names of their own.
				Distinct: func(i int) map[string]any {
					return map[string]any{"record_name": fmt.Sprintf("n%d.records.example", i)}
				},
				External:     true,
				PageSize:     200,
				BatchObjects: 5, // pages: TestRoute53RecordPages
				Calls:        calls,
			},
			aws.EBSVolumeType:       ebsVolumeCase(t, env),
			aws.S3BucketType:        s3BucketCase(t, env),
			aws.IAMRoleType:         iamRoleCase(t, env),
			aws.InstanceProfileType: instanceProfileCase(t, env),
		},
	})
}

// TestConformanceImportedKey: a key pair of a public key ferry was given.
func TestConformanceImportedKey(t *testing.T) {
	env := awstest.New(t)
	providertest.Run(t, providertest.Case{
		New:          func(t *testing.T) providers.Resource { return configure(t, env, nil).Resources()[aws.KeyPairType] },
		Create:       map[string]any{"public_key": testPublicKey},
		Update:       map[string]any{"tags": map[string]any{"k": "v"}},
		Replace:      map[string]any{"public_key": otherPublicKey},
		External:     true,
		Sensitive:    []string{"private_key"},
		PageSize:     200,
		BatchObjects: 5,
		Calls:        calls,
		Idempotent:   true,
	})
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{"no region", map[string]any{}, `missing required argument "region"`},
		{"bad region", map[string]any{"region": "Europe"}, `"Europe" is not an AWS region`},
		{"unknown argument", map[string]any{"region": "eu-west-1", "zone": "a"}, `unknown argument "zone"`},
		{"bad endpoint", map[string]any{"region": "eu-west-1", "endpoint": "127.0.0.1:5000"}, "not an http:// or https:// URL"},
		{"unknown endpoint service", map[string]any{"region": "eu-west-1", "endpoint": map[string]any{"lambda": "http://x"}}, `unknown service "lambda"`},
		{"bad role", map[string]any{"region": "eu-west-1", "assume_role": "deploy"}, "is not of the form"},
		{"bad role duration", map[string]any{"region": "eu-west-1", "assume_role": map[string]any{"role_arn": "arn:aws:iam::123456789012:role/x", "duration": "5m"}}, "from 15m to 12h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := aws.New().Configure(t.Context(), providers.ConfigureRequest{Config: tt.args})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "aws.provider(") {
				t.Errorf("Configure(%v) = %v; want an error naming aws.provider and saying %q", tt.args, err, tt.want)
			}
		})
	}
}

// isolate gives the test an empty home and AWS configuration, and no
// credentials in the environment, with the instance metadata service off
// (it is not on this machine, and must not be dialled).
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "EC2_ACCESS_KEY", "EC2_SECRET_KEY", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "aws-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return home
}

func TestCredentialErrors(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		isolate(t)
		_, err := aws.New().Configure(t.Context(), providers.ConfigureRequest{Alias: "eu", Config: map[string]any{"region": "eu-west-1"}})
		t.Log(err)
		for _, want := range []string{`aws.provider(alias = "eu", region = "eu-west-1")`, "no AWS credentials found", "aws configure", "~/.ec2-keys"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v does not say %q", err, want)
			}
		}
	})
	t.Run("unknown profile", func(t *testing.T) {
		isolate(t)
		_, err := aws.New().Configure(t.Context(), providers.ConfigureRequest{Config: map[string]any{"region": "eu-west-1", "profile": "prod"}})
		t.Log(err)
		for _, want := range []string{`profile = "prod"`, `no profile "prod"`, "aws configure --profile prod"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v does not say %q", err, want)
			}
		}
	})
	t.Run("expired SSO", func(t *testing.T) {
		home := isolate(t)
		conf := "[profile prod]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-west-1\nsso_account_id = 123456789012\nsso_role_name = Admin\nregion = eu-west-1\n"
		if err := os.WriteFile(filepath.Join(home, "aws-config"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := aws.New().Configure(t.Context(), providers.ConfigureRequest{Config: map[string]any{"region": "eu-west-1", "profile": "prod"}})
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "run aws sso login --profile prod") {
			t.Errorf("error %v does not say to run aws sso login --profile prod", err)
		}
	})
}

// TestNixOpsKeys: ~/.ec2-keys serves as NixOps read it, when the shared
// config has nothing.
func TestNixOpsKeys(t *testing.T) {
	env := awstest.New(t)
	keys := "# NixOps keys\nAKIADEV devsecret dev # development\nAKIAPROD prodsecret prod\nbroken line with too many words\n"
	tests := []struct {
		name    string
		args    map[string]any
		env     map[string]string
		content string
		wantID  string
	}{
		{"by name", map[string]any{"profile": "prod"}, nil, keys, "AKIAPROD"},
		{"by access key id", map[string]any{"profile": "AKIADEV"}, nil, keys, "AKIADEV"},
		{"from EC2_ACCESS_KEY", nil, map[string]string{"EC2_ACCESS_KEY": "dev"}, keys, "AKIADEV"},
		{"the only key", nil, nil, "AKIAONLY onlysecret\n", "AKIAONLY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if err := os.WriteFile(filepath.Join(home, ".ec2-keys"), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			c := configure(t, env, tt.args)
			creds, err := c.AWSConfig().Credentials.Retrieve(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessKeyID != tt.wantID {
				t.Errorf("access key %q, want %q", creds.AccessKeyID, tt.wantID)
			}
			// And the client works with them (moto takes any key).
			kp := resource(t, c, aws.KeyPairType)
			if _, err := kp.(providers.BatchReader).ReadMany(t.Context(), []providers.ReadRequest{{Addr: "aws.key_pair.x", Prior: map[string]any{"id": "key-0123456789abcdef0"}}}); err != nil {
				t.Errorf("read with the NixOps key: %v", err)
			}
		})
	}
	t.Run("not found", func(t *testing.T) {
		home := isolate(t)
		if err := os.WriteFile(filepath.Join(home, ".ec2-keys"), []byte(keys), 0o600); err != nil {
			t.Fatal(err)
		}
		// Two keys and nothing says which: no guess.
		_, err := aws.New().Configure(t.Context(), providers.ConfigureRequest{Config: map[string]any{"region": env.Region, "endpoint": env.URL}})
		if err == nil || !strings.Contains(err.Error(), "no AWS credentials found") {
			t.Errorf("Configure = %v, want no credentials", err)
		}
	})
}

// TestAssumeRole: the role's credentials replace the chain's.
func TestAssumeRole(t *testing.T) {
	env := awstest.New(t)
	c := configure(t, env, map[string]any{"assume_role": map[string]any{"role_arn": "arn:aws:iam::123456789012:role/deploy", "session_name": "ferry-test"}})
	creds, err := c.AWSConfig().Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID == awstest.AccessKeyID || !creds.CanExpire {
		t.Errorf("credentials %q (expiring: %v) are not the role's", creds.AccessKeyID, creds.CanExpire)
	}
	if n := c.Calls().Of("STS.AssumeRole"); n != 1 {
		t.Errorf("STS.AssumeRole called %d times, want 1", n)
	}
}

// TestSchemas: the provider lists its types without a configuration, and
// the registry takes it.
func TestSchemas(t *testing.T) {
	reg, err := providers.NewRegistry(aws.New())
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{aws.KeyPairType, aws.SecurityGroupType, aws.Route53ZoneType, aws.Route53RecordType} {
		if _, ok := reg.Schema(typ); !ok {
			t.Errorf("registry lacks %s", typ)
		}
	}
	if s, _ := reg.Schema(aws.KeyPairType); len(s.Sensitive()) != 1 {
		t.Errorf("aws.key_pair sensitive attributes %v", s.Sensitive())
	}
	_ = spec.Schema{}
}
