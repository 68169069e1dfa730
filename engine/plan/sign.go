package plan

import (
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

// Sign sets p.Signature for key.
func Sign(p *Plan, key []byte) error {
	sig, err := signature(p, key)
	if err != nil {
		return err
	}
	p.Signature = sig
	return nil
}

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
	body.Signature = ""
	data, err := Encode(&body)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil)), nil
}
