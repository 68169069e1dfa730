package plan

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// KeyedDigest is hex HMAC-SHA256(key, domain || data): what a plan or the
// state records of a secret (a var's value, a key's content), keyed by
// the deployment's plan key. Digests of secrets are never unkeyed: an
// empty key (a plan built without the deployment's plan key, which is
// never written or applied) is replaced by a random key of this process,
// so that nothing computed here can be used to test guesses of a secret.
// The engine core (var digests) and the machine pipeline (key hashes)
// share it.
func KeyedDigest(key []byte, domain string, data []byte) string {
	if len(key) == 0 {
		key = processKey()
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(domain))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// processKey is a random key of this process, for digests that are only
// ever compared within it.
var processKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return k
})
