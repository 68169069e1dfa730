package remote

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// records renders probe output: the marker, then KEY<TAB>VALUE<NUL> per
// pair.
func records(kv ...string) string {
	var b strings.Builder
	b.WriteString(probeMarker)
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(kv[i] + "\t" + kv[i+1] + "\x00")
	}
	return b.String()
}

func TestParseProbe(t *testing.T) {
	unix := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	tests := []struct {
		name string
		out  string
		want probeOutput
	}{
		{name: "a host with nothing", out: records(), want: probeOutput{}},
		{
			name: "everything",
			out: records(
				"current", "/nix/store/bbb-nixos-system-b",
				"profile.link", "system-10-link",
				"profile.system", "/nix/store/bbb-nixos-system-b",
				"booted", "/nix/store/aaa-nixos-system-a",
				"booted.kernel", "/nix/store/k-linux-6.1/bzImage",
				"booted.initrd", "/nix/store/i-initrd/initrd",
				"booted.kernel-modules", "/nix/store/m-linux-6.1-modules",
				"boot-id", "3b2c4d5e-0000-4000-8000-000000000000\n",
				"time", "1700000200",
			),
			want: probeOutput{facts: HostFacts{
				Current:      "/nix/store/bbb-nixos-system-b",
				Profile:      Generation{Number: 10, Path: "/nix/store/bbb-nixos-system-b", Current: true},
				ProfileKnown: true,
				Booted:       BootFiles{Kernel: "/nix/store/k-linux-6.1/bzImage", Initrd: "/nix/store/i-initrd/initrd", Modules: "/nix/store/m-linux-6.1-modules"},
				BootedKnown:  true,
				BootID:       "3b2c4d5e-0000-4000-8000-000000000000",
				Time:         unix(1700000200),
			}},
		},
		{
			name: "a booted system lacking files, a profile link given as a path",
			out:  records("booted", "", "booted.kernel", "/k", "profile.link", "/nix/var/nix/profiles/system-3-link", "profile.system", "/nix/store/x"),
			want: probeOutput{facts: HostFacts{
				Profile:      Generation{Number: 3, Path: "/nix/store/x", Current: true},
				ProfileKnown: true,
				Booted:       BootFiles{Kernel: "/k"},
				BootedKnown:  true,
			}},
		},
		{
			name: "generations sorted by number, current marked, other profiles skipped",
			out: records(
				"generation", "system-10-link", "generation.system", "/nix/store/bbb-b", "generation.date", "1700000100",
				"generation", "system-old-link", "generation.system", "/nix/store/x", "generation.date", "2",
				"generation", "system-9-link", "generation.system", "/nix/store/aaa-a", "generation.date", "1700000000",
				"profile.link", "system-10-link", "profile.system", "/nix/store/bbb-b",
			),
			want: probeOutput{
				facts: HostFacts{Profile: Generation{Number: 10, Path: "/nix/store/bbb-b", Current: true}, ProfileKnown: true},
				generations: []Generation{
					{Number: 9, Path: "/nix/store/aaa-a", Date: unix(1700000000)},
					{Number: 10, Path: "/nix/store/bbb-b", Date: unix(1700000100), Current: true},
				},
			},
		},
		{
			name: "paths with newlines, tabs and spaces",
			out:  records("current", "/nix/store/a b\tc\nd", "booted", "", "booted.initrd", "/i\n"),
			want: probeOutput{facts: HostFacts{Current: "/nix/store/a b\tc\nd", Booted: BootFiles{Initrd: "/i\n"}, BootedKnown: true}},
		},
		{
			name: "what a login shell printed first is skipped, unknown and broken records too",
			out:  "Welcome to the host\n" + records("current", "/nix/store/a", "future-key", "x") + "no-tab\x00" + "current\t/nix/store/cut-sho",
			want: probeOutput{facts: HostFacts{Current: "/nix/store/a"}},
		},
		{
			name: "pending watchdogs, oldest first, deadlines from the start or the arming",
			out: records(
				"watchdog", "bbbb",
				"watchdog.previous", "/nix/store/old", "watchdog.profile", "system-4-link", "watchdog.action", "switch",
				"watchdog.system", "/nix/store/new", "watchdog.armed", "1700000100", "watchdog.timeout", "30000",
				"watchdog.start-timeout", "600000", "watchdog.started", "1700000160", "watchdog.alive", "1",
				"watchdog", "aaaa",
				"watchdog.previous", "", "watchdog.profile", "", "watchdog.action", "test",
				"watchdog.armed", "1700000000", "watchdog.timeout", "30000", "watchdog.start-timeout", "600000",
				"watchdog.alive", "0",
				"watchdog", "old-ferry", "watchdog.alive", "1",
				"time", "1700000170",
			),
			want: probeOutput{facts: HostFacts{
				Time: unix(1700000170),
				PendingWatchdogs: []PendingWatchdog{
					{ID: "old-ferry", Alive: true},
					{ID: "aaaa", Action: "test", Armed: unix(1700000000), Deadline: unix(1700000600)},
					{
						ID: "bbbb", Previous: "/nix/store/old", PreviousGeneration: 4, System: "/nix/store/new", Action: "switch",
						Armed: unix(1700000100), Started: true, Alive: true, Deadline: unix(1700000190),
					},
				},
			}},
		},
		{
			name: "watchdog scripts: armed, superseded, rolling back",
			out: records(
				"superseded", "s1", "watchdog.previous", "/nix/store/a", "watchdog.alive", "1",
				"rolling-back", "r1", "watchdog.previous", "/nix/store/b", "watchdog.alive", "1",
				"armed", "n1", "watchdog.previous", "/nix/store/c", "watchdog.profile", "system-7-link",
			),
			want: probeOutput{
				armed:       []PendingWatchdog{{ID: "n1", Previous: "/nix/store/c", PreviousGeneration: 7}},
				superseded:  []PendingWatchdog{{ID: "s1", Previous: "/nix/store/a", Alive: true}},
				rollingBack: []PendingWatchdog{{ID: "r1", Previous: "/nix/store/b", Alive: true}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProbe(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(probeOutput{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, out := range []string{"", "garbage", "ferry-probe\t2\x00current\t/x\x00"} {
		if _, err := parseProbe(out); err == nil || !strings.Contains(err.Error(), "unexpected output") {
			t.Errorf("parseProbe(%q) = %v, want an unexpected output error", out, err)
		}
	}
}

func TestPendingWatchdogString(t *testing.T) {
	deadline := time.Date(2025, 1, 2, 12, 0, 30, 0, time.UTC)
	tests := []struct {
		w    PendingWatchdog
		want string
	}{
		{
			PendingWatchdog{ID: "ab12", Previous: "/nix/store/a-old", System: "/nix/store/b-new", Action: "switch", Alive: true, Deadline: deadline},
			"a switch to /nix/store/b-new started by an interrupted ferry run is not confirmed; the host will switch back to /nix/store/a-old (watchdog ab12, at 12:00:30 UTC at the earliest)",
		},
		{
			PendingWatchdog{ID: "ab12", Previous: "/nix/store/a-old", Alive: true},
			"an activation started by an interrupted ferry run is not confirmed; the host will switch back to /nix/store/a-old (watchdog ab12)",
		},
		{
			PendingWatchdog{ID: "ab12", System: "/nix/store/b-new", Action: "test", Alive: true},
			"a test activation of /nix/store/b-new started by an interrupted ferry run is not confirmed; its watchdog ab12 has no previous system to switch back to",
		},
		{
			PendingWatchdog{ID: "ab12", Previous: "/nix/store/a-old", System: "/nix/store/b-new", Action: "switch"},
			"a switch to /nix/store/b-new started by an interrupted ferry run is not confirmed; its watchdog ab12 is no longer running, so the host stays on what it runs",
		},
	}
	for _, tt := range tests {
		if got := tt.w.String(); got != tt.want {
			t.Errorf("String() =\n%s\nwant\n%s", got, tt.want)
		}
	}
}
