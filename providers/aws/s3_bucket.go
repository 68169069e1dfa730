package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// S3BucketType is an S3 bucket.
const S3BucketType = "aws.s3_bucket"

// publicAccessKeys are the settings of public_access_block.
var publicAccessKeys = []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"}

func blockAllPublicAccess() map[string]any {
	m := map[string]any{}
	for _, k := range publicAccessKeys {
		m[k] = true
	}
	return m
}

func s3BucketSchema() spec.Schema {
	return spec.Schema{
		Type: S3BucketType,
		Doc:  "An S3 bucket in the configuration's region, with its versioning, tags, public access block and policy; all but the name change in place.",
		Attrs: []spec.Attr{
			{Name: "bucket", Kind: spec.KindString, Optional: true, Computed: true, ForceNew: true, Doc: "The bucket's name, unique across all of AWS: 3 to 63 lower-case letters, digits, hyphens and dots; default ferry-NAME-XXXXXXXX, chosen at create."},
			{Name: "versioning", Kind: spec.KindBool, Optional: true, Default: false, Doc: "Keep every version of every object. Turned off, S3 suspends it: versions kept so far stay."},
			{Name: "tags", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: "Tags; change in place."},
			{Name: "public_access_block", Kind: spec.KindMap, Optional: true, Default: blockAllPublicAccess(), Doc: "The bucket's public access block, all four settings: {block_public_acls, block_public_policy, ignore_public_acls, restrict_public_buckets}, each true or false; default all true."},
			{Name: "policy", Kind: spec.KindString, Optional: true, Doc: "The bucket policy, a JSON document (json.encode({...})); compared by meaning, not by its bytes. null: none."},
			{Name: "force_destroy", Kind: spec.KindBool, Optional: true, Default: false, Doc: "Let a delete empty the bucket first, every object version included. Without it, deleting a bucket that holds anything fails."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "The bucket's name."},
			{Name: "arn", Kind: spec.KindString, Computed: true, Doc: "The bucket's ARN."},
			{Name: "region", Kind: spec.KindString, Computed: true, Doc: "The region the bucket is in: the configuration's."},
		},
	}
}

// s3Bucket is aws.s3_bucket.
type s3Bucket struct{ c *Client }

var (
	_ providers.BatchReader = (*s3Bucket)(nil)
	_ providers.Importer    = (*s3Bucket)(nil)
	_ providers.Adopter     = (*s3Bucket)(nil)
)

func (b *s3Bucket) client() *Client     { return b.c }
func (b *s3Bucket) Schema() spec.Schema { return s3BucketSchema() }

var bucketNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// checkBucketName says what S3 would refuse in a bucket name.
func checkBucketName(name string) error {
	if !bucketNamePattern.MatchString(name) || strings.Contains(name, "..") || strings.HasPrefix(name, "xn--") {
		return fmt.Errorf("%q is not a valid bucket name: 3 to 63 lower-case letters, digits, hyphens and dots, starting and ending with a letter or digit", name)
	}
	return nil
}

// bucketName is the name of a bucket the configuration does not name:
// generatedName, lower case and DNS-safe.
func bucketName(addr, token string) string {
	return boundedName(S3BucketType, addr, token, 63, func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	})
}

func (b *s3Bucket) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planAttrs(s3BucketSchema(), req, nil)
	if err != nil {
		return resp, err
	}
	p := resp.Planned
	if _, err := tagArgs(req.Addr, p); err != nil {
		return providers.PlanResponse{}, err
	}
	if name, ok := p["bucket"].(string); ok {
		if err := checkBucketName(name); err != nil {
			return providers.PlanResponse{}, fmt.Errorf("%s: argument \"bucket\": %v", req.Addr, err)
		}
	}
	if _, err := publicAccessBlock(req.Addr, p["public_access_block"]); err != nil {
		return providers.PlanResponse{}, err
	}
	if doc, ok := p["policy"].(string); ok {
		if err := checkPolicy(req.Addr, "policy", doc); err != nil {
			return providers.PlanResponse{}, err
		}
	}
	if req.Prior == nil || len(resp.RequiresReplace) > 0 {
		// What a create makes is known now but for a generated name.
		p["region"] = b.c.region
		if name, ok := p["bucket"].(string); ok {
			p["id"], p["arn"] = name, bucketARN(b.c.region, name)
		}
	}
	return resp, nil
}

func bucketARN(region, name string) string {
	return fmt.Sprintf("arn:%s:s3:::%s", partition(region), name)
}

