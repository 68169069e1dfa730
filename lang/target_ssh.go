package lang

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/engine/spec"
)

// sshBuiltins provides ssh(host, port = 22, user = "root", host_key =
// None, jump = None, sudo = False): the target of a machine that already
// runs NixOS and is reached over SSH (NixOps targetEnv "none"). host,
// port, user and host_key may be known only after apply (a reference
// such as web.public_ip, or a format() value): they are recorded as
// written in spec.Target.Refs, their plain fields left zero, and checked
// when they resolve.
func sshBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"ssh": starlark.NewBuiltin("ssh", sshTarget)}, nil
}

var sshParams = []param{
	{name: "host", required: true, doc: "The host name or address; may be known only after apply (a reference, a format() value)."},
	{name: "port", def: "22", doc: "The SSH port; may be known only after apply."},
	{name: "user", def: `"root"`, doc: "The login user; may be known only after apply."},
	{name: "host_key", doc: `The host's public key ("ssh-ed25519 AAAA..."), pinned; without it, the key is trusted on first use and pinned in state.`},
	{name: "jump", doc: "Another ssh(...) to connect through."},
	{name: "sudo", def: "False", doc: "Log in as user and run what needs root with sudo."},
}

var sshDoc = builtinDoc{name: "ssh", params: sshParams, returns: "a target for machine(target = ...)",
	summary: "The target of a machine that already runs NixOS and is reached over SSH (NixOps targetEnv \"none\")."}

// Defaults of ssh().
const (
	defaultSSHPort = 22
	defaultSSHUser = "root"
)

// hostKeyTypes are the key types a host_key may have, as the first word
// of an authorized_keys line.
var hostKeyTypes = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256,
	ssh.KeyAlgoECDSA384,
	ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSA,
	ssh.KeyAlgoSKED25519,
	ssh.KeyAlgoSKECDSA256,
}

// hostKeyForm is what a host_key looks like, for messages.
const hostKeyForm = `write it as an authorized_keys line such as "ssh-ed25519 AAAA..." ` +
	`(types ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa), ` +
	`for example the content of the host's /etc/ssh/ssh_host_ed25519_key.pub`

func sshTarget(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "ssh"}
	a := unpack(p, sshParams, args, kwargs)
	t := &targetValue{t: spec.Target{
		Kind: "ssh",
		Port: defaultSSHPort,
		User: defaultSSHUser,
		Pos:  r.callerPos(thread, 1),
	}}
	// deferred records argument name when v is known only after apply,
	// and reports whether it is.
	deferred := func(name string, want spec.Kind, v starlark.Value) bool {
		var x any
		switch v := v.(type) {
		case *reference:
			x = v.ref
		case *formatValue:
			x = spec.Clone(v.f)
		default:
			return false
		}
		if msg := checkKind(want, v); msg != "" {
			p.add("argument %q: %s", name, msg)
			return true
		}
		t.deferArg(name, v, x)
		return true
	}
	if v, ok := a["host"]; ok && !deferred("host", spec.KindString, v) {
		if host, err := wantString(v); err != nil {
			p.addArg("host", err)
		} else if msg := checkHost(host); msg != "" {
			p.add("%s", msg)
		} else {
			t.t.Host = host
		}
	}
	if v, ok := a["port"]; ok && !deferred("port", spec.KindNumber, v) {
		if port, err := wantInt(v); err != nil {
			p.addArg("port", err)
		} else if port < 1 || port > 65535 {
			p.add("port %d is out of range: use 1 to 65535", port)
		} else {
			t.t.Port = int(port)
		}
	}
	if v, ok := a["user"]; ok && !deferred("user", spec.KindString, v) {
		if user, err := wantString(v); err != nil {
			p.addArg("user", err)
		} else if msg := checkUser(user); msg != "" {
			p.add("%s", msg)
		} else {
			t.t.User = user
		}
	}
	if v, ok := a["host_key"]; ok && !deferred("host_key", spec.KindString, v) {
		if key, err := wantString(v); err != nil {
			p.addArg("host_key", err)
		} else if norm, msg := checkHostKey(key); msg != "" {
			p.add("%s", msg)
		} else {
			t.t.HostKey = norm
		}
	}
	if v, ok := a["jump"]; ok {
		switch j := v.(type) {
		case *targetValue:
			t.jump = j
			jump := j.spec()
			t.t.Jump = &jump
		case *machineValue:
			p.add("argument \"jump\": got the machine %s; pass its target: %s.target", j.addr, j.name)
		default:
			p.add("argument \"jump\": got %s, want another ssh() target", v.Type())
		}
	}
	if v, ok := a["sudo"]; ok {
		if sudo, err := wantBool(v); err != nil {
			p.addArg("sudo", err)
		} else {
			t.t.Sudo = sudo
		}
	}
	for _, name := range []string{"port", "user"} {
		if _, given := a[name]; !given {
			t.t.Defaults = append(t.t.Defaults, name)
		}
	}
	// The target is returned even with problems (they are reported), so
	// that machine(target = ssh(...)) does not add errors of its own.
	if err := p.report(r, thread); err != nil {
		return nil, err
	}
	return t, nil
}

// checkHost explains what is wrong with a host name or address; "" when
// nothing is.
func checkHost(host string) string {
	switch {
	case host == "":
		return "host is empty: pass the machine's address or DNS name"
	case strings.ContainsAny(host, " \t\r\n"):
		return fmt.Sprintf("invalid host %q: it contains white space", host)
	case strings.HasPrefix(host, "-"):
		return fmt.Sprintf("invalid host %q: it cannot start with \"-\"", host)
	case strings.Contains(host, "@"):
		user, _, _ := strings.Cut(host, "@")
		return fmt.Sprintf("invalid host %q: pass the user separately, as user = %q", host, user)
	case strings.HasPrefix(host, "["):
		return fmt.Sprintf("invalid host %q: write an IPv6 address without brackets, and the port as port = ...", host)
	case strings.Count(host, ":") == 1:
		// One colon is host:port; IPv6 addresses have at least two.
		name, port, _ := strings.Cut(host, ":")
		if _, err := strconv.Atoi(port); err == nil {
			return fmt.Sprintf("invalid host %q: pass the port separately, as host = %q, port = %s", host, name, port)
		}
		return fmt.Sprintf("invalid host %q: a host name cannot contain \":\"", host)
	}
	return ""
}

// checkUser explains what is wrong with a user name; "" when nothing is.
func checkUser(user string) string {
	switch {
	case user == "":
		return fmt.Sprintf("user is empty: pass a user name, or leave user out for %q", defaultSSHUser)
	case strings.ContainsAny(user, " \t\r\n@:/"), strings.HasPrefix(user, "-"):
		return fmt.Sprintf("invalid user %q: pass a user name only", user)
	}
	return ""
}

// checkHostKey checks that key is a public key in authorized_keys form
// ("TYPE BASE64 [COMMENT]") and returns it as "TYPE BASE64": the comment
// says nothing about the key, and dropping it lets keys compare equal.
func checkHostKey(key string) (string, string) {
	fields := strings.Fields(key)
	shown := key
	if len(shown) > 40 {
		shown = shown[:37] + "..."
	}
	bad := func(why string) (string, string) {
		return "", fmt.Sprintf("host_key %q %s: %s", shown, why, hostKeyForm)
	}
	if len(fields) == 0 {
		return "", "host_key is empty: " + hostKeyForm + "; or leave host_key out to pin the key on first use"
	}
	if !isHostKeyType(fields[0]) {
		if len(fields) >= 3 && isHostKeyType(fields[1]) {
			return "", fmt.Sprintf("host_key %q starts with the host %q, as in known_hosts: drop it and write %q", shown, fields[0], fields[1]+" "+abbrev(fields[2]))
		}
		return bad(fmt.Sprintf("has unknown key type %q", abbrev(fields[0])))
	}
	if len(fields) < 2 {
		return bad("has no key data after the type")
	}
	data, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return bad("has key data that is not base64")
	}
	pub, err := ssh.ParsePublicKey(data)
	if err != nil {
		return bad(fmt.Sprintf("is not a valid %s key", fields[0]))
	}
	if pub.Type() != fields[0] {
		return bad(fmt.Sprintf("says %s but holds a %s key", fields[0], pub.Type()))
	}
	return fields[0] + " " + fields[1], ""
}

func isHostKeyType(s string) bool {
	for _, t := range hostKeyTypes {
		if s == t {
			return true
		}
	}
	return false
}

// abbrev shortens a long word for a message.
func abbrev(s string) string {
	if len(s) > 12 {
		return s[:8] + "..."
	}
	return s
}

