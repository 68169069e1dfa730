package sealed

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"gocloud.dev/secrets"
)

// LocalScheme is the scheme of a local key (gocloud's localsecrets):
// base64key://KEY, where KEY is 32 bytes in URL-safe base64.
const LocalScheme = "base64key"

// NoneURL, as the first of a run's keeper URLs, makes the run write in
// clear while the other URLs still open what they sealed.
const NoneURL = "none"

// Keeper is one key: a gocloud.dev/secrets keeper and what names it.
type Keeper struct {
	k      *secrets.Keeper
	scheme string
	keyID  string
}

// OpenKeeper opens the keeper at rawURL through gocloud's default secrets
// URL mux. Errors never hold the URL (a base64key URL is the key).
func OpenKeeper(ctx context.Context, rawURL string) (*Keeper, error) {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("state secrets: %q is not a keeper URL; use e.g. base64key://KEY, awskms://KEY_ID, gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K or hashivault://KEY (supported: %s)", redact(rawURL), supportedSchemes())
	}
	if !secrets.DefaultURLMux().ValidKeeperScheme(scheme) {
		return nil, fmt.Errorf("state secrets: scheme %q is not supported; supported: %s", scheme, supportedSchemes())
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("state secrets: a %s:// URL that does not parse; check its syntax", scheme)
	}
	keyID, err := keyIDOf(u)
	if err != nil {
		return nil, err
	}
	k, err := secrets.DefaultURLMux().OpenKeeperURL(ctx, u)
	if err != nil {
		if scheme == LocalScheme {
			return nil, errors.New("state secrets: cannot open the base64key:// key; it must be 32 bytes in URL-safe base64, with no query parameters")
		}
		return nil, fmt.Errorf("state secrets: open %s://%s: %w", scheme, keyID, err)
	}
	return &Keeper{k: k, scheme: scheme, keyID: keyID}, nil
}

// NewKeeper wraps an open keeper; scheme and keyID name it in envelopes
// and messages (see OpenKeeper for what they are). The Keeper closes k.
func NewKeeper(k *secrets.Keeper, scheme, keyID string) *Keeper {
	return &Keeper{k: k, scheme: scheme, keyID: keyID}
}

// keyIDOf names the key of u: a fingerprint of a local key, the key's
// name for the others.
func keyIDOf(u *url.URL) (string, error) {
	if u.Scheme == LocalScheme {
		if u.Host == "" {
			return "", errors.New("state secrets: base64key:// needs a key (an empty one would be a new random key each run, and state sealed with it could never be read again); make one with `openssl rand -base64 32 | tr +/ -_`")
		}
		key, err := base64.URLEncoding.DecodeString(u.Host)
		if err != nil || len(key) != 32 {
			return "", errors.New("state secrets: the base64key:// key must be 32 bytes in URL-safe base64 (make one with `openssl rand -base64 32 | tr +/ -_`)")
		}
		return LocalKeyID(key), nil
	}
	if u.Opaque != "" {
		return u.Opaque, nil
	}
	return strings.Trim(u.Host+u.Path, "/"), nil
}