// publicAccessBlock reads public_access_block: all four settings, each a
// bool. An unknown value passes as nil.
func publicAccessBlock(addr string, v any) (*types.PublicAccessBlockConfiguration, error) {
	if spec.HasUnknown(v) {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	bad := func(why string) error {
		return fmt.Errorf("%s: argument \"public_access_block\" %s; give all four of %s, each true or false", addr, why, strings.Join(publicAccessKeys, ", "))
	}
	if !ok {
		return nil, bad("must be a dict, got " + spec.Render(v))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(publicAccessKeys, k) {
			return nil, bad(fmt.Sprintf("has an unknown setting %q", k))
		}
	}
	flags := make([]*bool, len(publicAccessKeys))
	for i, k := range publicAccessKeys {
		f, ok := m[k].(bool)
		if !ok {
			return nil, bad(fmt.Sprintf("lacks %q or it is not a bool", k))
		}
		flags[i] = aws.Bool(f)
	}
	return &types.PublicAccessBlockConfiguration{BlockPublicAcls: flags[0], BlockPublicPolicy: flags[1], IgnorePublicAcls: flags[2], RestrictPublicBuckets: flags[3]}, nil
}

func publicAccessState(c *types.PublicAccessBlockConfiguration) map[string]any {
	return map[string]any{
		"block_public_acls":       aws.ToBool(c.BlockPublicAcls),
		"block_public_policy":     aws.ToBool(c.BlockPublicPolicy),
		"ignore_public_acls":      aws.ToBool(c.IgnorePublicAcls),
		"restrict_public_buckets": aws.ToBool(c.RestrictPublicBuckets),
	}
}

func (b *s3Bucket) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return applyFuncs{b.create, b.update, b.delete}.apply(ctx, req)
}

// create makes the bucket, tags it with the create's token at once, and
// sets what the configuration asks for. A bucket the configuration does
// not name gets a name derived from the token: a retried create asks for
// it again, S3 answers BucketAlreadyOwnedByYou, and the retry goes on
// with the bucket the first attempt made. (In us-east-1, S3 answers a
// create of a bucket one owns with success instead.)
func (b *s3Bucket) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "create", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(s3BucketSchema(), "create", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	named := str(args, "bucket") != ""
	name := str(args, "bucket")
	if !named {
		name = bucketName(req.Addr, req.Token)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if b.c.region != "us-east-1" { // S3 refuses us-east-1 as a location constraint
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(b.c.region)}
	}
	_, err = b.c.s3.CreateBucket(ctx, in)
	switch code := errorCode(err); {
	case code == "BucketAlreadyOwnedByYou":
		if named {
			tags, terr := b.c.bucketTags(ctx, name)
			if terr != nil {
				return providers.ApplyResponse{}, b.c.fail("create", req.Addr, terr)
			}
			if req.Token == "" || tagValue(s3Tags(tags), tokenTag) != req.Token {
				return providers.ApplyResponse{}, fmt.Errorf("create %s: bucket %q exists already in this account and this deployment did not make it: import it with ferry import %s %s, or choose another bucket name", req.Addr, name, req.Addr, name)
			}
		}
		// A retried create: go on with the bucket the first attempt made.
	case code == "BucketAlreadyExists":
		return providers.ApplyResponse{}, fmt.Errorf("create %s: bucket name %q is taken by another AWS account (bucket names are global); choose another bucket name, or leave it out for a generated one", req.Addr, name)
	case err != nil:
		return providers.ApplyResponse{}, b.c.fail("create", req.Addr, callErr("s3:CreateBucket", err))
	}

	st := spec.CloneMap(args)
	st["bucket"], st["id"], st["arn"], st["region"] = name, name, bucketARN(b.c.region, name), b.c.region
	err = b.configure(ctx, name, req.Token, nil, st)
	if err != nil {
		partial := b.partial(ctx, name, st)
		return providers.ApplyResponse{State: partial}, fmt.Errorf("%w (bucket %s was made; the next plan replaces it)", b.c.fail("create", req.Addr, err), name)
	}
	if _, ok := st["policy"]; !ok {
		st["policy"] = nil
	}
	return providers.ApplyResponse{State: st}, nil
}

