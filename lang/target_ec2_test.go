package lang

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
)

// awsTestSchemas are the attributes of the aws types aws.ec2 refers to,
// as far as lang needs them (the provider's schemas are tested with it).
func awsTestSchemas() []spec.Schema {
	str := func(name string) spec.Attr { return spec.Attr{Name: name, Kind: spec.KindString, Optional: true} }
	computed := func(name string) spec.Attr { return spec.Attr{Name: name, Kind: spec.KindString, Computed: true} }
	return []spec.Schema{
		{Type: "aws.instance", Attrs: []spec.Attr{
			{Name: "ami", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true},
			str("nixos_release"), str("arch"),
			{Name: "instance_type", Kind: spec.KindString, Required: true},
			str("key_name"), str("subnet_id"), str("availability_zone"), str("elastic_ip"), str("iam_instance_profile"),
			{Name: "security_group_ids", Kind: spec.KindList, Optional: true},
			{Name: "volumes", Kind: spec.KindList, Optional: true},
			{Name: "root_volume", Kind: spec.KindMap, Optional: true},
			{Name: "spot", Kind: spec.KindMap, Optional: true},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}},
			{Name: "nixos_host_key", Kind: spec.KindBool, Optional: true, Default: false},
			computed("id"), computed("public_ip"), computed("private_ip"), computed("host_key"),
		}},
		{Type: "aws.key_pair", Attrs: []spec.Attr{str("public_key"), computed("key_name"), computed("id")}},
		{Type: "aws.security_group", Attrs: []spec.Attr{str("description"), computed("id")}},
		{Type: "aws.subnet", Attrs: []spec.Attr{str("cidr_block"), computed("id")}},
		{Type: "aws.elastic_ip", Attrs: []spec.Attr{computed("id"), computed("public_ip")}},
		{Type: "aws.ebs_volume", Attrs: []spec.Attr{str("availability_zone"), computed("id")}},
	}
}

func awsTestProviders() []ProviderSchema {
	return []ProviderSchema{{Name: "aws", Config: &spec.Schema{Type: "aws.provider", Attrs: []spec.Attr{
		{Name: "region", Kind: spec.KindString, Required: true},
	}}}}
}

