package lang

import (
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// keyBuiltins provides key(name, text = | file = | command = , dest_dir =
// "/run/keys", user = "root", group = "root", permissions = "0600",
// upload_at = "pre-activation"): a secret for machine(keys = [...]), with
// the semantics of NixOps' deployment.keys.
//
// file is relative to the calling .star file, "//"-rooted at the
// configuration directory, or absolute; unlike modules it may lie outside
// the configuration directory (secrets rarely live beside the code), and
// lang neither reads nor digests it: the engine reads it when it plans, so
// that a missing key fails the plan before anything is touched. command is
// a list of strings (argv) or a string run with sh -c, on the deployer at
// apply time.
func keyBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"key": starlark.NewBuiltin("key", declareKey)}, nil
}

var keyParams = []param{
	{name: "name", required: true, doc: "The key's file name in dest_dir."},
	{name: "text", doc: "The secret itself, usually from var() (FERRY_VAR_...). Exactly one of text, file and command."},
	{name: "file", doc: `A file holding the secret, relative to the calling .star file, "//"-rooted or absolute; it may lie outside the configuration directory. Read at plan time (a missing file fails the plan) and checked again at apply.`},
	{name: "command", doc: "A command printing the secret (a list of strings, or a string run with sh -c), run on the deployer at apply time."},
	{name: "dest_dir", def: `"/run/keys"`, doc: "The folder on the host; keys in /run are uploaded again after a reboot."},
	{name: "user", def: `"root"`, doc: "The key file's owner."},
	{name: "group", def: `"root"`, doc: "The key file's group."},
	{name: "permissions", def: `"0600"`, doc: "The key file's mode, in octal."},
	{name: "upload_at", def: `"pre-activation"`, doc: `When to upload it: "pre-activation" or "post-activation" (for a user or group the new system creates).`},
}

var keyDoc = builtinDoc{name: "key", params: keyParams, returns: "a key for machine(keys = [...])",
	summary: "A secret uploaded to a machine (NixOps deployment.keys): into a temporary file, chown, chmod, then renamed into place. The secret is never in a plan, the state, an event or an error: they hold a hash of destination and content."}

// Defaults of key().
const (
	defaultKeyDir         = "/run/keys"
	defaultKeyPermissions = "0600"
	keyPreActivation      = "pre-activation"
	keyPostActivation     = "post-activation"
)

func declareKey(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "key"}
	a := unpack(p, keyParams, args, kwargs)
	// A misspelt or missing argument is reported already: the count of
	// sources would only repeat it.
	badCall := !p.empty()
	k := &spec.Key{DestDir: defaultKeyDir, User: "root", Group: "root", Permissions: defaultKeyPermissions,
		UploadAt: keyPreActivation, Pos: r.callerPos(thread, 1)}
	str := func(name string, set func(string)) {
		if v, ok := a[name]; ok {
			if s, err := wantString(v); err != nil {
				p.addArg(name, err)
			} else {
				set(s)
			}
		}
	}
	str("name", func(s string) {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
			p.add("invalid name %q: it is the key's file name in dest_dir, so it may not be empty, \".\", \"..\" or contain \"/\"", s)
			return
		}
		k.Name = s
	})
	sources := 0
	if v, ok := a["text"]; ok {
		sources++
		// A secret usually comes from var() (FERRY_VAR_...), so the value
		// is read now; a reference to a resource is not known at plan time.
		if s, err := wantString(v); err != nil {
			p.addArg("text", err)
		} else {
			k.Text = s
		}
	}
	if _, ok := a["file"]; ok {
		sources++
	}
	str("file", func(s string) {
		switch {
		case s == "":
			p.add("file is empty: pass the path of the file holding the secret")
		case strings.HasPrefix(s, "//"):
			k.File = filepath.Join(r.opts.Dir, filepath.FromSlash(s[2:]))
		case filepath.IsAbs(s):
			k.File = filepath.Clean(s)
		default:
			k.File = filepath.Join(r.opts.Dir, filepath.FromSlash(path.Dir(k.Pos.File)), filepath.FromSlash(s))
		}
	})
	if v, ok := a["command"]; ok {
		sources++
		switch c := v.(type) {
		case starlark.String:
			if strings.TrimSpace(string(c)) == "" {
				p.add("command is empty: pass a command whose output is the secret")
			} else {
				k.Command = []string{"sh", "-c", string(c)}
			}
		default:
			if argv, err := wantStrings(v); err != nil {
				p.add("argument \"command\": want a string (run with sh -c) or a list of strings (argv)%s", withPath(err))
			} else if len(argv) == 0 || argv[0] == "" {
				p.add("command is empty: pass a command whose output is the secret")
			} else {
				k.Command = argv
			}
		}
	}
	if sources != 1 && !badCall {
		p.add("pass exactly one of text, file and command (got %d)", sources)
	}
	str("dest_dir", func(s string) {
		if !path.IsAbs(s) {
			p.add("dest_dir %q is not an absolute path on the host, such as \"/run/keys\"", s)
			return
		}
		k.DestDir = path.Clean(s)
	})
	str("user", func(s string) {
		if msg := checkOwner("user", s); msg != "" {
			p.add("%s", msg)
			return
		}
		k.User = s
	})
	str("group", func(s string) {
		if msg := checkOwner("group", s); msg != "" {
			p.add("%s", msg)
			return
		}
		k.Group = s
	})
	str("permissions", func(s string) {
		if n, err := strconv.ParseUint(s, 8, 32); err != nil || n > 0o7777 || len(s) < 3 {
			p.add("permissions %q is not an octal mode such as \"0600\" or \"0640\"", s)
			return
		}
		k.Permissions = s
	})
	str("upload_at", func(s string) {
		if s != keyPreActivation && s != keyPostActivation {
			p.add("upload_at %q: want %q or %q", s, keyPreActivation, keyPostActivation)
			return
		}
		k.UploadAt = s
	})
	if err := p.report(r, thread); err != nil {
		return nil, err
	}
	return &keyValue{k: k, bad: !p.empty()}, nil
}

// checkOwner explains what is wrong with a user or group name of a key.
func checkOwner(what, name string) string {
	if name == "" || strings.ContainsAny(name, " \t\r\n:/\x00") || strings.HasPrefix(name, "-") {
		return fmt.Sprintf("invalid %s %q: pass a %s name on the host, such as \"root\"", what, name, what)
	}
	return ""
}

// keyValue is what key() returns: k.name and k.path (where it lands on
// the host) are readable; the secret is not.
type keyValue struct {
	k   *spec.Key
	bad bool // reported already
}

var _ starlark.HasAttrs = (*keyValue)(nil)

func (v *keyValue) String() string        { return fmt.Sprintf("<key %s>", v.k.Name) }
func (v *keyValue) Type() string          { return "key" }
func (v *keyValue) Freeze()               {}
func (v *keyValue) Truth() starlark.Bool  { return starlark.True }
func (v *keyValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: key") }

func (v *keyValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(v.k.Name), nil
	case "path":
		return starlark.String(path.Join(v.k.DestDir, v.k.Name)), nil
	}
	return nil, fmt.Errorf("key %s has no attribute %q; valid attributes: name, path", v.k.Name, name)
}

func (v *keyValue) AttrNames() []string { return []string{"name", "path"} }

func (v *keyValue) passedItself() string {
	return fmt.Sprintf("got the key %s itself; pass it in machine(keys = [...]), or its path (.path) where a string is wanted", v.k.Name)
}
