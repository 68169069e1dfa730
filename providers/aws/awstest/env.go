package awstest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DefaultRegion is the region tests use unless they need another.
const DefaultRegion = "eu-west-1"

// Account is the account ID moto gives every resource.
const Account = "123456789012"

// Test credentials: moto accepts any.
const (
	AccessKeyID     = "testing"
	SecretAccessKey = "testing"
)

// bed is the test process's one moto server, and the lock that keeps tests
// that use it apart.
var bed struct {
	mu       sync.Mutex
	main     bool    // Main is running the tests
	server   *Server // started by the first New
	startErr error   // a start that failed, repeated to later tests
	dir      string  // logs and the empty AWS config files
	busy     chan struct{}
}

func init() { bed.busy = make(chan struct{}, 1) }

// Main runs the package's tests (call it from TestMain) and then stops the
// moto server the tests started, if any.
func Main(m *testing.M) int {
	bed.mu.Lock()
	bed.main = true
	bed.mu.Unlock()
	code := m.Run()
	if err := stopServer(); err != nil {
		fmt.Fprintln(os.Stderr, "awstest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func stopServer() error {
	bed.mu.Lock()
	defer bed.mu.Unlock()
	var err error
	if bed.server != nil {
		err = bed.server.Stop()
		bed.server = nil
	}
	if bed.dir != "" {
		_ = os.RemoveAll(bed.dir)
		bed.dir = ""
	}
	return err
}

// server starts moto on first use.
func server(ctx context.Context) (*Server, string, error) {
	bed.mu.Lock()
	defer bed.mu.Unlock()
	if bed.startErr != nil {
		return nil, "", bed.startErr
	}
	if bed.server != nil {
		if bed.server.Exited() {
			return nil, "", fmt.Errorf("moto_server (pid %d) has exited:\n%s", bed.server.PID, bed.server.LogTail())
		}
		return bed.server, bed.dir, nil
	}
	dir, err := os.MkdirTemp("", "ferry-moto-")
	if err == nil {
		err = writeEmptyConfig(dir)
	}
	if err != nil {
		bed.startErr = fmt.Errorf("moto test bed: %w", err)
		return nil, "", bed.startErr
	}
	bed.dir = dir
	s, err := StartServer(ctx, dir)
	if err != nil {
		bed.startErr = err
		return nil, "", err
	}
	bed.server = s
	return s, dir, nil
}

func writeEmptyConfig(dir string) error {
	for _, name := range []string{"aws-config", "aws-credentials"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Env is the test bed as one test sees it: moto, reset for the test, and
// the loopback networks the test made in it.
type Env struct {
	URL     string // moto's endpoint, http://127.0.0.1:PORT
	Region  string // DefaultRegion
	Account string

	server *Server
	env    map[string]string
	guard  *Guard

	mu      sync.Mutex
	vpcs    map[string]*loopbackVPC // by region
	watcher *Watcher                // started by Watch
	leases  []func()                // release the VPCs' networks
}

// New returns the test bed for t: moto started on first use and reset, and
// test credentials in the environment (so t cannot be parallel with tests
// that change the environment). It holds the bed until t ends: other tests
// that call New wait. A missing moto fails t with the command that
// installs it.
func New(t testing.TB) *Env {
	t.Helper()
	bed.mu.Lock()
	inMain := bed.main
	bed.mu.Unlock()
	if !inMain {
		t.Fatal("awstest.New: the package's tests must run through awstest.Main, which stops moto after them: add func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }")
	}
	select {
	case bed.busy <- struct{}{}:
	case <-t.Context().Done():
		t.Fatal("awstest.New: the test ended while waiting for the test bed")
	}
	t.Cleanup(func() { <-bed.busy })

	s, dir, err := server(t.Context())
	if err != nil {
		t.Fatalf("moto test bed: %v", err)
	}
	if err := s.Reset(t.Context()); err != nil {
		t.Fatalf("moto test bed: %v\n%s", err, s.LogTail())
	}
	e := &Env{
		URL:     s.URL,
		Region:  DefaultRegion,
		Account: Account,
		server:  s,
		guard:   &Guard{},
		vpcs:    map[string]*loopbackVPC{},
		env: map[string]string{
			"AWS_ACCESS_KEY_ID":           AccessKeyID,
			"AWS_SECRET_ACCESS_KEY":       SecretAccessKey,
			"AWS_SESSION_TOKEN":           "",
			"AWS_PROFILE":                 "",
			"AWS_DEFAULT_PROFILE":         "",
			"AWS_REGION":                  "",
			"AWS_DEFAULT_REGION":          "",
			"AWS_ENDPOINT_URL":            "",
			"AWS_CONFIG_FILE":             filepath.Join(dir, "aws-config"),
			"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws-credentials"),
			"AWS_EC2_METADATA_DISABLED":   "true",
		},
	}
	for k, v := range e.env {
		t.Setenv(k, v)
	}
	t.Cleanup(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, release := range e.leases {
			release()
		}
		e.leases = nil
	})
	return e
}

// Environ returns the environment settings New made, plus the guard's
// networks (GuardEnv), as KEY=VALUE lines for a ferry subprocess.
func (e *Env) Environ() []string {
	out := make([]string, 0, len(e.env)+1)
	for k, v := range e.env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return append(out, GuardEnv+"="+e.guard.String())
}

// Server is the moto process, for its log.
func (e *Env) Server() *Server { return e.server }

// Config returns an SDK configuration for region pointed at moto, with
// the test credentials.
func (e *Env) Config(region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(e.URL),
	}
}

// EC2 returns an EC2 client of region on moto.
func (e *Env) EC2(region string) *ec2.Client { return ec2.NewFromConfig(e.Config(region)) }

// S3 returns an S3 client of region on moto, with path-style addresses
// (http://127.0.0.1:PORT/BUCKET/KEY): moto cannot serve bucket host names.
func (e *Env) S3(region string) *s3.Client {
	return s3.NewFromConfig(e.Config(region), func(o *s3.Options) { o.UsePathStyle = true })
}

// Guard returns the dial guard of this test: it allows the subnets made
// by Subnet, now and later, and nothing else until told.
func (e *Env) Guard() *Guard { return e.guard }
