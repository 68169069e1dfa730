package sealed

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
)

// Format and Version identify the envelopes this ferry writes; it opens
// versions up to Version and says to upgrade for newer ones.
const (
	Format  = "ferry-sealed"
	Version = 1
)

// valuePrefix starts a sealed value: "ferry-sealed:".
const valuePrefix = Format + ":"

// Header is the clear part of an envelope. It is authenticated with the
// ciphertext.
type Header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Keeper is the scheme of the key that sealed it, KeyID which key.
	Keeper string `json:"keeper"`
	KeyID  string `json:"key_id,omitempty"`
	// Kind says what it holds ("state", "journal", "plan-key", ...).
	Kind string `json:"kind"`
	// Attrs are public facts about the content that readers need
	// without the key.
	Attrs map[string]string `json:"attrs,omitempty"`
	// DataKey is the data key that encrypts the content (AES-256-GCM),
	// itself encrypted with the keeper, in base64. One data key serves a
	// whole run: the keeper (a KMS) is called once per run, and however
	// large the content, the keeper only ever encrypts 32 bytes (AWS KMS
	// takes at most 4 KiB).
	DataKey string `json:"data_key"`
}

// Key names the key that sealed it, for messages: "base64key:// key with
// fingerprint 1f0c9a2b7d3e4f5a", "awskms://alias/ferry".
func (h Header) Key() string { return describe(h.Keeper, h.KeyID) }

// object is a sealed object as stored.
type object struct {
	Header
	Ciphertext string `json:"ciphertext"`
}

// canonical is what authenticates h: its JSON (struct order, sorted
// attrs), the additional data of the AES-GCM encryption.
func canonical(h Header) []byte {
	data, _ := json.Marshal(h) // strings and a map of strings: cannot fail
	return data
}

// header starts the header of what k seals now, with this run's data key.
func (k *Keys) header(ctx context.Context, kind string, attrs map[string]string) (Header, []byte, error) {
	if !k.Sealing() {
		return Header{}, nil, errors.New("seal: no key to seal with")
	}
	dk, err := k.dataKey(ctx)
	if err != nil {
		return Header{}, nil, err
	}
	h := Header{Format: Format, Version: Version, Keeper: k.seal.scheme, KeyID: k.seal.keyID, Kind: kind, DataKey: dk.wrapped}
	if len(attrs) > 0 {
		h.Attrs = maps.Clone(attrs)
	}
	return h, dk.plain, nil
}

// encrypt seals data under h with the data key: nonce || AES-GCM, the
// header as additional data.
func encrypt(h Header, key, data []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(data)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, data, canonical(h)), nil
}

