// Package storetest is the conformance suite of engine/statestore: every
// bucket configuration (file://, mem://, s3://, gs://, ...) runs Run, with
// two clients on one bucket standing for two ferry runs.
//
// It only uses the exported API of statestore (plus PutObjectForTesting to
// plant damaged objects) and must not import gocloud drivers: callers
// build the stores.
package storetest
