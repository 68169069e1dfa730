package statestore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
)

// crashHelperEnv makes the test binary act as a ferry run that applies
// and is then killed (see TestCrashedApply).
const crashHelperEnv = "FERRY_STATESTORE_CRASH_HELPER"

// TestMain turns the test binary into a run that applies and then is
// killed, when TestCrashedApply starts it with crashHelperEnv set.
func TestMain(m *testing.M) {
	if u := os.Getenv(crashHelperEnv); u != "" {
		crashHelper(u)
		return
	}
	os.Exit(m.Run())
}

// crashHelper takes the lock, then journals records as fast as it can,
// printing a line after each, until it is killed.
func crashHelper(u string) {
	ctx := context.Background()
	s, err := statestore.Open(ctx, u)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	// Describe this process the way a caller may (PID given, no Scope).
	host, _ := os.Hostname()
	l, err := s.Lock(ctx, "crash", statestore.LockInfo{Operation: "apply", Host: host, PID: os.Getpid()}, 0)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	base, _, err := s.Read(ctx, "crash")
	if err == nil {
		base.Serial++
		err = s.Write(ctx, l, base)
	}
	var j *statestore.Journal
	if err == nil {
		j, err = s.OpenJournal(ctx, l, base)
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked", l.Info.ID, os.Getpid())
	for i := 0; ; i++ {
		c := state.Change{Addr: fmt.Sprintf("null.resource.r%d", i), Resource: &state.Resource{Type: "null.resource", Attrs: map[string]any{"id": fmt.Sprint(i)}}}
		if err := j.Append(ctx, []state.Change{c}); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("appended", i+1)
	}
}

// TestCrashedApply kills (SIGKILL) a run in the middle of an apply: the
// next run on this machine must break its lock by itself and read every
// operation the killed run had recorded.
func TestCrashedApply(t *testing.T) {
	u := "file://" + filepath.ToSlash(filepath.Join(t.TempDir(), ".ferry"))
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+u)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// Read the helper's lines until its output ends, so that it never
	// waits for the pipe: the kill finds it appending. Every "appended"
	// line, up to the last one printed, is an acknowledged append.
	var (
		lockID   string
		appended int
		helper   string // an error the helper printed
	)
	forty := make(chan struct{}) // 40 appended, or the output ended
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			f := strings.Fields(lines.Text())
			switch {
			case len(f) == 3 && f[0] == "locked":
				lockID = f[1]
			case len(f) == 2 && f[0] == "appended":
				fmt.Sscan(f[1], &appended)
				if appended == 40 {
					close(forty)
				}
			case len(f) > 0 && f[0] == "error:":
				helper = lines.Text()
			}
		}
		if appended < 40 {
			close(forty)
		}
	}()
	<-forty
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-ended // the pipe's writer died with the helper
	_ = cmd.Wait()
	if helper != "" {
		t.Fatalf("helper: %s", helper)
	}
	if appended < 40 || lockID == "" {
		t.Fatalf("helper stopped early: lock %q, %d appended", lockID, appended)
	}
	t.Logf("killed after %d acknowledged appends", appended)

	s := mustOpen(t, u)
	l, err := s.Lock(t.Context(), "crash", statestore.LockInfo{Operation: "plan"}, 0)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	defer l.Release(context.Background())
	if l.BrokeStale == nil || l.BrokeStale.ID != lockID || l.BrokeStale.PID != cmd.Process.Pid {
		t.Errorf("BrokeStale = %+v, want the killed run's lock %s (pid %d)", l.BrokeStale, lockID, cmd.Process.Pid)
	}
	st, info, err := s.Read(t.Context(), "crash")
	if err != nil {
		t.Fatalf("Read after the crash: %v", err)
	}
	// Every acknowledged append is there; the one in flight may be too.
	if info.JournalSegments < appended || len(st.Resources) != info.JournalChanges || st.Serial != 1 {
		t.Errorf("Read after the crash: serial %d, %d resources, %+v; want serial 1 and at least %d records", st.Serial, len(st.Resources), info, appended)
	}
	for i := range appended {
		if st.Resources[fmt.Sprintf("null.resource.r%d", i)] == nil {
			t.Errorf("acknowledged record %d is missing", i)
		}
	}
	// The next plan compacts.
	st.Serial++
	if err := s.Write(t.Context(), l, st); err != nil {
		t.Fatal(err)
	}
	if _, info, err := s.Read(t.Context(), "crash"); err != nil || info.JournalSegments != 0 {
		t.Errorf("Read after compaction: %+v, %v", info, err)
	}
}