// decrypt reverses encrypt; false when the ciphertext or the header was
// changed.
func decrypt(h Header, key, ct []byte) ([]byte, bool) {
	aead, err := newAEAD(key)
	if err != nil || len(ct) < aead.NonceSize() {
		return nil, false
	}
	pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], canonical(h))
	return pt, err == nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts data with the sealing key into an object envelope (one
// line of JSON, without a trailing newline). attrs are stored in clear.
func (k *Keys) Seal(ctx context.Context, kind string, attrs map[string]string, data []byte) ([]byte, error) {
	h, key, err := k.header(ctx, kind, attrs)
	if err != nil {
		return nil, err
	}
	ct, err := encrypt(h, key, data)
	if err != nil {
		return nil, err
	}
	// The header as JSON, then the ciphertext member spliced in: base64
	// needs no escaping, and a JSON encoder would scan megabytes of it.
	head := canonical(h)
	out := make([]byte, 0, len(head)+len(`,"ciphertext":""`)+base64.StdEncoding.EncodedLen(len(ct)))
	out = append(out, head[:len(head)-1]...) // without the closing brace
	out = append(out, `,"ciphertext":"`...)
	out = base64.StdEncoding.AppendEncode(out, ct)
	return append(out, `"}`...), nil
}

// Is reports whether data is a sealed object: a JSON object with the
// member "format": "ferry-sealed". Envelopes are written with that member
// first, which Is checks reading a few tokens; an object whose first
// member is another of the envelope's (one reformatted by a tool that
// sorts keys) is decoded whole to find out. Anything else (state, a
// journal record, a plan key in clear) costs a few tokens.
func Is(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	t, err := dec.Token()
	if err != nil {
		return false
	}
	switch t {
	case "format":
		t, err := dec.Token()
		return err == nil && t == Format
	case "version", "keeper", "key_id", "kind", "attrs", "data_key", "ciphertext":
		var obj struct {
			Format string `json:"format"`
		}
		return json.Unmarshal(data, &obj) == nil && obj.Format == Format
	}
	return false
}

// ParseHeader reads the header of a sealed object from data, which may be
// only the object's beginning: it stops at the ciphertext.
func ParseHeader(data []byte) (Header, error) {
	var h Header
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return h, errors.New("not a JSON object")
	}
	sawCiphertext := false
	for {
		t, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("the header is cut short")
			}
			return h, err
		}
		key, ok := t.(string)
		if !ok { // the object's end
			if err := h.check(); err != nil {
				return h, err
			}
			if !sawCiphertext {
				return h, errors.New("no ciphertext")
			}
			return h, nil
		}
		var dst any
		switch key {
		case "ciphertext":
			if h.check() == nil {
				return h, nil
			}
			// Written after the ciphertext (keys reordered): read on.
			sawCiphertext = true
			var skip json.RawMessage
			dst = &skip
		case "format":
			dst = &h.Format
		case "version":
			dst = &h.Version
		case "keeper":
			dst = &h.Keeper
		case "key_id":
			dst = &h.KeyID
		case "kind":
			dst = &h.Kind
		case "attrs":
			dst = &h.Attrs
		case "data_key":
			dst = &h.DataKey
		default:
			var skip json.RawMessage
			dst = &skip
		}
		if err := dec.Decode(dst); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("the header is cut short")
			}
			return h, fmt.Errorf("%s: %w", key, err)
		}
	}
}

func (h Header) check() error {
	switch {
	case h.Format != Format:
		return fmt.Errorf("format is %q, not %q", h.Format, Format)
	case h.Version < 1:
		return errors.New("no version")
	case h.Keeper == "":
		return errors.New("no keeper")
	case h.Kind == "":
		return errors.New("no kind")
	case h.DataKey == "":
		return errors.New("no data key")
	}
	return nil
}

// parseObject splits a sealed object into its header and ciphertext.
func parseObject(data []byte) (Header, []byte, error) {
	if h, ct, ok := parseWritten(data); ok {
		return h, ct, nil
	}
	var obj object
	if err := json.Unmarshal(data, &obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
			return obj.Header, nil, errors.New("the envelope is not complete JSON (cut short?)")
		}
		return obj.Header, nil, errors.New("the envelope's fields have the wrong types")
	}
	if err := obj.check(); err != nil {
		return obj.Header, nil, err
	}
	ct, err := base64.StdEncoding.DecodeString(obj.Ciphertext)
	if err != nil || len(ct) == 0 {
		return obj.Header, nil, errors.New("the ciphertext is not base64")
	}
	return obj.Header, ct, nil
}

