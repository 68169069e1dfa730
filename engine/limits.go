package engine

// Named concurrency limits that are not flags. The flags' defaults
// (--parallelism, --max-concurrent-copy, --max-concurrent-activate) live
// with ApplyOptions and PlanOptions.
const (
	// LimitHostReads bounds the hosts plan reads at once (one connection
	// and one round trip each, while Nix evaluates): reads are small, so
	// the bound is high enough that 100 hosts cost about one round trip.
	LimitHostReads = 64
)
