package aws

import (
	"maps"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nixferry/ferry/providers"
)

// defaultPageSize is how many IDs one Describe call asks for (the values
// of one filter), so that refreshing N objects costs about N/200 calls.
const defaultPageSize = 200

// Client is one configured aws.provider(...): the credentials and
// region, the SDK clients of each service, and the resource types bound
// to them (providers.Configured). Safe for concurrent use.
type Client struct {
	name    string // the configuration as errors name it
	region  string
	profile string
	cfg     config
	aws     aws.Config
	calls   *CallCounter

	ec2     *ec2.Client
	route53 *route53.Client
	s3      *s3.Client
	iam     *iam.Client // IAM is global: the region only picks the partition

	pageSize  int
	deps      dependencyWait // deletes of objects still in use (ec2_dependency.go)
	resources map[string]providers.Resource
}

var _ providers.Configured = (*Client)(nil)

func newClient(name string, cfg config, awsCfg aws.Config, calls *CallCounter) *Client {
	profile := cfg.profile
	if profile == "" {
		profile = os.Getenv("AWS_PROFILE") // for the hints: aws sso login --profile ...
	}
	c := &Client{
		name:     name,
		region:   cfg.region,
		profile:  profile,
		cfg:      cfg,
		aws:      awsCfg,
		calls:    calls,
		pageSize: defaultPageSize,
		deps:     defaultDependencyWait(),
	}
	c.ec2 = ec2.NewFromConfig(awsCfg, func(o *ec2.Options) {
		if e := cfg.endpoint("ec2"); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	// Route53 is global: its requests are signed for the partition's
	// global region, whatever the configuration's region.
	c.route53 = route53.NewFromConfig(awsCfg, func(o *route53.Options) {
		o.Region = route53Region(cfg.region)
		if e := cfg.endpoint("route53"); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	c.s3 = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if e := cfg.endpoint("s3"); e != "" {
			// An emulator or private endpoint cannot serve bucket host
			// names: address buckets as http://HOST/BUCKET/KEY.
			o.BaseEndpoint = aws.String(e)
			o.UsePathStyle = true
		}
	})
	c.iam = iam.NewFromConfig(awsCfg, func(o *iam.Options) {
		if e := cfg.endpoint("iam"); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	c.resources = map[string]providers.Resource{}
	for _, r := range resourceTypes(c) {
		c.resources[r.Schema().Type] = r
	}
	return c
}

// Resources returns every type of the provider bound to this
// configuration.
func (c *Client) Resources() map[string]providers.Resource { return maps.Clone(c.resources) }

// Limit is DefaultLimit.
func (c *Client) Limit() int { return DefaultLimit }

// Calls counts this configuration's API requests.
func (c *Client) Calls() *CallCounter { return c.calls }

// Region is the configured region.
func (c *Client) Region() string { return c.region }

// AWSConfig is the SDK configuration, credentials resolved, with the
// retryer and the call counter installed, for clients of other services.
func (c *Client) AWSConfig() aws.Config { return c.aws.Copy() }
