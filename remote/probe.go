package remote

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HostFacts are what Probe reads from a host in one round trip: what plan
// needs to know about a machine before deciding what to do with it.
type HostFacts struct {
	// Current is the system /run/current-system points to (readlink -f), ""
	// when there is none (not NixOS, or never activated).
	Current string
	// Profile is the generation the system profile points to
	// (SystemProfile -> system-N-link -> store path), with Current set and
	// no Date (Generations reads dates). ProfileKnown is false when the
	// host has no system profile; Number is 0 when the profile does not
	// point to a system-N-link.
	Profile      Generation
	ProfileKnown bool
	// Booted are the boot files of /run/booted-system, as BootedFiles reads
	// them; BootedKnown is false when the host has none.
	Booted      BootFiles
	BootedKnown bool
	// BootID is /proc/sys/kernel/random/boot_id, "" when unreadable.
	BootID string
	// Time is the host's clock when it answered (to the second): compare
	// PendingWatchdog.Deadline with it, not with this machine's clock.
	Time time.Time
	// PendingWatchdogs are the rollback watchdogs armed on the host that
	// have no decision yet, oldest first.
	PendingWatchdogs []PendingWatchdog
}

// PendingWatchdog is a rollback watchdog on a host that is armed and has no
// decision yet: the ferry run that armed it ended (killed, or its
// connection lost) between the activation and the confirmation. Unless
// something decides for it (ArmWatchdog and DisarmPending disarm it), it
// switches the host back to Previous on its own at Deadline. What it did not
// record (a watchdog armed by an older ferry) is zero.
type PendingWatchdog struct {
	ID                 string
	Previous           string    // the system it switches back to, "" if none
	PreviousGeneration int       // the profile generation it points back to, 0 if none
	System             string    // the system being activated when it was armed, "" if not recorded
	Action             string    // the guarded activation (switch or test), which the rollback repeats
	Armed              time.Time // when it was armed, by the host's clock
	// Started says the activation finished (Watchdog.Start): its
	// confirmation timer runs. Before that it waits for the start at most
	// WatchdogOptions.StartTimeout.
	Started bool
	// Alive says its process runs. A watchdog whose process died (killed)
	// does nothing any more: the host stays on what it runs.
	Alive bool
	// Deadline is when it rolls back at the earliest (it counts polls, so
	// it may act a little later), by the host's clock; zero if unknown.
	Deadline time.Time
}

// String explains the watchdog for people, e.g. "a switch to /nix/store/...-b
// started by an interrupted ferry run is not confirmed; the host will switch
// back to /nix/store/...-a (watchdog 0123..., at 12:00:30 UTC at the
// earliest)". The caller adds which machine it is about.
func (p PendingWatchdog) String() string {
	var b strings.Builder
	switch p.Action {
	case ActionSwitch:
		b.WriteString("a switch")
	case ActionTest:
		b.WriteString("a test activation")
	default:
		b.WriteString("an activation")
	}
	if p.System != "" {
		if p.Action == ActionSwitch {
			b.WriteString(" to ")
		} else {
			b.WriteString(" of ")
		}
		b.WriteString(p.System)
	}
	b.WriteString(" started by an interrupted ferry run is not confirmed; ")
	switch {
	case !p.Alive:
		fmt.Fprintf(&b, "its watchdog %s is no longer running, so the host stays on what it runs", p.ID)
		return b.String()
	case p.Previous == "":
		fmt.Fprintf(&b, "its watchdog %s has no previous system to switch back to", p.ID)
		return b.String()
	}
	fmt.Fprintf(&b, "the host will switch back to %s (watchdog %s", p.Previous, p.ID)
	if !p.Deadline.IsZero() {
		fmt.Fprintf(&b, ", at %s at the earliest", p.Deadline.UTC().Format("15:04:05 UTC"))
	}
	b.WriteString(")")
	return b.String()
}

// Probe reads in one command, a small POSIX sh script that needs no Nix
// tools, what plan needs to know about a host: its current system, its
// system profile, its booted system, its boot ID, its clock and the
// watchdogs still pending under WatchdogDir. A fact the host does not have
// (no system, no profile, no booted system, a watchdog file missing) is
// left unknown, not an error.
func Probe(ctx context.Context, conn *Conn) (HostFacts, error) {
	r, err := probe(ctx, conn, probeCurrent, probeProfile, probeBooted, probeBootID, probeTime, probeWatchdogs)
	if err != nil {
		return HostFacts{}, fmt.Errorf("probe %s: %w", conn.target.Name(), err)
	}
	return r.facts, nil
}

// Sections of probeScript, named by its arguments.
const (
	probeCurrent     = "current"
	probeProfile     = "profile"
	probeGenerations = "generations"
	probeBooted      = "booted"
	probeBootID      = "boot-id"
	probeTime        = "time"
	probeWatchdogs   = "watchdogs"
)