// parseWritten parses an object as Seal writes it (the ciphertext last)
// without decoding megabytes of base64 as a JSON string; false for
// anything else, which parseObject decodes as JSON.
func parseWritten(data []byte) (Header, []byte, bool) {
	h, err := ParseHeader(data)
	if err != nil {
		return h, nil, false
	}
	// Inside a JSON string every quote is escaped: this is the member.
	const member = `"ciphertext":"`
	i := bytes.Index(data, []byte(member))
	if i < 0 {
		return h, nil, false
	}
	rest := data[i+len(member):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || string(bytes.TrimSpace(rest[j+1:])) != "}" {
		return h, nil, false
	}
	ct := make([]byte, base64.StdEncoding.DecodedLen(j))
	n, err := base64.StdEncoding.Decode(ct, rest[:j])
	if err != nil || n == 0 {
		return h, nil, false
	}
	return h, ct[:n], true
}

// Open decrypts a sealed object of kind and returns the data and the
// header. subject names what it is in errors ("state of deployment
// \"web\" in s3://bucket"). Every error is an *Error.
func (k *Keys) Open(ctx context.Context, subject, kind string, data []byte) ([]byte, Header, error) {
	h, ct, err := parseObject(data)
	if err != nil {
		return nil, h, &Error{Reason: Damaged, Subject: subject, Header: h, Err: err}
	}
	pt, err := k.decrypt(ctx, subject, kind, h, ct)
	return pt, h, err
}

// decrypt opens ct sealed under h: it gets the data key from the cache
// or from the best candidate keeper, then decrypts.
func (k *Keys) decrypt(ctx context.Context, subject, kind string, h Header, ct []byte) ([]byte, error) {
	fail := func(r Reason, err error) error {
		return &Error{Reason: r, Subject: subject, Header: h, Given: k.given(), Err: err}
	}
	if h.Version > Version {
		return nil, fail(Newer, nil)
	}
	if h.Kind != kind {
		return nil, fail(Damaged, fmt.Errorf("it holds %s, not %s", h.Kind, kind))
	}
	key, reason, err := k.openDataKey(ctx, h)
	if reason != 0 {
		return nil, fail(reason, err)
	}
	pt, ok := decrypt(h, key, ct)
	if !ok {
		return nil, fail(Damaged, errors.New("its ciphertext or its clear header was damaged or edited, or it was moved from elsewhere"))
	}
	return pt, nil
}

// SealValue encrypts data into a value envelope. kind and attrs are not
// written: OpenValue must be given the same.
func (k *Keys) SealValue(ctx context.Context, kind string, attrs map[string]string, data []byte) (string, error) {
	h, key, err := k.header(ctx, kind, attrs)
	if err != nil {
		return "", err
	}
	ct, err := encrypt(h, key, data)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%d:%s:%s:%s:%s", valuePrefix, h.Version, h.Keeper, h.KeyID, h.DataKey, base64.StdEncoding.EncodeToString(ct)), nil
}

// IsValue reports whether s is a value envelope.
func IsValue(s string) bool { return strings.HasPrefix(s, valuePrefix) }

// parseValue splits a value envelope,
// "ferry-sealed:<version>:<keeper>:<key_id>:<data_key>:<ciphertext>"
// (a key ID may hold colons, base64 has none); kind and attrs complete
// its header.
func parseValue(s, kind string, attrs map[string]string) (Header, []byte, error) {
	h := Header{Format: Format, Kind: kind}
	if len(attrs) > 0 {
		h.Attrs = maps.Clone(attrs)
	}
	rest, ok := strings.CutPrefix(s, valuePrefix)
	if !ok {
		return h, nil, fmt.Errorf("it does not start with %q", valuePrefix)
	}
	version, rest, ok := strings.Cut(rest, ":")
	v, err := strconv.Atoi(version)
	if !ok || err != nil || v < 1 {
		return h, nil, errors.New("no version")
	}
	h.Version = v
	h.Keeper, rest, ok = strings.Cut(rest, ":")
	i := strings.LastIndexByte(rest, ':')
	if !ok || h.Keeper == "" || i < 0 {
		return h, nil, errors.New("it is not keeper:key_id:data_key:ciphertext")
	}
	rest, cts := rest[:i], rest[i+1:]
	j := strings.LastIndexByte(rest, ':')
	if j < 0 {
		return h, nil, errors.New("it is not keeper:key_id:data_key:ciphertext")
	}
	h.KeyID, h.DataKey = rest[:j], rest[j+1:]
	ct, err := base64.StdEncoding.DecodeString(cts)
	if err != nil || len(ct) == 0 || h.DataKey == "" {
		return h, nil, errors.New("the data key or the ciphertext is not base64")
	}
	return h, ct, nil
}

// ValueHeader returns what a value envelope says in clear (kind and attrs
// are not in it).
func ValueHeader(s string) (Header, error) {
	h, _, err := parseValue(s, "", nil)
	return h, err
}

// OpenValue decrypts a value envelope sealed with kind and attrs. Every
// error is an *Error.
func (k *Keys) OpenValue(ctx context.Context, subject, kind string, attrs map[string]string, s string) ([]byte, error) {
	h, ct, err := parseValue(s, kind, attrs)
	if err != nil {
		return nil, &Error{Reason: Damaged, Subject: subject, Header: h, Err: err}
	}
	return k.decrypt(ctx, subject, kind, h, ct)
}
