package main

import "testing"

// TestAWSRows reads result lines as the AWS benchmarks print them.
func TestAWSRows(t *testing.T) {
	out := `pkg: github.com/nixferry/ferry/cmd/ferry-bench/awsfleet
BenchmarkAWSFleet200-2   	       3	13630261015 ns/op	        16.00 api-limit	      1623 apply-calls	         7.715 apply-s	         3.070 calls/instance	         5.053 destroy-s	         0.03818 noop-norefresh-s	        10.00 noop-plan-ec2-calls	         1.120 noop-plan-s	        10.00 parallelism	         0.09551 plan-s
pkg: github.com/nixferry/ferry/providers/aws
BenchmarkRefreshEC2-2   	       1	 831526345 ns/op	         4.000 calls/refresh
PASS
`
	res, err := parseBench(out)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := awsFleetRows(res)
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := awsRefreshRows(res)
	if err != nil {
		t.Fatal(err)
	}
	rows = append(rows, refresh...)
	want := []struct {
		measure, value string
		ok             bool
	}{
		{"plan (empty state)", "0.10 s", true},
		{"apply", "7.71 s", true},
		{"API calls per instance (apply)", "3.07", true},
		{"no-change plan", "1.12 s", false},
		{"no-change plan EC2 calls", "10", true},
		{"destroy", "5.05 s", true},
		{"EC2 calls", "4", true},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		if r := rows[i]; r.measure != w.measure || r.value != w.value || r.ok != w.ok {
			t.Errorf("row %d = %q %q ok=%v, want %q %q ok=%v", i, r.measure, r.value, r.ok, w.measure, w.value, w.ok)
		}
	}
	if d := rows[1].detail; d != "1623 API calls, at most 10 at once (--parallelism 10, aws limit 16); medians, 3 runs" {
		t.Errorf("apply detail = %q", d)
	}
}
