package awstest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/providers/aws/awstest"
)

func TestParseUserDataHostKey(t *testing.T) {
	key, pub := newHostKey(t)
	_, otherPub := newHostKey(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaBlock, err := ssh.MarshalPrivateKey(rsaKey, "")
	if err != nil {
		t.Fatal(err)
	}
	oneLine := strings.ReplaceAll(string(key), "\n", "|")
	tests := []struct {
		name     string
		userData string
		ok       bool
		wantErr  string
	}{
		{"as NixOps wrote it", "#!/bin/sh\n" + awstest.HostKeyUserData(key, pub) + "OTHER=1\n", true, ""},
		{"without the public key line", "SSH_HOST_ED25519_KEY:" + oneLine + "\n", true, ""},
		{"without the last newline", "SSH_HOST_ED25519_KEY:" + strings.TrimSuffix(oneLine, "|"), true, ""},
		{"with CRLF lines", "A=1\r\nSSH_HOST_ED25519_KEY:" + oneLine + "\r\nSSH_HOST_ED25519_KEY_PUB:" + pub + " root@x\r\n", true, ""},
		{"no key", "#cloud-config\nSSH_HOST_ED25519_KEY_PUB:" + pub + "\n", false, ""},
		{"empty", "", false, ""},
		{"a public key of another key", awstest.HostKeyUserData(key, otherPub), true, "not the public key"},
		{"not a key", "SSH_HOST_ED25519_KEY:nonsense\n", true, "SSH_HOST_ED25519_KEY"},
		{"an RSA key", "SSH_HOST_ED25519_KEY:" + strings.ReplaceAll(string(pem.EncodeToMemory(rsaBlock)), "\n", "|") + "\n", true, "ssh-rsa key, want ssh-ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := awstest.ParseUserDataHostKey([]byte(tt.userData))
			if ok != tt.ok || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("ok %v, err %v; want ok %v and an error mentioning %q", ok, err, tt.ok, tt.wantErr)
			}
			if ok && err == nil && (got.Public != pub || string(got.Private) != string(key)) {
				t.Errorf("got %q / %q, want the key back with public key %q", got.Private, got.Public, pub)
			}
		})
	}
}
