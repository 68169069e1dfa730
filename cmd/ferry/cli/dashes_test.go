package cli

import (
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/google/go-cmp/cmp"
)

func TestLongSingleDash(t *testing.T) {
	var root CLI
	p, err := kong.New(&root, append(parserOptions(), kong.Exit(func(int) { t.Fatal("kong exited") }))...)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{"plan -out=p.json", "plan --out=p.json"},
		{"plan -out p.json -var a=b -var-file=f.json", "plan --out p.json --var a=b --var-file=f.json"},
		{"apply -auto-approve -target=x -replace=y -parallelism=3", "apply --auto-approve --target=x --replace=y --parallelism=3"},
		{"plan -destroy -refresh=false", "plan --destroy --refresh=false"},
		{"-chdir=dir plan", "--chdir=dir plan"},
		{"-Cdir -fx.star -dprod plan -o p.json", "-Cdir -fx.star -dprod plan -o p.json"},
		{"exec -on web -- ls -out=x", "exec --on web -- ls -out=x"},
		{"ssh web ls -out=x", "ssh web ls -out=x"},
		{"plan --out=-var", "plan --out=-var"},
	}
	for _, tt := range tests {
		got := strings.Join(longSingleDash(p.Model, strings.Fields(tt.in)), " ")
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.in, diff)
		}
	}
}