// Its output, and that of the watchdog scripts sharing its functions, is a
// marker record and then records "KEY<TAB>VALUE<NUL>": a value may hold any
// byte but NUL (which no path holds), and what a login shell prints before
// the marker is skipped.
const (
	probeMarker = "ferry-probe\t1\x00"

	// watchdogShellFuncs are shared by probeScript and the watchdog's
	// scripts, which use builtins where they can: every process started
	// costs about a millisecond. rec prints a record. alive says whether
	// the watchdog with file prefix $1 runs: the process of its pid has its
	// log as standard output, so a reused pid is not taken for it (nor a
	// zombie, which has no open files). describe prints the records of the
	// watchdog with prefix $2, under the key $1 (its ID), then the
	// watchdog.* records ArmWatchdog left in its .info file.
	watchdogShellFuncs = `rec() { printf '%s\t%s\0' "$1" "$2"; }
alive() {
  pid=
  read -r pid 2>/dev/null < "$1.pid" || :
  [ -n "$pid" ] && [ "/proc/$pid/fd/1" -ef "$1.log" ]
}
describe() {
  rec "$1" "${2##*/watchdog-}"
  if [ -f "$2.info" ]; then cat "$2.info"; fi
  if [ -e "$2.started" ]; then rec watchdog.started "$(stat -c %Y "$2.started" 2>/dev/null)"; fi
  if alive "$2"; then rec watchdog.alive 1; else rec watchdog.alive 0; fi
}
`

	// printProbeMarker starts the output of every such script.
	printProbeMarker = `printf 'ferry-probe\t1\0'` + "\n"

	// probeScript prints the sections named by its arguments. resolve
	// prints the record $1 for the path $2 resolved: a folder by cd -P,
	// which sets PWD to the physical path (readlink -f without a process),
	// anything else (a file, a dangling link) by readlink -f.
	probeScript = watchdogShellFuncs + printProbeMarker + `resolve() {
  if cd -P "$2" 2>/dev/null; then rec "$1" "$PWD"; else rec "$1" "$(readlink -f "$2")"; fi
}
p=` + SystemProfile + `
for section do
  case $section in
  current)
    if [ -L /run/current-system ]; then resolve current /run/current-system; fi ;;
  profile)
    if [ -L "$p" ]; then
      l=$(readlink "$p")
      rec profile.link "$l"
      resolve profile.system "$p"
    fi ;;
  generations)
    for l in "$p"-*-link; do
      [ -L "$l" ] || continue
      rec generation "${l##*/}"
      rec generation.system "$(readlink "$l")"
      rec generation.date "$(stat -c %Y "$l" 2>/dev/null)"
    done ;;
  booted)
    s=/run/booted-system
    if [ -e "$s" ]; then
      rec booted ""
      for f in kernel initrd kernel-modules; do
        if [ -e "$s/$f" ]; then resolve "booted.$f" "$s/$f"; fi
      done
    fi ;;
  boot-id)
    id=
    if read -r id 2>/dev/null < /proc/sys/kernel/random/boot_id || [ -n "$id" ]; then rec boot-id "$id"; fi ;;
  time)
    rec time "$(date +%s)" ;;
  watchdogs)
    for s in ` + WatchdogDir + `/watchdog-*.state; do
      [ -f "$s" ] || continue
      w=${s%.state}
      [ -L "$w.decision" ] && continue
      st=
      read -r st 2>/dev/null < "$s" || :
      [ "$st" = pending ] || continue
      describe watchdog "$w"
    done ;;
  esac
done
exit 0`
)

// probe runs probeScript for the given sections and parses its output.
func probe(ctx context.Context, conn *Conn, sections ...string) (probeOutput, error) {
	out, err := conn.Output(ctx, Command(append([]string{"sh", "-c", probeScript, "ferry-probe"}, sections...)...))
	if err != nil {
		return probeOutput{}, err
	}
	return parseProbe(out)
}

// probeOutput is everything parseProbe understood.
type probeOutput struct {
	facts       HostFacts
	generations []Generation // oldest first, the profile's current one marked
	// The watchdogs the watchdog scripts report: the one ArmWatchdog armed,
	// those it or DisarmPending superseded, one rolling back right now.
	armed, superseded, rollingBack []PendingWatchdog
}

// Record keys that start a watchdog's records; watchdog.* records that
// follow belong to it.
const (
	recPendingWatchdog = "watchdog"
	recArmedWatchdog   = "armed"
	recSuperseded      = "superseded"
	recRollingBack     = "rolling-back"
)

// watchdogRecord is a watchdog being parsed, with what Deadline is computed
// from.
type watchdogRecord struct {
	PendingWatchdog
	kind                  string
	timeout, startTimeout time.Duration
	startedAt             time.Time
}

