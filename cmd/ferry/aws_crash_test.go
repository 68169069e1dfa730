package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote/testhosts"
)

// TestKilledDuringInstanceCreate: `ferry apply` of examples/aws-webserver
// is killed with SIGKILL while EC2 is creating its instances: moto has
// made both (one per region) but ferry never heard back, because the
// proxy in front of moto holds the answers of RunInstances. The next plan
// finds each instance by its ferry:token tag and adopts it; the apply
// after it deploys the machines onto those instances. At no point is
// there a second instance in a region, nor one that state does not know.
func TestKilledDuringInstanceCreate(t *testing.T) {
	nixtest.RequireNix(t)
	ferry, err := exec.LookPath("ferry")
	if err != nil {
		t.Fatalf("ferry is not on PATH (TestMain installs it): %v", err)
	}
	env := awstest.New(t)
	regions := map[string]awstest.Subnet{"eu": env.Subnet(t, env.Region), "us": env.Subnet(t, "us-east-1")}
	watch := env.Watch(t)
	proxy := startHoldProxy(t, env.URL)

	dir := t.TempDir()
	example := "../../examples/aws-webserver"
	entries, err := os.ReadDir(example)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue // .ferry of other runs
		}
		data, err := os.ReadFile(filepath.Join(example, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	client, err := testhosts.NewKey("ferry-test")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, client.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	environ := append(append(crashEnv(), env.Environ()...),
		"NIX_PATH=nixpkgs="+nixtest.NixpkgsPath(),
		"NIX_CONFIG=substituters =\nsandbox = false",
		"FERRY_SSH_KEY="+keyFile,
		"SSH_AUTH_SOCK=",
		"FERRY_STATE=file://"+filepath.Join(dir, ".ferry"),
		"FERRY_VAR_endpoint="+proxy.URL,
		"FERRY_VAR_connect=private",
		"FERRY_VAR_ssh_public_key="+client.Public,
	)
	for alias, s := range regions {
		environ = append(environ, "FERRY_VAR_"+alias+"_region="+s.Region, "FERRY_VAR_"+alias+"_vpc="+s.VPC, "FERRY_VAR_"+alias+"_subnet="+s.ID)
	}
	command := func(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		cmd := exec.Command(ferry, args...)
		cmd.Dir, cmd.Env = dir, environ
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		return cmd, &out, &errb
	}
	run := func(want int, args ...string) (string, string) {
		t.Helper()
		cmd, out, errb := command(args...)
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
		}
		if code != want {
			t.Fatalf("ferry %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errb)
		}
		return out.String(), errb.String()
	}
	// live is every instance of the bed's regions that is not terminated,
	// by ID, with its region.
	live := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, s := range regions {
			res, err := env.EC2(s.Region).DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Reservations {
				for _, in := range r.Instances {
					if in.State.Name != ec2types.InstanceStateNameTerminated {
						out[aws.ToString(in.InstanceId)] = s.Region
					}
				}
			}
		}
		return out
	}

	planOut, _ := run(0, "plan", "--out", "plan.json")
	systems := map[string]string{}
	for _, name := range []string{"web-eu", "web-us"} {
		m := regexp.MustCompile(`system:\s+(/nix/store/\S+-nixos-system-` + name + `-\S+)`).FindStringSubmatch(planOut)
		if m == nil {
			t.Fatalf("the plan pins no system for machine.%s:\n%s", name, planOut)
		}
		systems[name] = m[1]
	}

	// The apply, killed once moto has made both instances.
	proxy.hold.Store(true)
	apply, applyOut, applyErr := command("apply", "plan.json")
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- apply.Wait() }()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	made := map[string]bool{}
	for len(made) < len(regions) {
		select {
		case id := <-proxy.held:
			made[id] = true
		case err := <-exited:
			t.Fatalf("ferry apply ended (%v) before both instances were made:\n%s\n%s", err, applyOut, applyErr)
		case <-ctx.Done():
			_ = apply.Process.Kill()
			t.Fatalf("moto made %d instances, want %d:\n%s\n%s", len(made), len(regions), applyOut, applyErr)
		}
	}
	_ = apply.Process.Signal(syscall.SIGKILL)
	<-exited
	proxy.hold.Store(false)

	if got := live(); !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(made))) {
		t.Fatalf("instances after the kill: %v, want those RunInstances made: %v", got, made)
	}
	if list, _ := run(0, "state", "list"); strings.Contains(list, "aws.instance.") {
		t.Fatalf("state records an instance although the apply was killed before it heard of it:\n%s", list)
	}

	// The next plan adopts both instances: it creates none.
	planOut, planErr := run(0, "plan", "--out", "plan.json")
	for _, name := range []string{"web-eu", "web-us"} {
		if !regexp.MustCompile(`aws\.instance\.` + name + `: adopted the object an interrupted apply created \(token ferry-[0-9a-f]+\)`).MatchString(planErr) {
			t.Errorf("plan after the kill does not adopt aws.instance.%s:\n%s", name, planErr)
		}
		if strings.Contains(planOut, "# aws.instance."+name+" will be created") || !strings.Contains(planOut, "# machine."+name+" will be deployed") {
			t.Errorf("plan after the kill should deploy machine.%s onto the adopted instance:\n%s", name, planOut)
		}
	}
	run(0, "apply", "plan.json")

	// Exactly the instances made before the kill, each in state, each
	// running its machine's system.
	if got := live(); !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(made))) {
		t.Errorf("instances after the apply: %v, want only those made before the kill: %v", got, made)
	}
	for _, name := range []string{"web-eu", "web-us"} {
		show, _ := run(0, "state", "show", "aws.instance."+name)
		m := regexp.MustCompile(`(?m)^\s*id\s*=\s*"(i-[0-9a-f]+)"`).FindStringSubmatch(show)
		if m == nil || !made[m[1]] {
			t.Errorf("aws.instance.%s in state is not an instance made before the kill:\n%s", name, show)
			continue
		}
		in, err := watch.WaitUp(ctx, m[1])
		if err != nil {
			t.Fatal(err)
		}
		if sys, err := in.Host.CurrentSystem(); err != nil || sys != systems[name] {
			t.Errorf("machine.%s: the host of %s runs %q (%v), want %s", name, m[1], sys, err, systems[name])
		}
	}
	if out, _ := run(0, "plan"); !strings.Contains(out, "No changes.") {
		t.Errorf("plan after the recovery:\n%s", out)
	}
}

// holdProxy is moto behind a reverse proxy that, while hold is set, lets
// moto run each RunInstances and keeps its answer from the caller until
// the caller goes away: the cloud has made the instance, and the caller
// never hears of it.
type holdProxy struct {
	URL  string
	moto string
	hold atomic.Bool
	held chan string // the ID of each instance whose RunInstances is held
}

func startHoldProxy(t *testing.T, moto string) *holdProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdProxy{URL: "http://" + l.Addr().String(), moto: moto, held: make(chan string, 16)}
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

func (p *holdProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	// moto finishes what it was asked even when the caller is killed.
	out, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, p.moto+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if form, _ := url.ParseQuery(string(body)); p.hold.Load() && form.Get("Action") == "RunInstances" && resp.StatusCode == http.StatusOK {
		var made struct {
			IDs []string `xml:"instancesSet>item>instanceId"`
		}
		if err := xml.Unmarshal(answer, &made); err != nil || len(made.IDs) != 1 {
			http.Error(w, "RunInstances answered something unexpected", http.StatusBadGateway)
			return
		}
		p.held <- made.IDs[0]
		<-r.Context().Done()
		return
	}
	maps.Copy(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}
