package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrashRecovery kills `ferry apply` with SIGKILL at random moments, over
// and over, and checks after every kill what DESIGN.md promises of a
// crashed apply:
//
//   - the state is readable (`ferry state list --json`);
//   - every resource ferry printed as created before the kill is in state
//     (recorded before reported);
//   - the next plan is exactly the remaining work: its creates are all
//     resources minus those in state, with no other action, so a finished
//     create is never repeated (only one that was in flight when the
//     process died, and so never recorded, runs again);
//   - the lock the killed run left behind is broken by the next command,
//     because its process is gone, without `ferry unlock`.
//
// The loop ends when all resources exist; a final plan shows no changes.
// It runs the same ferry as the scripts (this test binary installed as
// "ferry" by TestMain), as a real process that can be killed.
func TestCrashRecovery(t *testing.T) {
	const (
		resources = 200
		kills     = 30
	)
	ferry, err := exec.LookPath("ferry")
	if err != nil {
		t.Fatalf("ferry is not on PATH (TestMain installs it): %v", err)
	}
	dir := t.TempDir()
	config := fmt.Sprintf(`deployment(name = "crash")
[time.sleep(name = "s" + str(1000 + i)[1:], duration = "%%dms" %% (20 + i %% 31)) for i in range(%d)]
`, resources)
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	all := make([]string, resources)
	for i := range all {
		all[i] = fmt.Sprintf("time.sleep.s%03d", i)
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0xfe77))
	t.Logf("seed %d (kill delays are random)", seed)

	run := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(ferry, args...)
		cmd.Dir = dir
		cmd.Env = crashEnv()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
		}
		return out.String(), errb.String(), code
	}

	printedCreated := map[string]int{} // address -> how many runs printed it as created
	lockLeft, locksLeft := false, 0
	done := false
	for iter := 0; !done; iter++ {
		// 1. The state is readable and holds everything reported.
		out, errOut, code := run("state", "list", "--json")
		if code != 0 {
			t.Fatalf("iteration %d: ferry state list after the kill exited %d: %s", iter, code, errOut)
		}
		var inState []string
		if err := json.Unmarshal([]byte(out), &inState); err != nil {
			t.Fatalf("iteration %d: state list --json: %v\n%s", iter, err, out)
		}
		stateSet := map[string]bool{}
		for _, a := range inState {
			stateSet[a] = true
		}
		for a := range printedCreated {
			if !stateSet[a] {
				t.Fatalf("iteration %d: %s was reported as created but is not in state (reported before recorded)", iter, a)
			}
		}

		// 2. The plan is exactly the remaining work; the dead run's
		// lock does not stand in the way.
		out, errOut, code = run("plan", "--json", "--out", "plan.json")
		if code != 0 {
			t.Fatalf("iteration %d: ferry plan after the kill exited %d (lock left behind: %v): %s", iter, code, lockLeft, errOut)
		}
		if lockLeft && !strings.Contains(errOut, "note: broke lock ") {
			t.Errorf("iteration %d: plan took over the lock of the killed apply without saying so; stderr:\n%s", iter, errOut)
		}
		var p struct {
			Resources []struct {
				Addr   string `json:"address"`
				Action string `json:"action"`
			} `json:"resources"`
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("iteration %d: plan --json: %v", iter, err)
		}
		var creates, others []string
		for _, r := range p.Resources {
			switch {
			case r.Action == "create":
				creates = append(creates, r.Addr)
			case r.Action == "noop" && stateSet[r.Addr]:
			default:
				others = append(others, r.Action+" "+r.Addr)
			}
		}
		var want []string
		for _, a := range all {
			if !stateSet[a] {
				want = append(want, a)
			}
		}
		slices.Sort(creates)
		if !slices.Equal(creates, want) {
			t.Fatalf("iteration %d: plan creates %d resources, want the %d not in state\nextra or repeated: %v\nmissing: %v",
				iter, len(creates), len(want), minus(creates, want), minus(want, creates))
		}
		if len(others) > 0 {
			t.Fatalf("iteration %d: plan has actions besides creating the rest: %v", iter, others)
		}
		t.Logf("iteration %d: %d in state, %d to create", iter, len(inState), len(creates))
		if len(creates) == 0 {
			done = true
			break
		}

		// 3. Apply that plan, and kill it at a random moment (after the
		// last allowed kill, let it finish).
		cmd := exec.Command(ferry, "apply", "plan.json", "--parallelism", "10")
		cmd.Dir = dir
		cmd.Env = crashEnv()
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var lines []string
		var wg sync.WaitGroup
		firstLine := make(chan struct{}) // closed at the first line, or when the output ends
		var firstOnce sync.Once
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer firstOnce.Do(func() { close(firstLine) })
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines = append(lines, sc.Text())
				firstOnce.Do(func() { close(firstLine) })
			}
		}()
		killed := false
		if iter < kills {
			// Somewhere in the run: the sleeps average 35 ms and run 10
			// at once. Even iterations count the random delay from the
			// start of the process (some 30 ms to start, when the machine
			// is idle), so they may find it starting up; odd ones count
			// from the first create it reports, so that they find it
			// applying, with its lock taken, however slowly a busy machine
			// starts it.
			if iter%2 == 1 {
				<-firstLine
			}
			expected := max(time.Duration(len(creates))*35*time.Millisecond/10, 150*time.Millisecond)
			time.Sleep(20*time.Millisecond + time.Duration(rng.Int64N(int64(expected))))
			killed = cmd.Process.Signal(syscall.SIGKILL) == nil
		}
		wg.Wait()
		werr := cmd.Wait()
		if !killed && werr != nil {
			t.Fatalf("iteration %d: apply exited: %v\n%s", iter, werr, stderr.String())
		}
		for _, line := range lines {
			m := createdLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			if stateSet[m[1]] {
				t.Fatalf("iteration %d: %s was created again although it was in state: %q", iter, m[1], line)
			}
			printedCreated[m[1]]++
			if printedCreated[m[1]] > 1 {
				t.Fatalf("iteration %d: %s reported as created a second time", iter, m[1])
			}
		}
		_, statErr := os.Stat(filepath.Join(dir, ".ferry", "crash", "lock.json"))
		lockLeft = statErr == nil
		if lockLeft {
			locksLeft++
		}
		if lockLeft && !killed {
			t.Fatalf("iteration %d: apply finished but left its lock behind", iter)
		}
	}

	// Nothing left to do.
	out, errOut, code := run("plan", "--detailed-exitcode")
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Fatalf("final plan exited %d, want 0 and no changes:\n%s%s", code, out, errOut)
	}
	if len(printedCreated) == 0 || locksLeft == 0 {
		t.Fatalf("%d resources reported created, %d killed runs left a lock: the kills missed the applies, so this run tested little", len(printedCreated), locksLeft)
	}
	t.Logf("%d resources reported created; %d killed runs left their lock, broken by the next plan", len(printedCreated), locksLeft)
}

var createdLine = regexp.MustCompile(`^(time\.sleep\.s\d{3}): created `)

// crashEnv is the environment without anything that would change where
// ferry keeps state or what the configuration reads.
func crashEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "FERRY_") || strings.HasPrefix(kv, "NO_COLOR=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "NO_COLOR=1")
}

// minus returns the elements of a that are not in b.
func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}
