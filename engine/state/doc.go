// Package state is the in-memory model of what ferry knows exists in one
// deployment (lineage, serial, resources with their attributes and direct
// dependencies, outputs) and its versioned JSON file format.
//
// Storage (buckets, locks, journals) lives in engine/statestore; this
// package does no I/O beyond encoding and decoding.
package state
