// Package binarycache writes Nix binary caches into any gocloud.dev bucket
// (s3://, gs://, file://, mem://) with Nix's own layout, so that hosts
// substitute from them with Nix: nix-cache-info at the top,
// HASH.narinfo per store path and its NAR, zstd-compressed, under
// nar/NARHASH.nar.zst.
//
// It owns:
//   - Nix's signing keys (keys.go): ParseSecretKey and ParsePublicKey for
//     the "name:base64" forms nix-store --generate-binary-cache-key writes,
//     SecretKey.Sign over a store path's fingerprint, and CheckPair, which
//     proves that a secret key belongs to a public key by signing and
//     verifying a test message. A SecretKey never prints its key (String,
//     GoString and Format show only its name);
//   - Upload (upload.go): the closure of store paths asked of the local
//     store, which of them the cache holds (one HEAD of each narinfo), and
//     for the others their NARs (nix-store --dump, compressed while they
//     stream) and then their narinfos, so that a reader never sees a
//     narinfo whose NAR is missing;
//   - Nix's base-32 alphabet (nixbase32.go).
//
// It reads path metadata with nix-store --dump-db and NARs with nix-store
// --dump; it does not reimplement the store. It must not import engine or
// remote, and holds no package-level mutable state.
//
// Decisions: the NAR's name is its NAR hash (known from the store's
// database before it streams), so the NAR goes straight from nix-store
// --dump through the compressor into the bucket without a temporary
// file; FileHash and FileSize are counted on the way. zstd, because Nix
// 2.8 reads it and its default xz is about 40 times slower here.
package binarycache
