package aws

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// NixOps kept AWS keys in ~/.ec2-keys, one per line:
//
//	ACCESS_KEY_ID SECRET_ACCESS_KEY [NAME]   # comment
//
// and took an access key ID or a NAME where ferry takes a profile
// (deployment.ec2.accessKeyId). ferry reads it as the last resort, so
// that a NixOps user's deployment keeps working until the keys move to
// ~/.aws: a profile that no shared config file holds is looked up here,
// and with no profile at all, the key named by $EC2_ACCESS_KEY or
// $AWS_ACCESS_KEY_ID (NixOps's variables) is, else the file's only key.

// ec2KeysSource names the source of credentials read from ~/.ec2-keys.
const ec2KeysSource = "ferry:~/.ec2-keys"

type ec2Key struct{ id, secret, name string }

// parseEC2Keys reads the file's lines as NixOps did: "#" starts a
// comment, lines of other than two or three words are ignored.
func parseEC2Keys(data []byte) []ec2Key {
	var out []ec2Key
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		w := strings.Fields(line)
		if len(w) < 2 || len(w) > 3 {
			continue
		}
		k := ec2Key{id: w[0], secret: w[1]}
		if len(w) == 3 {
			k.name = w[2]
		}
		out = append(out, k)
	}
	return out
}

// lookupEC2Key finds the key named ident (its NAME, else its access key
// ID, as NixOps matched); ident "" finds the only key of a file that
// holds one.
func lookupEC2Key(keys []ec2Key, ident string) (ec2Key, bool) {
	if ident == "" {
		if len(keys) == 1 {
			return keys[0], true
		}
		return ec2Key{}, false
	}
	for _, k := range keys {
		if k.name == ident {
			return k, true
		}
	}
	for _, k := range keys {
		if k.id == ident {
			return k, true
		}
	}
	return ec2Key{}, false
}

// ec2KeysCredentials returns the credentials ~/.ec2-keys holds for ident
// (a profile name; "" for NixOps's environment variables or the only
// key). A missing file finds nothing; an unreadable one is an error.
func ec2KeysCredentials(ident string) (aws.Credentials, bool, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return aws.Credentials{}, false, nil
	}
	path := filepath.Join(home, ".ec2-keys")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return aws.Credentials{}, false, nil
	}
	if err != nil {
		return aws.Credentials{}, false, fmt.Errorf("read NixOps keys: %w", err)
	}
	if ident == "" {
		ident = os.Getenv("EC2_ACCESS_KEY")
	}
	if ident == "" {
		ident = os.Getenv("AWS_ACCESS_KEY_ID")
	}
	k, ok := lookupEC2Key(parseEC2Keys(data), ident)
	if !ok {
		return aws.Credentials{}, false, nil
	}
	return aws.Credentials{AccessKeyID: k.id, SecretAccessKey: k.secret, Source: ec2KeysSource}, true, nil
}
