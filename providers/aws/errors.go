package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// callError is the failure of one API call, named by action
// ("ec2:CreateKeyPair", as IAM policies name it).
type callError struct {
	action string
	err    error
}

func (e *callError) Error() string { return e.action + ": " + shortError(e.err) }
func (e *callError) Unwrap() error { return e.err }

// callErr wraps the error of one SDK call; nil stays nil.
func callErr(action string, err error) error {
	if err == nil {
		return nil
	}
	return &callError{action: action, err: err}
}

// shortError is the useful part of an SDK error: "CODE: message" for an
// API error, the context's error for a cancelled call.
func shortError(err error) string {
	var api smithy.APIError
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded.Error()
	case errors.As(err, &api):
		return api.ErrorCode() + ": " + api.ErrorMessage()
	default:
		return err.Error()
	}
}

// errorCode is the AWS error code in err's chain, "" if none.
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// ResourceError is the failure of one operation on one resource: it names
// the verb, the resource address and the API action, and says what to do
// when the cause is a known one (credentials, permissions, limits).
type ResourceError struct {
	Verb   string // create, read, update, delete, import, adopt
	Addr   string
	Action string // "ec2:CreateKeyPair"; "" when no call failed
	Err    error
	Hint   string
}

func (e *ResourceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", e.Verb, e.Addr)
	if e.Action != "" {
		b.WriteString(e.Action + ": " + shortError(e.Err))
	} else {
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

func (e *ResourceError) Unwrap() error { return e.Err }

// fail wraps err, of an operation verb on the resource at addr, with the
// action that failed and a hint of what to do; nil stays nil.
func (c *Client) fail(verb, addr string, err error) error {
	if err == nil {
		return nil
	}
	re := &ResourceError{Verb: verb, Addr: addr, Err: err}
	var ce *callError
	if errors.As(err, &ce) {
		re.Action, re.Err = ce.action, ce.err
	}
	re.Hint = c.hint(re.Action, re.Err)
	return re
}

// hint says what to do about an AWS error, "" when there is nothing
// general to say.
func (c *Client) hint(action string, err error) string {
	code := errorCode(err)
	switch code {
	case "UnauthorizedOperation", "AccessDenied", "AccessDeniedException", "Forbidden":
		h := fmt.Sprintf("the credentials of %s may not call %s: allow it in their IAM policy", c.name, action)
		var api smithy.APIError
		if errors.As(err, &api) && strings.Contains(api.ErrorMessage(), "Encoded authorization failure message") {
			h += " (aws sts decode-authorization-message --encoded-message MESSAGE shows which statement refused it)"
		}
		return h
	case "AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "IncompleteSignature":
		return fmt.Sprintf("AWS refused the credentials of %s: check them with aws sts get-caller-identity%s", c.name, c.profileFlag())
	case "ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired":
		return fmt.Sprintf("the credentials of %s have expired: %s", c.name, c.loginHint())
	case "RequestLimitExceeded", "Throttling", "ThrottlingException", "TooManyRequestsException":
		return "AWS still throttled it after the SDK's retries: apply again later, or with a lower --parallelism"
	case "InstanceLimitExceeded", "VcpuLimitExceeded":
		return fmt.Sprintf("the account's limit of running instances (vCPUs of this instance family) in region %s is reached: terminate some, or ask for more in the Service Quotas console (EC2, Running On-Demand instances)", c.region)
	case "InsufficientInstanceCapacity":
		return "AWS has not enough capacity of this instance type in that availability zone right now: apply again later, or choose another availability_zone or instance_type"
	case "Unsupported":
		return fmt.Sprintf("the instance type or option is not offered there: see aws ec2 describe-instance-type-offerings --region %s --location-type availability-zone", c.region)
	case "OptInRequired":
		return fmt.Sprintf("region %s is not enabled for this account: enable it in the account settings, or use another region", c.region)
	}
	if strings.HasSuffix(code, "LimitExceeded") {
		return fmt.Sprintf("an account limit of region %s is reached: free some, or raise it in the Service Quotas console", c.region)
	}
	return ""
}

func (c *Client) profileFlag() string {
	if c.profile == "" {
		return ""
	}
	return " --profile " + c.profile
}

func (c *Client) loginHint() string {
	if c.profile == "" {
		return "renew them (aws sso login --profile NAME for SSO, or new keys in the environment)"
	}
	return fmt.Sprintf("run aws sso login --profile %s (or renew the profile's keys)", c.profile)
}

// isNotFound reports whether err says the object does not exist
// (InvalidKeyPair.NotFound, InvalidGroup.NotFound, ...).
func isNotFound(err error) bool {
	code := errorCode(err)
	return strings.HasSuffix(code, ".NotFound") || code == "NotFound"
}
