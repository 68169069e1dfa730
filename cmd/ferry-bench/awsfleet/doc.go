// Package awsfleet holds the AWS fleet benchmark of the speed targets of
// issue 11 (fleet_bench_test.go): a deployment of 200 aws.instance, 200
// aws.security_group and 200 aws.ebs_volume with a VPC, a subnet and a key
// pair, declared in Starlark and planned, applied, re-planned and destroyed
// through lang and the engine as the CLI wires them, against moto
// (providers/aws/awstest). cmd/ferry-bench runs it for its machine table
// (aws.go there):
//
//	go test ./cmd/ferry-bench/awsfleet -run '^$' -bench AWSFleet -benchtime 1x
//
// The package has no code of its own; it exists so that the benchmark's
// test binary runs moto (awstest.Main) without making every engine or CLI
// test depend on it.
package awsfleet