// LocalKeyID is the fingerprint of a local key: the first 8 bytes of
// sha256("ferry-sealed key id\x00" || key), in hex.
func LocalKeyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("ferry-sealed key id\x00"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func supportedSchemes() string {
	s := secrets.DefaultURLMux().KeeperSchemes()
	if len(s) == 0 {
		return "none (this ferry was built without keeper drivers)"
	}
	return strings.Join(s, ", ")
}

// redact keeps what a message may show of a would-be URL: nothing past a
// scheme.
func redact(raw string) string {
	if scheme, _, ok := strings.Cut(raw, ":"); ok && len(scheme) < 20 {
		return scheme + ":..."
	}
	return "..."
}

// Scheme is the keeper's URL scheme ("base64key", "awskms", ...).
func (k *Keeper) Scheme() string { return k.scheme }

// KeyID names the key within its scheme (see the package documentation).
func (k *Keeper) KeyID() string { return k.keyID }

// String names the key in messages: "base64key:// key with fingerprint
// 1f0c9a2b7d3e4f5a", "awskms://alias/ferry". It never shows key material.
func (k *Keeper) String() string { return describe(k.scheme, k.keyID) }

func describe(scheme, keyID string) string {
	if scheme == LocalScheme {
		return "base64key:// key with fingerprint " + keyID
	}
	return scheme + "://" + keyID
}

// Close releases the keeper.
func (k *Keeper) Close() error { return k.k.Close() }

// Keys are the keepers of one run: the one that seals (none: write in
// clear) and every one that opens, the sealing one first. A nil *Keys is
// a run without keys: it seals nothing and opens nothing. Keys are safe
// for concurrent use.
type Keys struct {
	seal *Keeper
	open []*Keeper

	mu      sync.Mutex
	current *dataKey          // this run's data key, made at the first seal
	opened  map[string][]byte // data keys opened so far, by wrapped form

	closeOnce sync.Once
	closeErr  error
}

// dataKey is a data key and its form encrypted by the sealing keeper.
type dataKey struct {
	plain   []byte
	wrapped string // base64
}

// dataKeyPrefix starts what a keeper encrypts of a data key, so that what
// it decrypts is known to be one.
const dataKeyPrefix = "ferry-sealed data key\n"

// dataKey returns this run's data key, making it (one keeper call) at the
// first use.
func (k *Keys) dataKey(ctx context.Context) (*dataKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current != nil {
		return k.current, nil
	}
	plain := make([]byte, 32)
	if _, err := rand.Read(plain); err != nil {
		return nil, err
	}
	wrapped, err := k.seal.k.Encrypt(ctx, append([]byte(dataKeyPrefix), plain...))
	if err != nil {
		return nil, fmt.Errorf("encrypt a data key with %s: %w", k.seal, err)
	}
	k.current = &dataKey{plain: plain, wrapped: base64.StdEncoding.EncodeToString(wrapped)}
	k.remember(k.current.wrapped, plain)
	return k.current, nil
}

// remember caches an opened data key; k.mu is held.
func (k *Keys) remember(wrapped string, plain []byte) {
	if k.opened == nil {
		k.opened = map[string][]byte{}
	}
	k.opened[wrapped] = plain
}

// openDataKey returns the data key of h: from the cache, else decrypted
// by the best candidate keeper (see candidates). On failure it says why
// (see Reason).
func (k *Keys) openDataKey(ctx context.Context, h Header) ([]byte, Reason, error) {
	if k != nil {
		k.mu.Lock()
		key, ok := k.opened[h.DataKey]
		k.mu.Unlock()
		if ok {
			return key, 0, nil
		}
	}
	wrapped, err := base64.StdEncoding.DecodeString(h.DataKey)
	if err != nil || len(wrapped) == 0 {
		return nil, Damaged, errors.New("its data key is not base64")
	}
	cands := k.candidates(h)
	if len(cands) == 0 {
		if len(k.given()) == 0 {
			return nil, NeedKey, nil
		}
		return nil, WrongKey, nil
	}
	var lastErr error
	exact := false
	for _, c := range cands {
		isExact := c.keyID == h.KeyID
		exact = exact || isExact
		pt, err := c.k.Decrypt(ctx, wrapped)
		if err != nil {
			if isExact && c.scheme == LocalScheme {
				// The very key that sealed it: the data key changed.
				return nil, Damaged, errors.New("its data key does not decrypt with the key that sealed it: it was damaged or edited")
			}
			if ctx.Err() != nil {
				return nil, Failed, ctx.Err()
			}
			lastErr = err
			continue
		}
		key, ok := bytes.CutPrefix(pt, []byte(dataKeyPrefix))
		if !ok || len(key) != 32 {
			return nil, Damaged, errors.New("its data key decrypts to something else than a data key")
		}
		k.mu.Lock()
		k.remember(h.DataKey, key)
		k.mu.Unlock()
		return key, 0, nil
	}
	if exact {
		return nil, Failed, lastErr
	}
	return nil, WrongKey, lastErr
}

// NewKeys returns keys that seal with seal (nil: write in clear) and open
// with seal and older.
func NewKeys(seal *Keeper, older ...*Keeper) *Keys {
	k := &Keys{seal: seal}
	if seal != nil {
		k.open = append(k.open, seal)
	}
	for _, o := range older {
		if o != nil {
			k.open = append(k.open, o)
		}
	}
	return k
}

// OpenKeys opens the keepers of urls (as --state-secrets takes them):
// the first seals, every one opens; NoneURL first writes in clear. No
// URL at all gives nil keys.
func OpenKeys(ctx context.Context, urls []string) (*Keys, error) {
	var list []string
	for _, u := range urls {
		if u = strings.TrimSpace(u); u != "" {
			list = append(list, u)
		}
	}
	if len(list) == 0 {
		return nil, nil
	}
	k := &Keys{}
	for i, u := range list {
		if u == NoneURL {
			if i > 0 {
				_ = k.Close()
				return nil, fmt.Errorf("state secrets: %q may only come first (write state in clear, open it with the keys after it)", NoneURL)
			}
			continue
		}
		kp, err := OpenKeeper(ctx, u)
		if err != nil {
			_ = k.Close()
			return nil, err
		}
		if i == 0 {
			k.seal = kp
		}
		k.open = append(k.open, kp)
	}
	return k, nil
}

// Sealing reports whether k seals what is written.
func (k *Keys) Sealing() bool { return k != nil && k.seal != nil }

// Sealer is the keeper that seals, nil when writes are in clear.
func (k *Keys) Sealer() *Keeper {
	if k == nil {
		return nil
	}
	return k.seal
}

// Holds reports whether k has the very key that sealed h (same scheme
// and key ID): what is sealed under h can be opened without trying.
func (k *Keys) Holds(h Header) bool {
	if k == nil {
		return false
	}
	for _, kp := range k.open {
		if kp.scheme == h.Keeper && kp.keyID == h.KeyID {
			return true
		}
	}
	return false
}

// Close releases every keeper. Closing again does nothing: keys shared by
// several owners (a Store and its opener) may each close them.
func (k *Keys) Close() error {
	if k == nil {
		return nil
	}
	k.closeOnce.Do(func() {
		var errs []error
		for _, kp := range k.open {
			errs = append(errs, kp.Close())
		}
		k.closeErr = errors.Join(errs...)
	})
	return k.closeErr
}

// candidates are the keepers worth trying on h, best first: the very key,
// then (cloud keepers only) keys of the same scheme under another name,
// which may be the same key (an alias and its ARN). A local key with
// another fingerprint is another key.
func (k *Keys) candidates(h Header) []*Keeper {
	if k == nil {
		return nil
	}
	var exact, maybe []*Keeper
	for _, kp := range k.open {
		switch {
		case kp.scheme != h.Keeper:
		case kp.keyID == h.KeyID:
			exact = append(exact, kp)
		case kp.scheme != LocalScheme:
			maybe = append(maybe, kp)
		}
	}
	return append(exact, maybe...)
}

// given names the keys a run was given, for messages.
func (k *Keys) given() []string {
	if k == nil {
		return nil
	}
	out := make([]string, 0, len(k.open))
	for _, kp := range k.open {
		out = append(out, kp.String())
	}
	return out
}
