package aws

import "strings"

// boundedName is generatedName made valid for an API whose names are at
// most maxLen characters of a limited set: keep maps each character of
// the resource's name to itself or to a stand-in ('-'). The token's
// suffix is kept whole, so that a retried create still asks for the same
// name.
func boundedName(typ, addr, token string, maxLen int, keep func(rune) rune) string {
	const prefix, suffixLen = "ferry-", 9 // "-" and 8 hex digits
	name := generatedName(typ, addr, token)
	mid, suffix := name[len(prefix):len(name)-suffixLen], name[len(name)-suffixLen:]
	mid = strings.Map(keep, mid)
	if room := maxLen - len(prefix) - suffixLen; len(mid) > room {
		mid = mid[:room]
	}
	if mid = strings.Trim(mid, "-."); mid == "" {
		mid = "x"
	}
	return prefix + mid + suffix
}
