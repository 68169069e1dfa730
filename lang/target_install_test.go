package lang

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
)

// TestInstallTarget: install(ssh(...)) gives the machine a target of kind
// "install" reached as the ssh(...) says, with the install settings; bad
// arguments are errors naming what to write.
func TestInstallTarget(t *testing.T) {
	main := `machine("web", install(ssh(host = "10.0.0.5")), modules = [])
machine("db", install(ssh(host = "10.0.0.6", port = 2222), kexec = "never", kexec_image = "/srv/kexec.tar.gz", phases = ["install", "reboot"], min_memory = "512MiB", installed_host_key = "./keys/db_ed25519"), modules = [])
`
	dir := writeFiles(t, map[string]string{"ferry.star": main})
	cfg, err := Load(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	web, db := cfg.MachineByName("web"), cfg.MachineByName("db")
	if web.Target.Kind != KindInstall || web.Target.Host != "10.0.0.5" || web.Target.Port != 22 || web.Target.User != "root" {
		t.Errorf("web target %+v", web.Target)
	}
	if diff := cmp.Diff(&spec.Install{Kexec: "auto", Phases: spec.InstallPhases, MinMemory: 3 << 29}, web.Target.Install); diff != "" {
		t.Errorf("web install (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&spec.Install{Kexec: "never", KexecImage: "/srv/kexec.tar.gz", Phases: []string{"install", "reboot"}, MinMemory: 512 << 20, HostKeyFile: "./keys/db_ed25519"}, db.Target.Install); diff != "" {
		t.Errorf("db install (-want +got):\n%s", diff)
	}

	for _, tc := range []struct{ call, want string }{
		{`install("web")`, `want ssh(...)`},
		{`install(ssh(host = "h"), kexec = "maybe")`, `want "auto", "always" or "never"`},
		{`install(ssh(host = "h"), phases = ["disko", "kexec"])`, `"kexec" is repeated or out of order`},
		{`install(ssh(host = "h"), phases = ["format"])`, `unknown phase "format"`},
		{`install(ssh(host = "h"), min_memory = "lots")`, `min_memory "lots": not a size`},
		{`install(ssh(host = "h"), installed_host_key = "")`, `installed_host_key is empty`},
	} {
		dir := writeFiles(t, map[string]string{"ferry.star": `machine("m", ` + tc.call + `, modules = [])` + "\n"})
		_, err := Load(context.Background(), Options{Dir: dir})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "ferry.star:1:") {
			t.Errorf("%s: error %v, want ferry.star:1:... %s", tc.call, err, tc.want)
		}
	}
}
