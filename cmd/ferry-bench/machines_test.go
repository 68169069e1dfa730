package main

import "testing"

func TestParseBench(t *testing.T) {
	out := `goos: linux
pkg: github.com/nixferry/ferry/engine
BenchmarkEvaluate/machines=10-2        	       5	 106284657 ns/op	        54.17 ferry-ms	         1.028 ratio	        53.56 raw-ms
BenchmarkNoChange20Hosts-2      
	       3	 548064286 ns/op	         1.435 apply-ms/op	       467.5 plan-minus-eval-ms/op
BenchmarkFromScratch10Hosts     	       3	1.653e+09 ns/op	         1.430 apply/(build+slowest)
PASS
`
	res, err := parseBench(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("got %d results: %v", len(res), res)
	}
	if v, err := res.metric("BenchmarkEvaluate/machines=10", "ratio"); err != nil || v != 1.028 {
		t.Errorf("ratio = %v, %v", v, err)
	}
	if r := res["BenchmarkNoChange20Hosts"]; r.iters != 3 || r.nsPerOp != 548064286 || r.metrics["plan-minus-eval-ms/op"] != 467.5 {
		t.Errorf("NoChange20Hosts = %+v", r)
	}
	if v, err := res.metric("BenchmarkFromScratch10Hosts", "apply/(build+slowest)"); err != nil || v != 1.43 {
		t.Errorf("apply/(build+slowest) = %v, %v", v, err)
	}
	if _, err := res.metric("BenchmarkFromScratch10Hosts", "build-ms/op"); err == nil {
		t.Error("missing metric: no error")
	}
}
