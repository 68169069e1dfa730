package engine_test

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/providers/nix/binarycache/cachetest"
	"github.com/nixferry/ferry/remote/testhosts"
)

// BenchmarkTransfer10Hosts deploys 10 hosts whose systems share a closure
// of 50 store paths of 1 MiB of random bytes, through a 200 Mbit/s uplink
// (TESTING.md, "A limited uplink": hosts and the cache in network
// namespaces on a bridge, tc tbf on the deployer's side), once pushed and
// once through a fleet cache (gofakes3, uploaded once over the uplink,
// read by the hosts over the bridge), with a new closure each time.
// Metrics: push-s and cache-s (medians of the applies, the build done
// before), cache/push. Each apply's slowest upload, fetch and copy (as
// the progress events time them) are logged.
//
//	go test ./engine -run '^$' -bench Transfer10Hosts -benchtime 3x
func BenchmarkTransfer10Hosts(b *testing.B) {
	const hosts = 10
	net, err := testhosts.NewNetwork(testhosts.NetworkOptions{Rate: "200mbit"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := net.Close(); err != nil {
			b.Errorf("remove the test network: %v", err)
		}
	})
	m := newMachineEnvFleet(b, testhosts.Options{Empty: true})
	m.file = "bigbench.star"
	for i := 1; i <= hosts; i++ {
		name := "h" + strconv.Itoa(i)
		ns, addr, err := net.Node(name)
		if err != nil {
			b.Fatal(err)
		}
		h, err := m.fleet.Add(context.Background(), testhosts.HostOptions{Name: name, Addr: addr, Port: 22, NetNS: ns})
		if err != nil {
			b.Fatal(err)
		}
		m.vars[name+"_host"], m.vars[name+"_port"] = h.Addr, "22"
	}
	cacheNS, cacheAddr, err := net.Node("cache")
	if err != nil {
		b.Fatal(err)
	}
	l, err := testhosts.ListenIn(cacheNS, cacheAddr+":8080")
	if err != nil {
		b.Fatal(err)
	}
	srv := cachetest.NewS3On(b, "fleet", l)
	secret, public := cacheKeys(b)
	m.vars["n"], m.vars["blobs"], m.vars["blob_kib"] = strconv.Itoa(hosts), "50", "1024"
	m.vars["cache_url"], m.vars["cache_substituter"] = srv.BucketURL, srv.URL
	m.vars["cache_public_key"], m.vars["cache_secret_key"] = public, secret

	deploy := func(transfer, nonce string) time.Duration {
		m.vars["transfer"], m.vars["nonce"] = transfer, nonce
		p := m.plan(engine.PlanOptions{})
		var drvs []string
		for _, pm := range p.Machines {
			drvs = append(drvs, pm.Drv)
		}
		if out, err := exec.Command("nix-store", append([]string{"--realise"}, drvs...)...).CombinedOutput(); err != nil {
			b.Fatalf("build: %v: %s", err, out)
		}
		m.takeEvents()
		start := time.Now()
		res := m.applyOK(p)
		took := time.Since(start)
		var upload, fetch, copyMax time.Duration
		for _, ev := range m.takeEvents() {
			switch {
			case ev.Kind != engine.EventProgress:
			case strings.HasPrefix(ev.Message, "cache ") && ev.Duration > upload:
				upload = ev.Duration
			case strings.HasPrefix(ev.Message, "fetched ") && ev.Duration > fetch:
				fetch = ev.Duration
			case strings.HasPrefix(ev.Message, "copied ") && ev.Duration > copyMax:
				copyMax = ev.Duration
			}
		}
		b.Logf("%s: apply %v (slowest upload %v, slowest fetch %v, slowest copy %v)", transfer, took.Round(time.Millisecond), upload.Round(time.Millisecond), fetch.Round(time.Millisecond), copyMax.Round(time.Millisecond))
		if len(res.FellBack) > 0 {
			b.Fatalf("fell back to push: %v", res.FellBack)
		}
		return took
	}
	var push, cache []time.Duration
	b.ResetTimer()
	for i := range b.N {
		push = append(push, deploy("push", fmt.Sprintf("p%d-%d", i, time.Now().UnixNano())))
		cache = append(cache, deploy("cache", fmt.Sprintf("c%d-%d", i, time.Now().UnixNano())))
	}
	b.StopTimer()
	p, c := median(push), median(cache)
	b.ReportMetric(p.Seconds(), "push-s")
	b.ReportMetric(c.Seconds(), "cache-s")
	b.ReportMetric(c.Seconds()/p.Seconds(), "cache/push")

}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
