package statestore

import (
	"fmt"
	"strconv"
	"strings"
)

// Object names; see the package documentation for the layout.
const (
	stateDir    = "state/"
	journalDir  = "journal/"
	lockName    = "lock.json"
	hintName    = "latest.json"
	planKeyName = "plan-key.json"
	jsonSuffix  = ".json"
	noneLineage = "none" // journal base before the first snapshot
)

// SnapshotKey is the object key of a deployment's snapshot with serial.
func SnapshotKey(deployment string, serial uint64) string {
	return fmt.Sprintf("%s/%s%020d%s", deployment, stateDir, serial, jsonSuffix)
}

// JournalSegmentKey is the object key of segment seq (from 1) of the
// journal on top of the snapshot (lineage, serial). Serial 0 means "no
// snapshot yet", whatever the lineage.
func JournalSegmentKey(deployment, lineage string, serial, seq uint64) string {
	return journalBaseDir(deployment, lineage, serial) + segmentName(seq)
}

// LockKey is the object key of a deployment's lock.
func LockKey(deployment string) string { return deployment + "/" + lockName }

func hintKey(deployment string) string { return deployment + "/" + hintName }

// PlanKeyKey is the object key of a deployment's plan key.
func PlanKeyKey(deployment string) string { return deployment + "/" + planKeyName }

func journalBaseDir(deployment, lineage string, serial uint64) string {
	return deployment + "/" + journalDir + journalBaseName(lineage, serial) + "/"
}

func journalBaseName(lineage string, serial uint64) string {
	if serial == 0 {
		lineage = noneLineage
	}
	return fmt.Sprintf("%s-%020d", lineage, serial)
}

// parseJournalBaseName splits "<lineage>-<serial %020d>".
func parseJournalBaseName(name string) (lineage string, serial uint64, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || len(name)-i-1 != 20 {
		return "", 0, false
	}
	serial, err := strconv.ParseUint(name[i+1:], 10, 64)
	return name[:i], serial, err == nil
}

func segmentName(seq uint64) string { return fmt.Sprintf("%010d%s", seq, jsonSuffix) }

// parseNumbered parses "<digits>.json" with exactly width digits.
func parseNumbered(name string, width int) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, jsonSuffix)
	if !ok || len(digits) != width {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

func parseSnapshotName(name string) (uint64, bool) { return parseNumbered(name, 20) }
func parseSegmentName(name string) (uint64, bool)  { return parseNumbered(name, 10) }

// checkDeployment rejects names that could escape their folder or collide
// with the layout.
func checkDeployment(name string) error {
	if name == "" || len(name) > 128 || name[0] == '.' || name[0] == '-' {
		return fmt.Errorf("invalid deployment name %q: use 1 to 128 letters, digits, '.', '_' or '-', not starting with '.' or '-'", name)
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return fmt.Errorf("invalid deployment name %q: use 1 to 128 letters, digits, '.', '_' or '-', not starting with '.' or '-'", name)
		}
	}
	return nil
}
