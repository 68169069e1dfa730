package plan

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// A plan file is signed so that what was reviewed is what apply executes:
// the signature is an HMAC-SHA256 over the whole plan body (the file as
// Encode writes it, with an empty signature), keyed by a per-deployment
// secret kept in the state store. Any edit — an action, an argument, an
// injected resource, an edge — breaks it, and without the key nobody can
// sign an edited plan. The key never appears in a plan.

const signaturePrefix = "hmac-sha256:"

// ErrUnsigned is returned by Verify for a plan without a signature.
var ErrUnsigned = errors.New("the plan is not signed")

// Sign sets p.Signature for key and keeps the signed file's bytes (see
// File): a large plan is encoded once, not once to sign and once more to
// write.
func Sign(p *Plan, key []byte) error {
	if len(key) == 0 {
		return errors.New("sign plan: no plan key")
	}
	body := *p
	body.Signature, body.Encoded = "", SignedFile{}
	data, err := Encode(&body)
	if err != nil {
		return err
	}
	sig := mac(data, key)
	// The signature is the file's last field: the signed file is the body
	// with it added before the closing brace, exactly as Encode writes it.
	const end = "\n}\n"
	if !bytes.HasSuffix(data, []byte(end)) {
		return fmt.Errorf("sign plan: the encoded plan does not end with %q", end)
	}
	file := append(data[:len(data)-len(end):len(data)-len(end)], []byte(",\n  \"signature\": \""+sig+"\""+end)...)
	p.Signature, p.Encoded = sig, SignedFile{file}
	return nil
}

// ID identifies a signed plan: a digest of its signature, so it names
// exactly one plan without holding anything that could sign another.
// Apply records it in the state snapshot it writes (state.AppliedPlan), so
// that a plan applied twice is told apart from one another apply
// overtook. "" for an unsigned plan.
func (p *Plan) ID() string {
	if p.Signature == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(p.Signature))
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// File returns the plan file's bytes as Sign made them, nil when the plan
// was not signed in this process. A signed plan must not be changed.
func (p *Plan) File() []byte { return p.Encoded.b }

// Verify checks p.Signature against key: nil when the plan is exactly
// what was signed.
func Verify(p *Plan, key []byte) error {
	if p.Signature == "" {
		return ErrUnsigned
	}
	if !strings.HasPrefix(p.Signature, signaturePrefix) {
		return fmt.Errorf("the plan's signature %q does not start with %s", p.Signature, signaturePrefix)
	}
	want, err := signature(p, key)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(want), []byte(p.Signature)) {
		return errors.New("the plan's signature does not match its content")
	}
	return nil
}

func signature(p *Plan, key []byte) (string, error) {
	if len(key) == 0 {
		return "", errors.New("sign plan: no plan key")
	}
	body := *p
	body.Signature, body.Encoded = "", SignedFile{}
	data, err := Encode(&body)
	if err != nil {
		return "", err
	}
	return mac(data, key), nil
}

func mac(data, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}
