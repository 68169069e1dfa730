// Package aws is the Amazon Web Services provider (aws-sdk-go-v2):
//
//	aws.provider(region = "eu-west-1")
//	aws.provider(alias = "us", region = "us-east-1", profile = "prod",
//	             assume_role = "arn:aws:iam::123456789012:role/deploy")
//	aws.provider(region = "eu-west-1", endpoint = "http://127.0.0.1:5000")   # an emulator
//
// # Configuration and credentials
//
// Configure resolves credentials the way the AWS CLI does, through the
// SDK's default chain: the environment (AWS_ACCESS_KEY_ID, ...), the
// shared config and credentials files with profile (or AWS_PROFILE),
// SSO profiles, web identity, container and instance roles. As the last
// resort, for users coming from NixOps, it reads ~/.ec2-keys (ec2keys.go):
// a profile no shared file holds is looked up there by name or access key
// ID. assume_role then trades those credentials for a role's. Nothing
// secret comes from the configuration, so nothing secret reaches a plan
// or the state. Configure fetches the credentials once, so that a missing
// or expired login fails before any plan, with what was looked at and
// what to run ("run aws sso login --profile prod").
//
// endpoint replaces the API endpoint (an emulator, a private endpoint):
// one URL for all services, or one per service; nothing else changes.
// Every client uses the SDK's adaptive retryer (backoff, and a send rate
// that drops when AWS throttles; up to 10 attempts), and Limit
// (DefaultLimit) bounds the calls of one configuration running at once.
// A CallCounter, installed on every SDK client as middleware, counts the
// requests by operation (Client.Calls, CallsOf), for tests and benchmarks
// that hold refresh and apply to a number of calls.
//
// # Resource types
//
// One file per type, its test beside it, each run through providertest
// on moto (awstest):
//
//   - aws.key_pair (key_pair.go): imports public_key, or has EC2 create
//     the key pair (ed25519 by default) and keeps its private key as a
//     sensitive attribute.
//   - aws.security_group (security_group.go, rules in
//     security_group_rules.go): a VPC's group with its ingress and egress
//     rules inline; rules changed outside ferry show in the next plan.
//   - aws.instance (instance.go; updates in instance_update.go, power in
//     instance_power.go, host keys in instance_userdata.go, image lookup
//     in nixos_ami.go): an EC2 instance, also the machine of a NixOS
//     target on EC2. Without ami, the plan pins the newest NixOS image of
//     nixos_release; nixos_host_key hands a generated SSH host key to the
//     image in its user data. A type change stops and starts it (the
//     plan shows the downtime); security groups, elastic IP, volumes,
//     IAM profile and tags change in place; PowerSwitch stops, starts
//     and reboots it.
//   - aws.vpc (vpc.go): a VPC; DNS attributes and tags change in place,
//     its main route table and default security group are attributes.
//   - aws.subnet (subnet.go): a subnet of a VPC in one zone;
//     map_public_ip_on_launch and tags change in place.
//   - aws.internet_gateway (internet_gateway.go): attached to a VPC (and
//     moved between VPCs) in place; route_default = True adds the route
//     0.0.0.0/0 through it to the VPC's main route table, so that a VPC
//     with a gateway is reachable, and removes it on detach and delete.
//   - aws.elastic_ip (elastic_ip.go): an address an aws.instance takes
//     by its id; reads show the instance it is associated with, and the
//     delete disassociates it before releasing it.
//   - aws.ebs_volume (ebs_volume.go): grows, changes type, IOPS and
//     throughput in place (ModifyVolume); a smaller size is refused at
//     plan; an attached volume is not deleted (the error names the
//     instance); attached_to shows what an instance resource attached.
//   - aws.s3_bucket (s3_bucket.go): versioning, tags, public access
//     block and policy in place, the policy compared by meaning;
//     force_destroy lets a delete empty the bucket, every version. S3
//     describes no buckets in bulk: a read costs 4 calls per bucket, 8
//     buckets at a time (s3_find.go). Imported by name; S3 lists nothing
//     by tag, so a killed create is found by its name (derived from the
//     token, or configured and then tagged with the token).
//   - aws.iam_role (iam_role.go): trust policy, managed and inline
//     policies in place, compared by meaning; a policy detached outside
//     ferry shows in the next plan. A refresh of many roles reads the
//     account's listing (iam_find.go). Imported by name, adopted by name
//     and token tag, as buckets; IAM ignores the region.
//   - aws.instance_profile (instance_profile.go): one role, swapped in
//     place, removed before the profile is deleted; imported and adopted
//     as roles are.
//
// The network types share their plumbing (ec2_net.go) and finders
// (ec2_find_net.go). Deletes that EC2 refuses with DependencyViolation
// (a VPC whose subnets go, a subnet whose instance's interface lingers,
// a gateway whose VPC still maps public addresses) wait for a bounded
// time, then name what still depends on the object
// (ec2_dependency.go).
//   - aws.route53_zone (route53_zone.go): a hosted zone, public or
//     private to a VPC; zone_name is kept as written ("example.com" and
//     "example.com." are the same zone); force_destroy deletes its
//     records with it. The create's token is its CallerReference.
//   - aws.route53_record (route53_record.go): a record set (values and
//     ttl, or an alias), named by zone, name and type (id
//     ZONE_NAME_TYPE); ferry refuses to create a record that exists.
//     Refreshed zone by zone (route53_find.go), a page of 300 records a
//     call.
//
// Every EC2 type refreshes in batches (BatchReader: one Describe call per
// 200 IDs, by filter, so that an object deleted outside ferry does not
// fail the page), imports by ID (a key pair also by name), and finds the
// object of a killed create again (Adopter) by the ferry:token tag every
// create puts on it: key pairs and security groups take no client token,
// and moto does not honour EC2's. Route53 has neither describe-by-ID nor
// tags on records: zones are refreshed from ListHostedZones pages and
// adopted by their caller reference, records from their zone's listing
// and adopted when they hold the planned values. Names left out of the configuration are
// generated from the resource's name and the create's token
// (ferry-web-1a2b3c4d), so that a retried create collides with the first
// and finds it instead of making a second object. The finders
// (ec2_find.go: findKeyPairsByIDs, findSecurityGroupByToken, ...) are
// shared by a service's types; every error names the resource address
// and the API action, and says what to do when the cause is known
// (errors.go).
//
// It must not import lang or engine (engine/spec is allowed), and no
// production code may import awstest.
package aws
