package aws_test

import (
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
)

const (
	testPublicKey  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICSb+0t1Yn6C7Nx7mnXbb19Mgd/dYeLWgppgigirE+pZ alice@laptop"
	otherPublicKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC1HI+rE9TJuCCOSY4xfDMtkXJKlrs9AE2U7r3UgXst8ju4uozQdVrH3UDfStHawxrX11UYlchv0buFgZtPZcZfCah/N3cNREzC2lRQgfrJfTk5E5mCqFz9heGo5rHUgbztANWZzcF4MsD2bR3USKJpvwM6ao2o5SfR/sV5bX9FXVrn0OQ7MORVd9vxpqjjE+0cJBEbWABLQ7uOgq97Fv2Ub6CaA1Te8M7qYDmn4wLW9+drYqkjDru8/rgzpFhWpptgxSa5rGVlyPpIJNX6zbDeclL5GMJcmubMWSqXRVgZI7cmkpWe4qnyKoPwplpMYsDmbPbFg5UhFpjIJ2thirRR bob@ci"
)

// TestKeyPairCreated: a key pair EC2 makes comes with a private key that
// matches its public key, and the plan did not know either.
func TestKeyPairCreated(t *testing.T) {
	env := awstest.New(t)
	o := newObject(t, resource(t, configure(t, env, nil), aws.KeyPairType), "deploy", nil)
	p := o.plan()
	if _, unknown := p.Planned["private_key"].(spec.Unknown); !unknown {
		t.Errorf("planned private_key %v, want (known after apply)", p.Planned["private_key"])
	}
	st := o.create("tok-created")
	signer, err := ssh.ParsePrivateKey([]byte(st["private_key"].(string)))
	if err != nil {
		t.Fatalf("private_key does not parse: %v", err)
	}
	if got := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))); got != st["public_key"] {
		t.Errorf("public_key %v does not match the private key's %s", st["public_key"], got)
	}
	if st["key_type"] != "ed25519" || !strings.HasPrefix(st["key_name"].(string), "ferry-deploy-") {
		t.Errorf("state %v: want an ed25519 key named ferry-deploy-...", st)
	}
	o.steady("after create")
}

// TestKeyPairImportByName: ferry import takes a key pair's name too, and a
// plan over it with the same public key (another comment) replaces nothing.
func TestKeyPairImportByName(t *testing.T) {
	env := awstest.New(t)
	_, err := env.EC2(env.Region).ImportKeyPair(t.Context(), &ec2.ImportKeyPairInput{KeyName: awssdk.String("laptop"), PublicKeyMaterial: []byte(testPublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	r := resource(t, configure(t, env, nil), aws.KeyPairType)
	resp, err := r.(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: "aws.key_pair.laptop", ID: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.State["key_name"] != "laptop" || resp.State["private_key"] != nil {
		t.Errorf("imported %v", resp.State)
	}
	o := newObject(t, r, "laptop", map[string]any{"key_name": "laptop", "public_key": strings.TrimSuffix(testPublicKey, " alice@laptop") + " other-comment"})
	o.state = resp.State
	if p := o.plan(); len(p.RequiresReplace) > 0 {
		t.Errorf("plan over the imported key replaces %v", p.RequiresReplace)
	}
	_, err = r.(providers.Importer).Import(t.Context(), providers.ImportRequest{Addr: "aws.key_pair.laptop", ID: "nope"})
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "aws.key_pair.laptop") {
		t.Errorf("import of a missing name: %v", err)
	}
}

// TestKeyPairTagDrift: a tag added outside ferry shows in a read, and the
// update removes it.
func TestKeyPairTagDrift(t *testing.T) {
	env := awstest.New(t)
	o := newObject(t, resource(t, configure(t, env, nil), aws.KeyPairType), "k", map[string]any{"public_key": testPublicKey, "tags": map[string]any{"a": "1"}})
	st := o.create("tok-drift")
	id := st["id"].(string)
	ec2c := env.EC2(env.Region)
	if _, err := ec2c.CreateTags(t.Context(), &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: awssdk.String("added"), Value: awssdk.String("outside")}}}); err != nil {
		t.Fatal(err)
	}
	if tags := o.refresh()["tags"].(map[string]any); tags["added"] != "outside" {
		t.Fatalf("read tags %v: the tag added outside is missing", tags)
	}
	o.update()
	o.steady("after the update")
	out, err := ec2c.DescribeKeyPairs(t.Context(), &ec2.DescribeKeyPairsInput{KeyPairIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, tag := range out.KeyPairs[0].Tags {
		keys = append(keys, awssdk.ToString(tag.Key))
	}
	if strings.Join(keys, ",") != "a,ferry:token" && strings.Join(keys, ",") != "ferry:token,a" {
		t.Errorf("tags in EC2 after the update: %v; want a and ferry's token", keys)
	}
}

// TestKeyPairNameTaken: a key pair of the same name that this deployment
// did not make is not taken over.
func TestKeyPairNameTaken(t *testing.T) {
	env := awstest.New(t)
	if _, err := env.EC2(env.Region).ImportKeyPair(t.Context(), &ec2.ImportKeyPairInput{KeyName: awssdk.String("taken"), PublicKeyMaterial: []byte(testPublicKey)}); err != nil {
		t.Fatal(err)
	}
	o := newObject(t, resource(t, configure(t, env, nil), aws.KeyPairType), "k", map[string]any{"key_name": "taken"})
	p := o.plan()
	_, err := o.r.Apply(t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Create, Planned: p.Planned, Token: "tok-taken"})
	for _, want := range []string{"create aws.key_pair.k", `named "taken" exists already`, "ferry import aws.key_pair.k taken"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

func TestKeyPairPlanErrors(t *testing.T) {
	env := awstest.New(t)
	r := resource(t, configure(t, env, nil), aws.KeyPairType)
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"public_key": "not a key"}, "is not an OpenSSH public key"},
		{map[string]any{"public_key": testPublicKey, "key_type": "rsa"}, "leave key_type out"},
		{map[string]any{"key_type": "dsa"}, `want "ed25519" or "rsa"`},
		{map[string]any{"tags": map[string]any{"ferry:token": "x"}}, "ferry's own"},
		{map[string]any{"tags": map[string]any{"n": num(1)}}, "must be a string"},
		{map[string]any{"zone": "a"}, `unknown argument "zone"`},
	}
	for _, tt := range tests {
		o := newObject(t, r, "k", tt.args)
		_, err := o.r.Plan(t.Context(), providers.PlanRequest{Addr: o.addr, Config: o.config})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "aws.key_pair.k") {
			t.Errorf("plan %v: error %v, want one naming aws.key_pair.k and saying %q", tt.args, err, tt.want)
		}
	}
}
