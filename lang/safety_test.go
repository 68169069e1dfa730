package lang

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
)

func TestLoadKeysChecksRollout(t *testing.T) {
	main := `t = ssh(host = "10.0.0.2")
secret = var("db_password")
db = key("db-password", text = secret, user = "postgres", group = "postgres", permissions = "0640")
tls = key("tls.pem", file = "secrets/tls.pem", dest_dir = "/var/lib/keys", upload_at = "post-activation")
token = key("token", command = ["pass", "show", "token"])
sh = key("sh", command = "echo hi")
web = machine("web", t,
    keys = [db, tls, token, sh],
    checks = [cmd_check("systemctl is-active nginx", retries = 0), http_check("http://10.0.0.2/health", status = 204, timeout = "5s", interval = "1s")],
    confirm_timeout = "45s",
    rollback_on_failure = True,
)
machine("db", t, magic_rollback = False)
rollout(batch = "25%", max_failures = 1, pause = "10s", tags = ["web"])
output("db_key", db.path)
`
	dir := writeFiles(t, map[string]string{"ferry.star": main})
	opts := Options{Dir: dir, Schemas: testSchemas(), Vars: map[string]string{"db_password": "hunter2"}}
	cfg, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	pos := func(line, col int) spec.Pos { return spec.Pos{File: "ferry.star", Line: line, Col: col} }
	keys := []*spec.Key{
		{Name: "db-password", Text: "hunter2", DestDir: "/run/keys", User: "postgres", Group: "postgres", Permissions: "0640", UploadAt: "pre-activation", Pos: pos(3, 6)},
		{Name: "tls.pem", File: filepath.Join(dir, "secrets", "tls.pem"), DestDir: "/var/lib/keys", User: "root", Group: "root", Permissions: "0600", UploadAt: "post-activation", Pos: pos(4, 7)},
		{Name: "token", Command: []string{"pass", "show", "token"}, DestDir: "/run/keys", User: "root", Group: "root", Permissions: "0600", UploadAt: "pre-activation", Pos: pos(5, 9)},
		{Name: "sh", Command: []string{"sh", "-c", "echo hi"}, DestDir: "/run/keys", User: "root", Group: "root", Permissions: "0600", UploadAt: "pre-activation", Pos: pos(6, 6)},
	}
	web := cfg.MachineByName("web")
	if diff := cmp.Diff(keys, web.Keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	checks := []*spec.Check{
		{Kind: "cmd", Cmd: "systemctl is-active nginx", Timeout: 30 * time.Second, Retries: 0, Interval: 2 * time.Second, Pos: pos(9, 15)},
		{Kind: "http", URL: "http://10.0.0.2/health", Status: 204, Timeout: 5 * time.Second, Retries: 3, Interval: time.Second, Pos: pos(9, 68)},
	}
	if diff := cmp.Diff(checks, web.Checks); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
	if !web.MagicRollback || web.ConfirmTimeout != 45*time.Second || !web.RollbackOnFailure {
		t.Errorf("web: magic_rollback %v, confirm_timeout %s, rollback_on_failure %v", web.MagicRollback, web.ConfirmTimeout, web.RollbackOnFailure)
	}
	if db := cfg.MachineByName("db"); db.MagicRollback || db.RollbackOnFailure {
		t.Errorf("db: magic_rollback %v, rollback_on_failure %v, want both false", db.MagicRollback, db.RollbackOnFailure)
	}
	want := &spec.Rollout{BatchPercent: 25, MaxFailures: 1, Pause: 10 * time.Second, Tags: []string{"web"}, Pos: pos(14, 1)}
	if diff := cmp.Diff(want, cfg.Rollout); diff != "" {
		t.Errorf("rollout (-want +got):\n%s", diff)
	}
	if len(cfg.Outputs) != 1 || cfg.Outputs[0].Value != "/run/keys/db-password" {
		t.Errorf("output db_key = %v, want the key's path", cfg.Outputs[0].Value)
	}
	// The secret is only in the spec, never in the recorded inputs: vars
	// are digested by the engine as hashes.
}
