package nixopsimport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/nixopsimport"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
)

func TestParseRefusesOtherSchemas(t *testing.T) {
	tests := []struct{ name, export, want string }{
		{"not an object", `[1]`, "not the output of nixops export"},
		{"deployment is a list", `{"u": []}`, "field u: got a list, want an object of deployment attributes"},
		{"number attribute", `{"u": {"name": "x", "schemaVersion": 3}}`, "field u.schemaVersion: got a number"},
		{"resources list", `{"u": {"resources": []}}`, "field u.resources: got a list, want an object of resources"},
		{"resource without type", `{"u": {"resources": {"web": {"targetHost": "h"}}}}`, "field u.resources.web.type is missing"},
		{"nested attribute", `{"u": {"resources": {"web": {"type": "none", "keys": {"a": 1}}}}}`, "field u.resources.web.keys: got an object"},
		{"empty", `{}`, "no deployment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := nixopsimport.Parse([]byte(tt.export))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestImport(t *testing.T) {
	exp, err := nixopsimport.Parse([]byte(`{
  "u1": {"name": "prod", "resources": {
    "web": {"type": "none", "targetHost": "10.0.0.5", "targetPort": "2200", "ec2.publicHostKey": "ssh-ed25519 AAAA web\n", "toplevel": "/nix/store/x-nixos-system-web", "generation": "7"},
    "old": {"type": "none", "obsolete": "1"},
    "bare": {"type": "none"},
    "vm": {"type": "gce", "gce.privateKey": "SECRET", "gce.region": "europe-west1"}
  }},
  "u2": {"name": "test", "resources": {}}
}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exp.Select(""); err == nil || !strings.Contains(err.Error(), "prod, test") {
		t.Fatalf("want a choice among prod and test, got %v", err)
	}
	d, err := exp.Select("prod")
	if err != nil {
		t.Fatal(err)
	}
	st := &state.State{Deployment: "prod", Resources: map[string]*state.Resource{}}
	out, rep, err := nixopsimport.Import(st, d)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*state.Machine{
		"machine.web":  {Target: "root@10.0.0.5:2200", HostKey: "ssh-ed25519 AAAA web", Path: "/nix/store/x-nixos-system-web", Generation: 7},
		"machine.bare": {Target: "root@bare:22"},
	}
	if diff := cmp.Diff(want, out.Machines); diff != "" {
		t.Errorf("machines (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]*state.Recorded{"nixops.gce.vm": {Type: "nixops gce",
		Why:   "a NixOps gce machine; ferry deploys it once declared with a ferry target (see its targetHost and toplevel here)",
		Attrs: map[string]string{"gce.region": "europe-west1"}}}, out.Recorded); diff != "" {
		t.Errorf("recorded (-want +got):\n%s", diff)
	}
	if len(rep.Skipped) != 1 || !strings.HasPrefix(rep.Skipped[0], "old (none): obsolete") {
		t.Errorf("skipped: %v", rep.Skipped)
	}
	if len(st.Machines) != 0 {
		t.Error("Import changed its argument")
	}
	bad := *d
	bad.Resources = map[string]*nixopsimport.Resource{"x": {Name: "x", Type: "none", Attrs: map[string]string{"targetPort": "ssh"}}}
	if _, _, err := nixopsimport.Import(st, &bad); err == nil || !strings.Contains(err.Error(), `field u1.resources.x.targetPort: "ssh" is not a port number`) {
		t.Errorf("bad port: %v", err)
	}
}

// export writes a NixOps export of n "none" machines and n/10 EC2 ones.
func export(n int) []byte {
	res := map[string]map[string]string{}
	for i := range n {
		res[fmt.Sprintf("web%03d", i)] = map[string]string{"type": "none", "state": "1", "index": fmt.Sprint(i),
			"targetHost": fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), "publicHostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + fmt.Sprint(i),
			"toplevel": fmt.Sprintf("/nix/store/%032d-nixos-system-web%03d", i, i), "keys": `{"secret": {"text": "x"}}`}
		if i%10 == 0 {
			res[fmt.Sprintf("db%03d", i)] = map[string]string{"type": "ec2", "ec2.region": "eu-west-1", "ec2.instanceId": fmt.Sprintf("i-%08d", i)}
		}
	}
	data, _ := json.Marshal(map[string]any{"4f2c6d1e-0000-0000-0000-000000000001": map[string]any{"name": "fleet", "nixExprs": `["network.nix"]`, "resources": res}})
	return data
}

// BenchmarkImport100: issue 12's target, a 100-machine export imported into
// file:// state through the engine (lock, read, write) in at most 1 s.
func BenchmarkImport100(b *testing.B) {
	data := export(100)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		store, err := statestore.Open(ctx, "file://"+filepath.ToSlash(filepath.Join(b.TempDir(), ".ferry")))
		if err != nil {
			b.Fatal(err)
		}
		eng := &engine.Engine{Store: store, Version: "bench"}
		b.StartTimer()
		exp, err := nixopsimport.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		d, err := exp.Select("")
		if err != nil {
			b.Fatal(err)
		}
		st, err := eng.ModifyState(ctx, "fleet", "import-nixops", 0, func(st *state.State) (*state.State, error) {
			out, _, err := nixopsimport.Import(st, d)
			return out, err
		})
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Machines) != 100 || len(st.Recorded) != 10 {
			b.Fatalf("imported %d machines, %d recorded", len(st.Machines), len(st.Recorded))
		}
		b.StopTimer()
		_ = store.Close()
		b.StartTimer()
	}
}
