package aws_test

import (
	"testing"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/providertest"
)

// TestConformanceEBSVolume runs aws.ebs_volume through the provider
// contract. moto ignores ClientToken: a retried create is found by its
// token tag (Adopt), not by EC2 (Idempotent false).
func TestConformanceEBSVolume(t *testing.T) {
	env := awstest.New(t)
	providertest.Run(t, providertest.Case{
		New:          func(t *testing.T) providers.Resource { return configure(t, env, nil).Resources()[aws.EBSVolumeType] },
		Create:       map[string]any{"availability_zone": env.Region + "a", "size": num(8), "tags": map[string]any{"env": "test"}},
		Update:       map[string]any{"size": num(16), "iops": num(4000), "throughput": num(250), "tags": map[string]any{"env": "prod"}},
		Replace:      map[string]any{"availability_zone": env.Region + "b"},
		External:     true,
		PageSize:     200,
		BatchObjects: 5,
		Calls:        calls,
	})
}