// TestEC2Target: machine(target = aws.ec2(...)) declares the machine's
// instance from the target's arguments (resources become references to
// their IDs), ignores ami changes, and gives the machine an aws.ec2
// target whose host and host key are the instance's, and a module that
// mounts its volumes.
func TestEC2Target(t *testing.T) {
	main := `aws.provider(region = "eu-west-1")
eu = aws.provider(alias = "eu", region = "eu-west-1")
kp = aws.key_pair("deploy", public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh0ZXN0")
http = aws.security_group("http", provider = eu)
sub = aws.subnet("a")
eip = aws.elastic_ip("web")
data = aws.ebs_volume("data", availability_zone = "eu-west-1a")
box = aws.ec2(
    instance_type = "t3.small",
    key_pair = kp,
    security_groups = [http, "sg-0123"],
    subnet = sub,
    elastic_ip = eip,
    volumes = [{"volume": data, "device": "/dev/xvdf", "mount": "/data"}],
    provider = eu,
    tags = {"team": "web"},
)
web = machine("web", box, modules = [nix.inline("{ }")])
db = machine("db", aws.ec2(instance_type = "t3.large", ami = aws.nixos_ami(release = "25.05", arch = "arm64"), connect = "private"), modules = [])
`
	dir := writeFiles(t, map[string]string{"ferry.star": main})
	cfg, err := Load(context.Background(), Options{Dir: dir, Schemas: append(testSchemas(), awsTestSchemas()...), Providers: append(testProviders(), awsTestProviders()...)})
	if err != nil {
		t.Fatal(err)
	}
	ref := func(addr, attr string) spec.Ref { return spec.Ref{Addr: addr, Attr: attr} }
	var web, db *spec.Resource
	for _, r := range cfg.Resources {
		switch r.Addr {
		case "aws.instance.web":
			web = r
		case "aws.instance.db":
			db = r
		}
	}
	if web == nil || db == nil {
		t.Fatalf("instances not declared: %v", cfg.Resources)
	}
	wantWeb := map[string]any{
		"instance_type":      "t3.small",
		"nixos_release":      "25.11",
		"arch":               "x86_64",
		"key_name":           ref("aws.key_pair.deploy", "key_name"),
		"security_group_ids": []any{ref("aws.security_group.http", "id"), "sg-0123"},
		"subnet_id":          ref("aws.subnet.a", "id"),
		"elastic_ip":         ref("aws.elastic_ip.web", "id"),
		"volumes":            []any{map[string]any{"volume_id": ref("aws.ebs_volume.data", "id"), "device": "/dev/xvdf"}},
		"tags":               map[string]any{"team": "web"},
		"nixos_host_key":     true,
	}
	got := map[string]any{}
	for k, v := range web.Args {
		if v != nil {
			got[k] = v
		}
	}
	if d := cmp.Diff(wantWeb, got); d != "" {
		t.Errorf("aws.instance.web arguments (-want +got):\n%s", d)
	}
	if web.Provider != "aws.eu" || !slices.Contains(web.Lifecycle.IgnoreChanges, "ami") {
		t.Errorf("aws.instance.web: provider %q, ignore_changes %v; want aws.eu and ami ignored", web.Provider, web.Lifecycle.IgnoreChanges)
	}
	if web.Pos != (spec.Pos{File: "ferry.star", Line: 8, Col: 7}) {
		t.Errorf("aws.instance.web declared at %v, want where aws.ec2 was called (8:7)", web.Pos)
	}
	if db.Args["nixos_release"] != "25.05" || db.Args["arch"] != "arm64" {
		t.Errorf("aws.instance.db: nixos_release %v, arch %v; want 25.05, arm64", db.Args["nixos_release"], db.Args["arch"])
	}

	mw, md := cfg.MachineByName("web"), cfg.MachineByName("db")
	wantT := spec.Target{Kind: "aws.ec2", Port: 22, User: "root", Resource: "aws.instance.web",
		Refs: map[string]any{"host": ref("aws.elastic_ip.web", "public_ip"), "host_key": ref("aws.instance.web", "host_key")},
		Pos:  spec.Pos{File: "ferry.star", Line: 8, Col: 7}}
	if d := cmp.Diff(wantT, mw.Target); d != "" {
		t.Errorf("web's target (-want +got):\n%s", d)
	}
	if md.Target.Refs["host"] != ref("aws.instance.db", "private_ip") || md.Target.Resource != "aws.instance.db" {
		t.Errorf("db's target: %+v; want the private IP of aws.instance.db", md.Target)
	}
	last := mw.Modules[len(mw.Modules)-1]
	if !strings.Contains(last.Inline, `fileSystems."/data" = { device = "/dev/xvdf"; fsType = "ext4"; autoFormat = true; };`) {
		t.Errorf("web's modules end with %q, want its volume mounted", last.Inline)
	}
	if len(md.Modules) != 1 || !strings.Contains(md.Modules[0].Inline, "virtualisation/amazon-image.nix") {
		t.Errorf("db has modules %v, want only the EC2 image module (no volumes)", md.Modules)
	}
	if !strings.Contains(mw.Modules[len(mw.Modules)-2].Inline, "virtualisation/amazon-image.nix") {
		t.Errorf("web's modules %v lack the EC2 image module", mw.Modules)
	}
}

// TestEC2TargetErrors: mistakes in aws.ec2(...) are reported at the call.
func TestEC2TargetErrors(t *testing.T) {
	for _, tt := range []struct{ name, src, want string }{
		{"missing type", `aws.ec2()`, `ferry.star:1:1: aws.ec2: missing required argument "instance_type"`},
		{"key pair of the wrong type", "s = aws.subnet(\"a\")\naws.ec2(instance_type = \"t3.small\", key_pair = s)", `ferry.star:2:1: aws.ec2: argument "key_pair": got the aws.subnet resource aws.subnet.a, want an aws.key_pair`},
		{"key pair EC2 makes", "aws.provider(region = \"x\")\nkp = aws.key_pair(\"k\")\naws.ec2(instance_type = \"t3.small\", key_pair = kp)", `argument "key_pair": aws.key_pair.k has no public_key`},
		{"connect", `aws.provider(region = "x")
aws.ec2(instance_type = "t3.small", connect = "vpn")`, `connect "vpn": want "public"`},
		{"volume without device", "v = aws.ebs_volume(\"v\")\naws.ec2(instance_type = \"t3.small\", volumes = [{\"volume\": v}])", `argument "volumes"[0]: needs "volume"`},
		{"volume key", "v = aws.ebs_volume(\"v\")\naws.ec2(instance_type = \"t3.small\", volumes = [{\"volume\": v, \"device\": \"/dev/xvdf\", \"mnt\": \"/x\"}])", `unknown key "mnt"`},
		{"release", `aws.nixos_ami(release = "unstable")`, `release "unstable" is not a NixOS release`},
		{"arch", `aws.nixos_ami(arch = "i686")`, `arch "i686": want "x86_64" or "arm64"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"ferry.star": tt.src + "\n"})
			_, err := Load(context.Background(), Options{Dir: dir, Schemas: append(testSchemas(), awsTestSchemas()...), Providers: append(testProviders(), awsTestProviders()...)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
