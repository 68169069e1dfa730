package spec

import (
	"fmt"
	"strings"
)

// Integer is any integer type a count comes in.
type Integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// Count is n followed by noun, plural unless n is 1: "1 machine",
// "2 machines", "0 batches", "3 health checks". Every count a message
// shows goes through it, so no reader meets "1 machines" or "machine(s)".
func Count[N Integer](n N, noun string) string {
	return fmt.Sprint(n) + " " + Plural(n, noun)
}

// Plural is noun as it reads after the number n: unchanged for 1, else
// its last word in the plural (English's regular rules, which are all
// ferry's nouns need: path → paths, batch → batches, entry → entries).
func Plural[N Integer](n N, noun string) string {
	if n == 1 || noun == "" {
		return noun
	}
	switch {
	case strings.HasSuffix(noun, "s"), strings.HasSuffix(noun, "x"),
		strings.HasSuffix(noun, "ch"), strings.HasSuffix(noun, "sh"):
		return noun + "es"
	case len(noun) > 1 && noun[len(noun)-1] == 'y' && !strings.ContainsRune("aeiou", rune(noun[len(noun)-2])):
		return noun[:len(noun)-1] + "ies"
	}
	return noun + "s"
}
