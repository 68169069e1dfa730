package examples

import (
	"os"
	"testing"

	"github.com/nixferry/ferry/providers/aws/awstest"
)

// TestMain stops the moto server that the examples on AWS are planned
// against.
func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }
