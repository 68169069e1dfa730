package aws

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// Name is the provider's namespace.
const Name = "aws"

// DefaultLimit is how many calls to one aws.provider(...) configuration
// run at once (Configured.Limit). EC2 answers bursts of about 100
// describe and 50 mutating requests per account and region and then
// throttles; 16 stays well inside that while keeping a large apply busy,
// and the adaptive retryer slows down further when AWS says so.
const DefaultLimit = 16

// Provider is the aws provider. It holds nothing: every configuration is
// a Client of its own.
type Provider struct{}

// New returns the aws provider.
func New() *Provider { return &Provider{} }

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Describer = (*Provider)(nil)
)

// Name is "aws".
func (*Provider) Name() string { return Name }

// ConfigSchema describes aws.provider(...).
func (*Provider) ConfigSchema() *spec.Schema {
	return &spec.Schema{
		Type: Name + ".provider",
		Doc:  "Amazon Web Services in one region. Credentials come from the AWS SDK's default chain (environment, shared config and SSO profiles, instance roles), then from NixOps's ~/.ec2-keys; never from the configuration.",
		Attrs: []spec.Attr{
			{Name: "region", Kind: spec.KindString, Required: true, Doc: `The region, such as "eu-west-1".`},
			{Name: "profile", Kind: spec.KindString, Optional: true, Doc: "A profile of ~/.aws/config or ~/.aws/credentials (SSO profiles too), or a name or access key ID of ~/.ec2-keys; default: AWS_PROFILE, else the default chain."},
			{Name: "assume_role", Kind: spec.KindAny, Optional: true, Doc: `A role to assume with those credentials: its ARN, or {"role_arn": ..., "session_name": ..., "external_id": ..., "duration": "1h"}.`},
			{Name: "endpoint", Kind: spec.KindAny, Optional: true, Doc: `Another API endpoint, for emulators and private endpoints: one URL for every service, or one per service {"ec2": URL, "sts": URL, ...}. S3 is then addressed path-style.`},
		},
	}
}

// Schemas lists the resource types without a configuration.
func (*Provider) Schemas() []spec.Schema {
	var out []spec.Schema
	for _, r := range resourceTypes(nil) {
		out = append(out, r.Schema())
	}
	return out
}

// Configure loads the credentials of req's configuration and returns a
// Client for its region. It fails when no credentials can be found, with
// what was looked at and what to run.
func (p *Provider) Configure(ctx context.Context, req providers.ConfigureRequest) (providers.Configured, error) {
	cfg, err := parseConfig(req.Config)
	name := configName(req.Alias, cfg)
	if err != nil {
		return nil, fmt.Errorf("configure %s: %w", name, err)
	}
	awsCfg, calls, err := loadConfig(ctx, name, cfg)
	if err != nil {
		return nil, fmt.Errorf("configure %s: %w", name, err)
	}
	return newClient(name, cfg, awsCfg, calls), nil
}

// configName names a configuration in errors as the user wrote it:
// aws.provider(alias = "eu", region = "eu-west-1", profile = "prod").
func configName(alias string, cfg config) string {
	var args []string
	if alias != "" {
		args = append(args, "alias = "+strconv.Quote(alias))
	}
	if cfg.region != "" {
		args = append(args, "region = "+strconv.Quote(cfg.region))
	}
	if cfg.profile != "" {
		args = append(args, "profile = "+strconv.Quote(cfg.profile))
	}
	return Name + ".provider(" + strings.Join(args, ", ") + ")"
}

var _ providers.ConfigValidator = (*Provider)(nil)

// ValidateResource checks a resource's arguments against its type's
// schema, offline: no credentials are loaded and no API is called (ferry
// validate).
func (p *Provider) ValidateResource(_ context.Context, typ string, req providers.PlanRequest) error {
	for _, r := range resourceTypes(nil) {
		if s := r.Schema(); s.Type == typ {
			_, err := arguments(s, req.Addr, req.Config, false)
			return err
		}
	}
	return fmt.Errorf("%s: the aws provider has no resource type %q", req.Addr, typ)
}
