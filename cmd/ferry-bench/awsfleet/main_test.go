package awsfleet

import (
	"os"
	"testing"

	"github.com/nixferry/ferry/providers/aws/awstest"
)

// TestMain runs one moto_server for the package's benchmarks, and stops it
// after them.
func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }
