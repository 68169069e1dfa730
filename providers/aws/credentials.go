package aws

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
)

// maxAttempts is how often the retryer tries one call (first attempt
// included) before its error reaches the engine: throttling on a large
// apply needs more than the SDK's default 3.
const maxAttempts = 10

// newRetryer is the SDK's adaptive retryer: exponential backoff with
// jitter, plus a client-side rate that drops when AWS throttles.
func newRetryer() aws.Retryer {
	return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) { so.MaxAttempts = maxAttempts })
	})
}

// loadConfig resolves cfg's credentials, as the AWS CLI would, and checks
// that they can be had now (an expired SSO session fails here, not in the
// middle of an apply). Order: the SDK's default chain (with cfg.profile
// when given), then NixOps's ~/.ec2-keys, then the role to assume.
func loadConfig(ctx context.Context, name string, cfg config) (aws.Config, *CallCounter, error) {
	calls := NewCallCounter()
	base := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(cfg.region),
		awsconfig.WithRetryer(newRetryer),
		awsconfig.WithAPIOptions([]func(*middleware.Stack) error{calls.Middleware}),
		// The SDK's own warnings (a response body not drained after a
		// cancelled call) would interleave with ferry's output; its
		// errors reach the user through ferry's messages.
		awsconfig.WithLogger(logging.Nop{}),
	}
	opts := base
	if cfg.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.profile))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	var notExist awsconfig.SharedConfigProfileNotExistError
	switch {
	case errors.As(err, &notExist):
		// A NixOps user's profile may be a name in ~/.ec2-keys.
		keys, found, kerr := ec2KeysCredentials(cfg.profile)
		if kerr != nil {
			return aws.Config{}, nil, kerr
		}
		if !found {
			return aws.Config{}, nil, fmt.Errorf("no profile %q in the shared AWS config (%s), nor in ~/.ec2-keys: create it with aws configure --profile %s (or aws configure sso --profile %s), or give another profile",
				cfg.profile, sharedFiles(), cfg.profile, cfg.profile)
		}
		awsCfg, err = loadStatic(ctx, base, keys)
	case err != nil:
		return aws.Config{}, nil, fmt.Errorf("load the AWS configuration: %w", err)
	default:
		if _, rerr := awsCfg.Credentials.Retrieve(ctx); rerr != nil {
			awsCfg, err = fallback(ctx, base, cfg, rerr)
		}
	}
	if err != nil {
		return aws.Config{}, nil, err
	}
	if cfg.assumeRole != nil {
		if awsCfg, err = assume(ctx, awsCfg, cfg); err != nil {
			return aws.Config{}, nil, err
		}
	}
	return awsCfg, calls, nil
}

// fallback handles the default chain finding no usable credentials:
// NixOps's ~/.ec2-keys when no profile was asked for, else an error that
// says what to do.
func fallback(ctx context.Context, base []func(*awsconfig.LoadOptions) error, cfg config, chainErr error) (aws.Config, error) {
	if ctx.Err() != nil {
		return aws.Config{}, fmt.Errorf("load AWS credentials: %w", chainErr)
	}
	profile := cfg.profile
	if profile == "" {
		profile = os.Getenv("AWS_PROFILE")
	}
	if isSSOError(chainErr) {
		p := profile
		if p == "" {
			p = "default"
		}
		return aws.Config{}, fmt.Errorf("the AWS SSO session of profile %q has expired or was never started: run aws sso login --profile %s (%v)", p, p, chainErr)
	}
	if profile == "" {
		keys, found, err := ec2KeysCredentials("")
		if err != nil {
			return aws.Config{}, err
		}
		if found {
			return loadStatic(ctx, base, keys)
		}
	}
	looked := "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), the default profile of " + sharedFiles() + ", SSO, web identity, the container and instance roles, and ~/.ec2-keys"
	what := `set AWS_PROFILE or profile = "NAME", run aws configure (or aws sso login --profile NAME)`
	if profile != "" {
		looked = fmt.Sprintf("profile %q of %s", profile, sharedFiles())
		what = fmt.Sprintf("check the profile with aws sts get-caller-identity --profile %s; for SSO run aws sso login --profile %s", profile, profile)
	}
	return aws.Config{}, fmt.Errorf("no AWS credentials found (looked at %s): %s: %v", looked, what, chainErr)
}

// isSSOError reports whether the chain failed on an SSO profile whose
// session has expired or was never started.
func isSSOError(err error) bool {
	var invalid *ssocreds.InvalidTokenError
	if errors.As(err, &invalid) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "SSO") || strings.Contains(msg, "sso")
}

// loadStatic loads the configuration with fixed credentials, ignoring the
// shared files (they did not hold the profile).
func loadStatic(ctx context.Context, base []func(*awsconfig.LoadOptions) error, keys aws.Credentials) (aws.Config, error) {
	opts := append(base[:len(base):len(base)],
		awsconfig.WithSharedConfigFiles([]string{}),
		awsconfig.WithSharedCredentialsFiles([]string{}),
		awsconfig.WithCredentialsProvider(credentials.StaticCredentialsProvider{Value: keys}),
	)
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load the AWS configuration: %w", err)
	}
	return awsCfg, nil
}

// assume replaces the credentials with those of cfg.assumeRole, and
// checks that the role can be assumed.
func assume(ctx context.Context, awsCfg aws.Config, cfg config) (aws.Config, error) {
	r := cfg.assumeRole
	client := sts.NewFromConfig(awsCfg, func(o *sts.Options) {
		if e := cfg.endpoint("sts"); e != "" {
			o.BaseEndpoint = aws.String(e)
		}
	})
	p := stscreds.NewAssumeRoleProvider(client, r.arn, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = r.sessionName
		if r.externalID != "" {
			o.ExternalID = aws.String(r.externalID)
		}
		if r.duration > 0 {
			o.Duration = r.duration
		}
	})
	awsCfg.Credentials = aws.NewCredentialsCache(p)
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		return aws.Config{}, fmt.Errorf("assume role %s: %w; check that the role's trust policy lets these credentials assume it (and the external ID, if it wants one)", r.arn, err)
	}
	return awsCfg, nil
}

// sharedFiles names the shared config files as the SDK finds them.
func sharedFiles() string {
	conf := os.Getenv("AWS_CONFIG_FILE")
	if conf == "" {
		conf = "~/.aws/config"
	}
	creds := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if creds == "" {
		creds = "~/.aws/credentials"
	}
	return conf + " and " + creds
}
