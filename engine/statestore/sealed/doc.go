// Package sealed encrypts what ferry keeps that may hold secrets (state
// snapshots, journal records, plan keys, sensitive values in plan files)
// with a gocloud.dev/secrets keeper, in an envelope that stays
// recognisable: a reader without the key can tell "encrypted, and with
// which kind of key" from "damaged", and says so.
//
// It owns the envelope formats, the keepers of one run (Keys) and the
// errors that name the key needed. It must not know what it seals (that
// is statestore and plan), and must not blank-import keeper drivers: cmd
// registers them on gocloud's default secrets URL mux (tests register
// their own).
//
// # Keys
//
// A run has at most one keeper that seals (--state-secrets=URL), and any
// number that only open: `--state-secrets=NEW,OLD` seals with NEW and
// opens what OLD sealed (rotation); `--state-secrets=none,OLD` writes in
// clear and still opens what OLD sealed (turning encryption off). Keeper
// URLs are those of gocloud.dev/secrets: base64key://KEY (a local
// 32-byte key, URL-safe base64), awskms://, gcpkms://, hashivault://,
// azurekeyvault:// when the binary carries the driver. A base64key URL is
// the key itself: it never appears in a message (the key's fingerprint
// does).
//
// # Encryption
//
// What is sealed is encrypted with AES-256-GCM under a data key of 32
// random bytes, made once per run (per Keys) and itself encrypted by the
// keeper; the envelope carries it in that form. The keeper is thus called
// once per run to seal, and once per data key to open (Keys remember the
// data keys they opened), however many objects a run writes (an apply's
// journal records) or reads; and it only ever encrypts 32 bytes, while
// AWS KMS takes at most 4 KiB and state is megabytes. What the keeper
// encrypts is a tag and the data key, so that what it decrypts is known
// to be one.
//
// # Object envelope
//
// A sealed object is one line of JSON:
//
//	{"format":"ferry-sealed","version":1,"keeper":"base64key",
//	 "key_id":"1f0c9a2b7d3e4f5a","kind":"state",
//	 "attrs":{"lineage":"...","serial":"3"},"data_key":"<base64>",
//	 "ciphertext":"<base64: nonce, then AES-GCM output>"}
//
// format comes first, so that the first bytes say what the object is
// (an envelope whose keys a tool reordered is still recognised). keeper
// is the scheme of the key that sealed it, key_id which key of that
// scheme: for base64key a fingerprint (the first 8 bytes of a sha256
// over a domain tag and the key, in hex, which reveals nothing of a
// 32-byte random key), for the cloud keepers the key's name from the URL
// (host and path: an ARN, an alias, a key resource name). kind says what
// the object holds and attrs carry public facts the store needs without
// the key (a snapshot's lineage and serial). The whole header (every
// member but the ciphertext, as canonical JSON) is the GCM additional
// data: an edited header fails like edited ciphertext.
//
// # Value envelope
//
// A sealed value (one sensitive attribute in a plan file) is one string:
//
//	ferry-sealed:1:<keeper>:<key_id>:<data_key>:<ciphertext>
//
// Its kind and attrs (the plan, address and attribute it belongs to) are
// not written: the reader supplies them, and they are authenticated as
// for objects, so a value moved to another attribute does not open.
//
// # Errors
//
// Open returns an *Error whose Reason tells the cases apart:
//
//   - NeedKey: sealed, and the run was given no key;
//   - WrongKey: sealed with another key than those given;
//   - Failed: a key of the right kind could not decrypt it (a KMS that
//     refused or could not be reached): not known to be damaged;
//   - Damaged: the envelope cannot be parsed, or the key that sealed it
//     (same fingerprint) does not open its data key, or the data key does
//     not open the ciphertext (it, or the header, was edited);
//   - Newer: sealed by a newer ferry.
//
// Only Damaged is damage. Callers must never treat the others as damaged
// or empty state: the data is fine, the key (or the ferry) is missing.
package sealed
