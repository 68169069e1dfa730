package main

import "fmt"

// The AWS speed targets of issue 11, in the machine table: a fleet of 200
// instances, 200 security groups and 200 volumes planned, applied,
// re-planned and destroyed through the engine on moto (awsfleet's
// BenchmarkAWSFleet200), and the refresh of 200 instances, groups and
// volumes by the provider alone (providers/aws BenchmarkRefreshEC2). Both
// need moto (go tool task deps). moto answers one request at a time, so
// the times are mostly moto's: the calls are what ferry controls. They
// take about a minute; -only aws runs just them:
//
//	go run ./cmd/ferry-bench -only aws
var awsParts = []machinePart{
	{name: "providers/aws-fleet", pkg: "./cmd/ferry-bench/awsfleet", bench: "BenchmarkAWSFleet200", benchtime: "3x", rows: awsFleetRows},
	{name: "providers/aws-refresh", pkg: "./providers/aws", bench: "BenchmarkRefreshEC2", benchtime: "1x", rows: awsRefreshRows},
}

func awsFleetRows(b benchResults) ([]machineRow, error) {
	const name = "BenchmarkAWSFleet200"
	v, err := b.metrics(name, "plan-s", "apply-s", "apply-calls", "calls/instance", "noop-plan-s", "noop-norefresh-s", "noop-plan-ec2-calls", "destroy-s", "api-limit", "parallelism")
	if err != nil {
		return nil, err
	}
	plan, apply, applyCalls, perInstance, noop, noopOwn, noopCalls, destroy, limit, par := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]
	const shape = "EC2 fleet on moto"
	const n = "200+200+200"
	runs := fmt.Sprintf("medians, %d runs", b[name].iters)
	sec := func(s float64) string { return fmt.Sprintf("%.2f s", s) }
	return []machineRow{
		{shape: shape, n: n, measure: "plan (empty state)", value: sec(plan), detail: runs, ok: plan <= 1, target: "≤ 1 s"},
		{shape: shape, n: n, measure: "apply", value: sec(apply),
			detail: fmt.Sprintf("%.0f API calls, at most %.0f at once (--parallelism %.0f, aws limit %.0f); %s", applyCalls, min(limit, par), par, limit, runs),
			ok:     apply <= 15, target: "≤ 15 s"},
		{shape: shape, n: n, measure: "API calls per instance (apply)", value: fmt.Sprintf("%.2f", perInstance),
			detail: "aws.instance creates only", ok: perInstance <= 5, target: "≤ 5"},
		{shape: shape, n: n, measure: "no-change plan", value: sec(noop),
			detail: fmt.Sprintf("%.2f s of it without refresh; %s", noopOwn, runs), ok: noop <= 1, target: "≤ 1 s"},
		{shape: shape, n: n, measure: "no-change plan EC2 calls", value: fmt.Sprintf("%.0f", noopCalls),
			detail: "the refresh of every object", ok: noopCalls <= 10, target: "≤ 10"},
		{shape: shape, n: n, measure: "destroy", value: sec(destroy), detail: runs, ok: destroy <= 15, target: "≤ 15 s"},
	}, nil
}

func awsRefreshRows(b benchResults) ([]machineRow, error) {
	const name = "BenchmarkRefreshEC2"
	calls, err := b.metric(name, "calls/refresh")
	if err != nil {
		return nil, err
	}
	return []machineRow{{
		shape: "EC2 refresh on moto", n: "200+200+200", measure: "EC2 calls", value: fmt.Sprintf("%.0f", calls),
		detail: fmt.Sprintf("instances (10 with an elastic IP), groups, volumes; %.0f ms", b[name].nsPerOp/1e6),
		ok:     calls <= 10, target: "≤ 10",
	}}, nil
}