func (w *watchdogRecord) finish() PendingWatchdog {
	p := w.PendingWatchdog
	switch {
	case p.Started && !w.startedAt.IsZero() && w.timeout > 0:
		p.Deadline = w.startedAt.Add(w.timeout)
	case !p.Started && !p.Armed.IsZero() && w.startTimeout > 0:
		p.Deadline = p.Armed.Add(w.startTimeout)
	}
	return p
}

// parseProbe reads the records after the marker. Unknown keys, records
// without a tab and values that do not parse are skipped: a fact it cannot
// read is unknown, not an error. Only output without the marker is.
func parseProbe(out string) (probeOutput, error) {
	i := strings.Index(out, probeMarker)
	if i < 0 {
		return probeOutput{}, fmt.Errorf("unexpected output %s", shorten(out))
	}
	var (
		r           probeOutput
		profileLink string
		gen         *Generation // the generation being read; nil when skipped
		gens        []*Generation
		wd          *watchdogRecord
		wds         []*watchdogRecord
	)
	records := strings.Split(out[i+len(probeMarker):], "\x00")
	// After the last NUL comes nothing, or a record cut short.
	for _, rec := range records[:len(records)-1] {
		key, value, ok := strings.Cut(rec, "\t")
		if !ok {
			continue
		}
		switch key {
		case probeCurrent:
			r.facts.Current = value
		case "profile.link":
			r.facts.ProfileKnown = true
			profileLink = value
			r.facts.Profile.Number, _ = generationNumber(value)
			r.facts.Profile.Current = true
		case "profile.system":
			r.facts.Profile.Path = value
		case "generation":
			gen = nil
			if n, ok := generationNumber(value); ok {
				gen = &Generation{Number: n}
				gens = append(gens, gen)
			}
		case "generation.system":
			if gen != nil {
				gen.Path = value
			}
		case "generation.date":
			if gen != nil {
				gen.Date = unixTime(value)
			}
		case probeBooted:
			r.facts.BootedKnown = true
		case "booted.kernel":
			r.facts.Booted.Kernel = value
		case "booted.initrd":
			r.facts.Booted.Initrd = value
		case "booted.kernel-modules":
			r.facts.Booted.Modules = value
		case probeBootID:
			r.facts.BootID = strings.TrimSpace(value)
		case probeTime:
			r.facts.Time = unixTime(value)
		case recPendingWatchdog, recArmedWatchdog, recSuperseded, recRollingBack:
			wd = &watchdogRecord{PendingWatchdog: PendingWatchdog{ID: value}, kind: key}
			wds = append(wds, wd)
		default:
			attr, ok := strings.CutPrefix(key, "watchdog.")
			if ok && wd != nil {
				wd.set(attr, value)
			}
		}
	}
	for _, g := range gens {
		g.Current = profileLink != "" && path.Base(profileLink) == fmt.Sprintf("%s-%d-link", path.Base(SystemProfile), g.Number)
		r.generations = append(r.generations, *g)
	}
	sort.SliceStable(r.generations, func(i, j int) bool { return r.generations[i].Number < r.generations[j].Number })
	for _, w := range wds {
		p := w.finish()
		switch w.kind {
		case recPendingWatchdog:
			r.facts.PendingWatchdogs = append(r.facts.PendingWatchdogs, p)
		case recArmedWatchdog:
			r.armed = append(r.armed, p)
		case recSuperseded:
			r.superseded = append(r.superseded, p)
		case recRollingBack:
			r.rollingBack = append(r.rollingBack, p)
		}
	}
	sort.SliceStable(r.facts.PendingWatchdogs, func(i, j int) bool {
		return r.facts.PendingWatchdogs[i].Armed.Before(r.facts.PendingWatchdogs[j].Armed)
	})
	return r, nil
}

// set reads one watchdog.ATTR record (written by armScript and describe).
func (w *watchdogRecord) set(attr, value string) {
	switch attr {
	case "previous":
		w.Previous = value
	case "profile":
		w.PreviousGeneration, _ = generationNumber(value)
	case "system":
		w.System = value
	case "action":
		w.Action = value
	case "armed":
		w.Armed = unixTime(value)
	case "timeout":
		w.timeout = milliseconds(value)
	case "start-timeout":
		w.startTimeout = milliseconds(value)
	case "started":
		w.Started = true
		w.startedAt = unixTime(value)
	case "alive":
		w.Alive = value == "1"
	}
}

// generationNumber reads N from a profile link "system-N-link" (or a path
// ending in it).
func generationNumber(link string) (int, bool) {
	num, ok := strings.CutPrefix(path.Base(link), path.Base(SystemProfile)+"-")
	num, ok2 := strings.CutSuffix(num, "-link")
	n, err := strconv.Atoi(num)
	if !ok || !ok2 || err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// unixTime reads seconds since the epoch; zero when s is not a number.
func unixTime(s string) time.Time {
	secs, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(secs, 0).UTC()
}

// milliseconds reads a duration in milliseconds; 0 when s is not a number.
func milliseconds(s string) time.Duration {
	ms, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || ms < 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}
