// Package cachetest runs binary caches for tests: an HTTP cache over a
// folder (GET, HEAD and PUT, what Nix's http:// binary cache store sends
// and reads), an S3 bucket on gofakes3 and a GCS bucket on
// fake-gcs-server that hosts read back over plain HTTP (as a public bucket
// is read), and broken caches (a refused port, one answering 500, one
// that accepts and never answers).
// Every working cache keeps a log of the requests it answered, so that a
// test can see which NARs hosts fetched.
//
// It stands in for real caches (an S3 bucket behind https, nix-serve, a
// CDN): the wire protocol is Nix's own, only the server is small. It must
// not be used by production code and keeps no package-level state.
package cachetest