// configure brings a bucket's settings from prior (nil after a create:
// S3's defaults) to want, one call per setting that changes. token is
// the create's, kept in the tags.
func (b *s3Bucket) configure(ctx context.Context, name, token string, prior, want map[string]any) error {
	changed := func(k string) bool { return prior == nil || !equal(prior[k], want[k]) }
	bucket := aws.String(name)
	if changed("tags") || token != "" {
		if err := b.putTags(ctx, name, token, want); err != nil {
			return err
		}
	}
	if changed("public_access_block") {
		pab, err := publicAccessBlock("", want["public_access_block"])
		if err != nil {
			return err
		}
		if _, err := b.c.s3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: bucket, PublicAccessBlockConfiguration: pab}); err != nil {
			return callErr("s3:PutPublicAccessBlock", err)
		}
	}
	on, _ := want["versioning"].(bool)
	if (prior == nil && on) || (prior != nil && changed("versioning")) {
		status := types.BucketVersioningStatusSuspended
		if on {
			status = types.BucketVersioningStatusEnabled
		}
		if _, err := b.c.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket, VersioningConfiguration: &types.VersioningConfiguration{Status: status}}); err != nil {
			return callErr("s3:PutBucketVersioning", err)
		}
	}
	doc, _ := want["policy"].(string)
	had, _ := prior["policy"].(string)
	switch {
	case doc == "" && had != "":
		if _, err := b.c.s3.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: bucket}); err != nil {
			return callErr("s3:DeleteBucketPolicy", err)
		}
	case doc != "" && (prior == nil || !samePolicy(doc, had)):
		if _, err := b.c.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: bucket, Policy: aws.String(doc)}); err != nil {
			return callErr("s3:PutBucketPolicy", err)
		}
	}
	return nil
}

// putTags sets the bucket's tags: the user's, and ferry's own (the
// create's token, or those the bucket has) which PutBucketTagging would
// otherwise drop.
func (b *s3Bucket) putTags(ctx context.Context, name, token string, want map[string]any) error {
	user, err := stringMap("", "tags", want["tags"])
	if err != nil {
		return err
	}
	own := map[string]string{}
	if token != "" {
		own[tokenTag] = token
	} else {
		have, err := b.c.bucketTags(ctx, name)
		if err != nil {
			return err
		}
		for _, t := range have {
			if k := aws.ToString(t.Key); strings.HasPrefix(k, ferryTagPrefix) {
				own[k] = aws.ToString(t.Value)
			}
		}
	}
	maps.Copy(own, user)
	if len(own) == 0 {
		if _, err := b.c.s3.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String(name)}); err != nil {
			return callErr("s3:DeleteBucketTagging", err)
		}
		return nil
	}
	var set []types.Tag
	for _, k := range slices.Sorted(maps.Keys(own)) {
		set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(own[k])})
	}
	_, err = b.c.s3.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name), Tagging: &types.Tagging{TagSet: set}})
	return callErr("s3:PutBucketTagging", err)
}

// s3Tags are S3's tags as EC2's, for the shared tag helpers.
func s3Tags(ts []types.Tag) []ec2types.Tag {
	return asEC2Tags(ts, func(t types.Tag) (*string, *string) { return t.Key, t.Value })
}

// partial is the state of a bucket whose create failed halfway: as S3
// shows it, or, when even that fails, what the create asked for.
func (b *s3Bucket) partial(ctx context.Context, name string, st map[string]any) map[string]any {
	if found, err := b.c.findBucket(context.WithoutCancel(ctx), name); err == nil && found != nil {
		return b.c.bucketState(found, st)
	}
	if _, ok := st["policy"]; !ok {
		st["policy"] = nil
	}
	return st
}

// bucketState is a bucket's state as S3 describes it; prior keeps the
// policy as the configuration wrote it while S3 holds the same policy,
// and force_destroy, which S3 does not know.
func (c *Client) bucketState(b *bucket, prior map[string]any) map[string]any {
	var policy any
	if b.policy != "" {
		policy = keepPolicy(prior["policy"], b.policy)
	}
	force, _ := prior["force_destroy"].(bool)
	return map[string]any{
		"bucket":              b.name,
		"id":                  b.name,
		"arn":                 bucketARN(c.region, b.name),
		"region":              c.region,
		"versioning":          b.versioning,
		"tags":                userTags(s3Tags(b.tags)),
		"public_access_block": publicAccessState(b.pab),
		"policy":              policy,
		"force_destroy":       force,
	}
}