// targetValue is what ssh() returns: where and how a machine is reached.
// Its attributes are the values passed (plain values, or references and
// format() values for those known only after apply), so git.target.host
// can be passed to another machine's modules.
type targetValue struct {
	t    spec.Target
	jump *targetValue // nil without a jump host
	// deferred holds the arguments known only after apply as they were
	// passed, by name; t.Refs holds them in the value model.
	deferred map[string]starlark.Value
	// instance, for aws.ec2(...), is the instance each machine given this
	// target declares (target_ec2.go); machine(...) replaces the template
	// by the machine's own target.
	instance *instanceTemplate
}

var _ starlark.HasAttrs = (*targetValue)(nil)

// deferArg records argument name, known only after apply: v as passed, x
// in the value model. Its plain field is left zero.
func (t *targetValue) deferArg(name string, v starlark.Value, x any) {
	if t.deferred == nil {
		t.deferred = map[string]starlark.Value{}
		t.t.Refs = map[string]any{}
	}
	t.deferred[name] = v
	t.t.Refs[name] = x
	switch name {
	case "host":
		t.t.Host = ""
	case "port":
		t.t.Port = 0
	case "user":
		t.t.User = ""
	case "host_key":
		t.t.HostKey = ""
	}
}

// spec returns the target for one machine (or jump), sharing no maps
// with t or with other machines.
func (t *targetValue) spec() spec.Target {
	out := t.t
	out.Refs = spec.CloneMap(t.t.Refs)
	if t.t.Install != nil {
		in := *t.t.Install
		in.Phases = append([]string(nil), in.Phases...)
		out.Install = &in
	}
	if t.jump != nil {
		j := t.jump.spec()
		out.Jump = &j
	}
	return out
}

// show is how String writes argument name: what was passed when it is
// known only after apply, else plain.
func (t *targetValue) show(name, plain string) string {
	if x, ok := t.t.Refs[name]; ok {
		return spec.Render(x)
	}
	return plain
}

func (t *targetValue) String() string {
	if t.t.Kind == "aws.ec2" {
		if t.t.Resource != "" {
			return fmt.Sprintf("aws.ec2(%s)", t.t.Resource)
		}
		return "aws.ec2(...)"
	}
	if t.t.Install != nil {
		return fmt.Sprintf("install(ssh(host = %s, port = %s, user = %s), phases = %s)", t.show("host", strconv.Quote(t.t.Host)),
			t.show("port", strconv.Itoa(t.t.Port)), t.show("user", strconv.Quote(t.t.User)), quoteAll(t.t.Install.Phases))
	}
	s := fmt.Sprintf("ssh(host = %s, port = %s, user = %s", t.show("host", strconv.Quote(t.t.Host)),
		t.show("port", strconv.Itoa(t.t.Port)), t.show("user", strconv.Quote(t.t.User)))
	if t.jump != nil {
		s += ", jump = " + t.jump.String()
	}
	return s + ")"
}
func (t *targetValue) Type() string          { return "target" }
func (t *targetValue) Freeze()               {} // immutable
func (t *targetValue) Truth() starlark.Bool  { return starlark.True }
func (t *targetValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: target") }

var targetAttrs = []string{"host", "host_key", "jump", "port", "sudo", "user"}

// Attr returns t.host, t.port, t.user, t.host_key (None when not
// given), t.jump (None without a jump host) and t.sudo.
func (t *targetValue) Attr(name string) (starlark.Value, error) {
	if v, ok := t.deferred[name]; ok {
		return v, nil
	}
	switch name {
	case "host":
		return starlark.String(t.t.Host), nil
	case "port":
		return starlark.MakeInt(t.t.Port), nil
	case "user":
		return starlark.String(t.t.User), nil
	case "host_key":
		if t.t.HostKey == "" {
			return starlark.None, nil
		}
		return starlark.String(t.t.HostKey), nil
	case "jump":
		if t.jump == nil {
			return starlark.None, nil
		}
		return t.jump, nil
	case "sudo":
		return starlark.Bool(t.t.Sudo), nil
	}
	msg := fmt.Sprintf("target has no attribute %q", name)
	if s := spec.Nearest(name, targetAttrs); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, fmt.Errorf("%s; valid attributes: %s", msg, strings.Join(targetAttrs, ", "))
}

func (t *targetValue) AttrNames() []string { return targetAttrs }

// passedItself explains what to do when the target itself is passed
// where a value is expected.
func (t *targetValue) passedItself() string {
	return fmt.Sprintf("got the target %s itself; pass one of its attributes, such as its .host", t)
}
