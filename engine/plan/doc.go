// Package plan is the in-memory model of a ferry plan and its file format.
//
// A plan holds every action apply will take with the exact inputs it will
// use: per resource the action, before/after values, what forces a
// replacement and where it was declared; the state (lineage, serial) it was
// planned against; a digest of every input; and the execution edges. Apply
// executes a plan and nothing else, so everything apply needs is here.
//
// The file is JSON with sorted keys and addresses, indented, with a trailing
// newline, so that it reads well in a code review and diffs cleanly.
// Unknown values are written as {"$unknown": "<reference>"} and references
// in arguments as {"$ref": "<address>.<attr>"}.
package plan
