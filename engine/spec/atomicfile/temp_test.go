package atomicfile

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// statestoreNames is engine/statestore's scheme: ".tmp-<pid>-<tag>-<random>"
// in a deployment's folder, for no target.
var statestoreNames = Names{Mark: "tmp-"}

func TestNameAndWriterOf(t *testing.T) {
	tag := writerTag("host", "boot/pid:[4026531836]")
	tests := []struct {
		names  Names
		w      Writer
		target string
		want   string
	}{
		{DefaultNames, Writer{PID: 4242, Tag: tag}, "motd", ".motd.ferry-4242-" + tag + "-a1b2c3"},
		{DefaultNames, Writer{PID: 7, Tag: tag}, "a.ferry-b", ".a.ferry-b.ferry-7-" + tag + "-a1b2c3"},
		{DefaultNames, Writer{PID: 7, Tag: "x"}, "plan.json", ".plan.json.ferry-7-x-a1b2c3"},
		{statestoreNames, Writer{PID: 4242, Tag: tag}, "", ".tmp-4242-" + tag + "-a1b2c3"},
	}
	for _, tt := range tests {
		got := tt.names.name(tt.w, tt.target, "a1b2c3")
		if got != tt.want {
			t.Errorf("name(%+v, %q) = %q, want %q", tt.w, tt.target, got, tt.want)
		}
		w, ok := tt.names.writerOf(got)
		if d := cmp.Diff(tt.w, w); !ok || d != "" {
			t.Errorf("writerOf(%q) = %v (-want +got):\n%s", got, ok, d)
		}
	}
	if got := DefaultNames.name(Writer{PID: 7}, "f", "a1"); got != ".f.ferry-7-x-a1" {
		t.Errorf("a writer without a tag is named %q, want tag x", got)
	}
}

func TestWriterOfRejects(t *testing.T) {
	for _, name := range []string{
		"motd",
		"motd.ferry-7-tag-a1",     // not hidden
		".motd.ferry-123456789",   // an older ferry's, no writer
		".motd.ferry-notes",       // the user's
		".motd.ferry-7-tag-notes", // random part not hex
		".motd.ferry-7-tag-",      // no random part
		".motd.ferry-7--a1",       // no tag
		".motd.ferry-+7-tag-a1",   // not digits
		".motd.ferry-0-tag-a1",    // no process
		".motd.ferry-x7-tag-a1",   // not digits
		".tmp-7-tag-a1",           // another scheme
		".ferry-7-tag-a1",         // no dot before the mark
	} {
		if w, ok := DefaultNames.writerOf(name); ok {
			t.Errorf("writerOf(%q) = %+v, want no writer", name, w)
		}
	}
	for _, name := range []string{".tmp-123456789", ".tmp-not-ours", "tmp-7-tag-a1", ".motd.ferry-7-tag-a1z"} {
		if w, ok := statestoreNames.writerOf(name); ok {
			t.Errorf("statestore writerOf(%q) = %+v, want no writer", name, w)
		}
	}
}

func TestWriterTag(t *testing.T) {
	a := writerTag("host", "scope")
	if len(a) != 16 || a == writerTag("other", "scope") || a == writerTag("host", "other") {
		t.Errorf("writerTag = %q: want 16 hex digits that differ by host and by scope", a)
	}
	if writerTag("", "scope") != "" || writerTag("host", "") != "" {
		t.Error("writerTag with an unknown host or scope is not empty")
	}
}
