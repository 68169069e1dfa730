package aws

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/spec"
)

// config is a parsed aws.provider(...) configuration.
type config struct {
	region     string
	profile    string
	assumeRole *assumeRole
	// endpoints by service ("ec2", "sts", ...); the key "" holds the one
	// endpoint of every service.
	endpoints map[string]string
}

type assumeRole struct {
	arn         string
	sessionName string
	externalID  string
	duration    time.Duration
}

// endpointServices are the services endpoint = {...} may name.
var endpointServices = []string{"ec2", "iam", "kms", "route53", "s3", "sts"}

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)
	roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$`)
)

func parseConfig(m map[string]any) (config, error) {
	c := config{endpoints: map[string]string{}}
	known := []string{"region", "profile", "assume_role", "endpoint"}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k != "alias" && !slices.Contains(known, k) {
			return c, fmt.Errorf("unknown argument %q; aws.provider takes %s", k, strings.Join(known, ", "))
		}
	}
	var err error
	if c.region, err = configString(m, "region"); err != nil {
		return c, err
	}
	if c.region == "" {
		return c, fmt.Errorf(`missing required argument "region"; give aws.provider(region = "eu-west-1")`)
	}
	if !regionPattern.MatchString(c.region) {
		return c, fmt.Errorf(`argument "region" = %q is not an AWS region name such as "eu-west-1"`, c.region)
	}
	if c.profile, err = configString(m, "profile"); err != nil {
		return c, err
	}
	if c.assumeRole, err = parseAssumeRole(m["assume_role"]); err != nil {
		return c, err
	}
	if c.endpoints, err = parseEndpoints(m["endpoint"]); err != nil {
		return c, err
	}
	return c, nil
}

func configString(m map[string]any, name string) (string, error) {
	switch v := m[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("argument %q must be a string, got %s", name, spec.Render(v))
	}
}

func parseAssumeRole(v any) (*assumeRole, error) {
	var r assumeRole
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		r.arn = v
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			s, ok := v[k].(string)
			if !ok {
				return nil, fmt.Errorf("argument \"assume_role\": %q must be a string, got %s", k, spec.Render(v[k]))
			}
			switch k {
			case "role_arn":
				r.arn = s
			case "session_name":
				r.sessionName = s
			case "external_id":
				r.externalID = s
			case "duration":
				d, err := time.ParseDuration(s)
				if err != nil || d < 15*time.Minute || d > 12*time.Hour {
					return nil, fmt.Errorf(`argument "assume_role": "duration" = %q: want a duration from 15m to 12h, such as "1h"`, s)
				}
				r.duration = d
			default:
				return nil, fmt.Errorf(`argument "assume_role": unknown key %q; it takes role_arn, session_name, external_id, duration`, k)
			}
		}
	default:
		return nil, fmt.Errorf(`argument "assume_role" must be a role ARN or a dict with "role_arn", got %s`, spec.Render(v))
	}
	if !roleARNPattern.MatchString(r.arn) {
		return nil, fmt.Errorf(`argument "assume_role": role ARN %q is not of the form "arn:aws:iam::123456789012:role/NAME"`, r.arn)
	}
	if r.sessionName == "" {
		r.sessionName = "ferry"
	}
	return &r, nil
}

func parseEndpoints(v any) (map[string]string, error) {
	out := map[string]string{}
	switch v := v.(type) {
	case nil:
	case string:
		if err := checkEndpoint("endpoint", v); err != nil {
			return nil, err
		}
		out[""] = v
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if !slices.Contains(endpointServices, k) {
				return nil, fmt.Errorf(`argument "endpoint": unknown service %q; it takes %s`, k, strings.Join(endpointServices, ", "))
			}
			s, ok := v[k].(string)
			if !ok {
				return nil, fmt.Errorf(`argument "endpoint": %q must be a URL string, got %s`, k, spec.Render(v[k]))
			}
			if err := checkEndpoint(`endpoint "`+k+`"`, s); err != nil {
				return nil, err
			}
			out[k] = s
		}
	default:
		return nil, fmt.Errorf(`argument "endpoint" must be a URL or a dict of URLs by service, got %s`, spec.Render(v))
	}
	return out, nil
}

func checkEndpoint(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("argument %s = %q is not an http:// or https:// URL", what, s)
	}
	return nil
}

// endpoint returns the endpoint of service, "" for the SDK's own.
func (c config) endpoint(service string) string {
	if e, ok := c.endpoints[service]; ok {
		return e
	}
	return c.endpoints[""]
}
