package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateOffline: ferry validate of a configuration on AWS needs no
// credentials and calls no API (Terraform's validate does not either):
// the aws provider checks the arguments offline.
func TestValidateOffline(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "none"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL":            "http://127.0.0.1:9", // nothing listens: a call would fail
	} {
		t.Setenv(k, v)
	}
	config := `aws.provider(region = "eu-west-1")
kp = aws.key_pair("deploy", public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICR5lleMX8CG6QpZ1iqfVyfOafTB+KuLwdaEbUN6HsPn")
aws.instance("plain", instance_type = "t3.micro", nixos_release = "25.11", key_name = kp.key_name)
machine("web", target = aws.ec2(instance_type = "t3.micro", key_pair = kp), modules = [])
`
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustFerry(t, 0, dir, "", "validate")
	if !strings.Contains(r.stdout, "Configuration is valid: deployment \"default\", 3 resources, 1 machine, 0 outputs") {
		t.Errorf("validate:\n%s\n%s", r.stdout, r.stderr)
	}
}