// update changes in place whatever differs from the prior state: one
// call per setting, none for force_destroy (ferry's own).
func (b *s3Bucket) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := checkCtx(ctx, "update", req.Addr); err != nil {
		return providers.ApplyResponse{}, err
	}
	name, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	args, err := knownArguments(s3BucketSchema(), "update", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	if _, ok := args["policy"]; !ok {
		args["policy"] = nil
	}
	if err := b.configure(ctx, name, "", req.Prior, args); err != nil {
		if errorCode(err) == "NoSuchBucket" {
			return providers.ApplyResponse{}, fmt.Errorf("update %s: bucket %s no longer exists (deleted outside ferry?); run ferry plan again to create it anew", req.Addr, name)
		}
		// Some calls may have been made: return the bucket as it is now.
		if found, ferr := b.c.findBucket(context.WithoutCancel(ctx), name); ferr == nil && found != nil {
			return providers.ApplyResponse{State: b.c.bucketState(found, req.Prior)}, b.c.fail("update", req.Addr, err)
		}
		return providers.ApplyResponse{}, b.c.fail("update", req.Addr, err)
	}
	st := updatedState(req.Prior, args)
	return providers.ApplyResponse{State: st}, nil
}

// delete deletes the bucket; with force_destroy it empties it first.
func (b *s3Bucket) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := checkCtx(ctx, "delete", req.Addr); err != nil {
		return err
	}
	name, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	if force, _ := req.Prior["force_destroy"].(bool); force {
		err := b.c.emptyBucket(ctx, name)
		if errorCode(err) == "NoSuchBucket" {
			return nil
		}
		if err != nil {
			return b.c.fail("delete", req.Addr, err)
		}
	}
	_, err = b.c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	switch errorCode(err) {
	case "":
		if err != nil {
			return b.c.fail("delete", req.Addr, callErr("s3:DeleteBucket", err))
		}
		return nil
	case "NoSuchBucket":
		return nil // gone already: a crashed apply deletes again
	case "BucketNotEmpty":
		re := b.c.fail("delete", req.Addr, callErr("s3:DeleteBucket", err)).(*ResourceError)
		re.Hint = fmt.Sprintf("bucket %s still holds objects: set force_destroy = true and apply before deleting it to have ferry delete them (every version), or empty it yourself", name)
		return re
	default:
		return b.c.fail("delete", req.Addr, callErr("s3:DeleteBucket", err))
	}
}

func (b *s3Bucket) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return readOne(ctx, b, req)
}

// ReadMany reads the buckets, bucketReads at a time, in 4 calls each
// (findBucket): S3 has no call that describes many buckets.
func (b *s3Bucket) ReadMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	resps, err := readBatch(ctx, b.c, reqs, b.c.findBuckets, b.c.bucketState)
	return resps, b.regionHint(err)
}

// readErr wraps the error of a bucket read.
func (b *s3Bucket) readErr(verb, addr string, err error) error {
	return b.regionHint(b.c.fail(verb, addr, err))
}

// regionHint says what to do when a bucket is in another region: S3
// answers a client of the wrong region with a redirect.
func (b *s3Bucket) regionHint(err error) error {
	var re *ResourceError
	if errors.As(err, &re) {
		switch errorCode(err) {
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "301":
			re.Hint = fmt.Sprintf("the bucket is not in region %s: manage it with an aws.provider of its region", b.c.region)
		}
	}
	return err
}

// Import adopts a bucket of the configuration's region by its name.
func (b *s3Bucket) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	if err := checkBucketName(req.ID); err != nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: %v; give the bucket's name", req.Addr, err)
	}
	found, err := b.c.findBucket(ctx, req.ID)
	if err != nil {
		return providers.ImportResponse{}, b.readErr("import", req.Addr, err)
	}
	if found == nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: no bucket %q (%s); list them with aws s3 ls", req.Addr, req.ID, b.c.name)
	}
	return providers.ImportResponse{State: b.c.bucketState(found, nil)}, nil
}

// Adopt finds the bucket a create with req.Token made: by the name
// derived from the token, or, for a bucket the configuration names, by
// the token tag on it.
func (b *s3Bucket) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	if req.Token == "" {
		return providers.ReadResponse{}, nil
	}
	name, named := req.Planned["bucket"].(string)
	if !named {
		name = bucketName(req.Addr, req.Token)
	}
	found, err := b.c.findBucket(ctx, name)
	if err != nil {
		return providers.ReadResponse{}, b.readErr("adopt", req.Addr, err)
	}
	if found == nil || (named && tagValue(s3Tags(found.tags), tokenTag) != req.Token) {
		return providers.ReadResponse{}, nil
	}
	return providers.ReadResponse{State: b.c.bucketState(found, req.Planned)}, nil
}
