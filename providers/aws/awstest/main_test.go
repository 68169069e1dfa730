package awstest_test

import (
	"os"
	"testing"

	"github.com/nixferry/ferry/providers/aws/awstest"
)

func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }
