package aws

import "github.com/nixferry/ferry/providers"

// resourceTypes lists every resource type of the provider, bound to c
// (nil when only their schemas are wanted: Schema must not use the
// client). One line per type, in the order the documentation lists them.
func resourceTypes(c *Client) []providers.Resource {
	return []providers.Resource{
		&keyPair{c: c},
		&securityGroup{c: c},
		&instance{c: c},
		&vpc{c: c},
		&subnet{c: c},
		&internetGateway{c: c},
		&elasticIP{c: c},
		&route53Zone{c: c},
		&route53Record{c: c},
		&ebsVolume{c: c},
		&s3Bucket{c: c},
		&iamRole{c: c},
		&instanceProfile{c: c},
	}
}
