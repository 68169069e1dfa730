package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixferry/ferry/engine"
)

// ec2FleetConfig is n NixOS machines on EC2 (moto), each with a system of
// its own (nonce), sharing a key pair and a security group.
func ec2FleetConfig(n int, nonce string) string {
	var b strings.Builder
	b.WriteString(`deployment(name = "ec2fleet")
aws.provider(region = var("region"), endpoint = var("endpoint"))
kp = aws.key_pair("deploy", public_key = var("pubkey"))
ssh_sg = aws.security_group("ssh", vpc_id = var("vpc"), ingress = [{"protocol": "tcp", "port": 22, "cidr_blocks": ["0.0.0.0/0"]}])
`)
	for i := range n {
		fmt.Fprintf(&b, `machine("m%d", target = aws.ec2(instance_type = "t3.micro", key_pair = kp, security_groups = [ssh_sg], subnet = var("subnet"), connect = "private"),
    modules = [nix.inline("{ networking.domain = \"m%d-%s.example\"; }")])
`, i, i, nonce)
	}
	return b.String()
}

// BenchmarkEC2Machines10 measures `ferry apply` of 10 NixOS machines on
// EC2 from nothing, on moto and the watcher's test hosts: the key pair,
// the group and 10 instances created, 10 systems built, copied and
// activated. ns/op is apply's wall time. Metrics: provision-ms (from the
// start of apply to the last instance created), build-ms (the systems'
// one nix-store --realise, which runs meanwhile), slowest-host-ms (the
// largest copy plus activation of one host) and apply/(provision+slowest),
// the target ≤ 1.3, where provision is the longer of provisioning
// and the build (a machine needs both before its copy): the hosts cost no
// more than getting ready and the slowest of them alone.
//
//	go test ./cmd/ferry/cli -run '^$' -bench EC2Machines10 -benchtime 3x
func BenchmarkEC2Machines10(b *testing.B) {
	const n = 10
	var applyTime, provision, build, slowest, bound time.Duration
	nonce := time.Now().UnixNano()
	b.StopTimer()
	bed := newAWSBed(b, ec2FleetConfig(n, fmt.Sprint(nonce)))
	for i := 0; i < b.N; i++ {
		// A new system per iteration: built, not found in the store.
		if err := os.WriteFile(filepath.Join(bed.dir, "ferry.star"), []byte(ec2FleetConfig(n, fmt.Sprintf("%d-%d", nonce, i))), 0o644); err != nil {
			b.Fatal(err)
		}
		bed.ferry(0, "", "plan", "--out", "plan.json")
		b.StartTimer()
		start := time.Now()
		r := bed.ferry(0, "", "apply", "--json", "plan.json")
		applyTime += time.Since(start)
		b.StopTimer()
		evs := decodeEvents(b, r.stdout)
		if path := os.Getenv("FERRY_BENCH_TIMELINE"); path != "" {
			var tl strings.Builder
			for _, ev := range evs {
				fmt.Fprintf(&tl, "%6d ms %-10s %-22s %s\n", ev.Time.Sub(evs[0].Time).Milliseconds(), ev.Kind, ev.Addr, ev.Message)
			}
			if err := os.WriteFile(path, []byte(tl.String()), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		bed.ferry(0, "", "destroy", "--auto-approve") // fresh instances for the next iteration
		var lastCreate time.Time
		type host struct {
			copy             time.Duration
			activating, done time.Time
		}
		hosts := map[string]*host{}
		hostOf := func(addr string) *host {
			if hosts[addr] == nil {
				hosts[addr] = &host{}
			}
			return hosts[addr]
		}
		first := time.Time{}
		var built time.Duration
		for _, ev := range evs {
			if first.IsZero() {
				first = ev.Time
			}
			switch {
			case ev.Kind == engine.EventDone && strings.HasPrefix(ev.Addr, "aws.instance."):
				if ev.Time.After(lastCreate) {
					lastCreate = ev.Time
				}
			case ev.Kind == engine.EventProgress && strings.HasPrefix(ev.Message, "built "):
				built = ev.Duration
			case ev.Kind == engine.EventProgress && strings.HasPrefix(ev.Message, "copied "):
				hostOf(ev.Addr).copy = ev.Duration
			case ev.Kind == engine.EventProgress && strings.HasPrefix(ev.Message, "activating "):
				hostOf(ev.Addr).activating = ev.Time
			case ev.Kind == engine.EventDone && strings.HasPrefix(ev.Addr, "machine."):
				hostOf(ev.Addr).done = ev.Time
			}
		}
		if len(hosts) != n || lastCreate.IsZero() {
			b.Fatalf("events of %d machines and instances created at %v, want %d machines:\n%s", len(hosts), lastCreate, n, r.stdout)
		}
		prov := lastCreate.Sub(first)
		provision += prov
		build += built
		var worst time.Duration
		for addr, h := range hosts {
			if h.activating.IsZero() || h.done.IsZero() {
				b.Fatalf("%s: no activating or done event", addr)
			}
			worst = max(worst, h.copy+h.done.Sub(h.activating))
		}
		slowest += worst
		bound += max(prov, built) + worst
	}
	per := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(b.N) }
	b.ReportMetric(per(provision), "provision-ms/op")
	b.ReportMetric(per(build), "build-ms/op")
	b.ReportMetric(per(slowest), "slowest-host-ms/op")
	b.ReportMetric(float64(applyTime)/float64(bound), "apply/(provision+slowest)")
}

// decodeEvents reads apply --json's event lines.
func decodeEvents(tb testing.TB, out string) []engine.Event {
	tb.Helper()
	var evs []engine.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var ev engine.Event
		if err := json.Unmarshal(line, &ev); err != nil || ev.Kind == "" {
			continue // the result line
		}
		evs = append(evs, ev)
	}
	return evs
}
