package lang

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// transferBuiltins provides nix_cache(url = None, substituter = None,
// public_key, secret_key = None): a fleet binary cache for
// machine(transfer = ...) and defaults(transfer = ...). The deployer
// uploads each closure once into url (signed with secret_key), and every
// host substitutes from substituter, trusting public_key for that command
// only. Without url and secret_key the cache is filled by someone else
// (CI) and hosts only read it.
func transferBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"nix_cache": starlark.NewBuiltin("nix_cache", declareNixCache)}, nil
}

var nixCacheParams = []param{
	{name: "url", doc: `Where ferry uploads the closures: a bucket URL, "s3://bucket?region=...&endpoint=...", "gs://bucket" or "file:///path". Leave it out when someone else fills the cache.`},
	{name: "substituter", doc: `Where the hosts read the cache (Nix's substituters), e.g. "https://bucket.s3.amazonaws.com"; for a file:// url, the url itself when left out.`},
	{name: "public_key", required: true, doc: `The cache's public key, "name:base64" (nix-store --generate-binary-cache-key); hosts trust it for the substitution only.`},
	{name: "secret_key", doc: `The signing key matching public_key, "name:base64", usually from var() (FERRY_VAR_...): never written to a plan, the state or a log. Needed with url.`},
}

var nixCacheDoc = builtinDoc{name: "nix_cache", params: nixCacheParams, returns: "a transfer strategy for machine(transfer = ...) and defaults(transfer = ...)",
	summary: "A fleet binary cache: the deployer uploads each closure once (signed, zstd-compressed, only what the cache lacks) and every host substitutes from it; a host that cannot reach it gets the rest pushed over SSH."}

// transferParam documents transfer on machine() and defaults().
var transferParam = param{name: "transfer", def: `"push"`,
	doc: `How the closure reaches the host: "push" (over ferry's SSH connection), "substitute" (the host fetches what it can from its own substituters, ferry pushes the rest) or nix_cache(...) (a fleet binary cache). On machine(), it overrides defaults(transfer = ...).`}

func declareNixCache(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "nix_cache"}
	a := unpack(p, nixCacheParams, args, kwargs)
	t := &spec.Transfer{Mode: spec.TransferCache, Pos: r.callerPos(thread, 1)}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"url", &t.URL}, {"substituter", &t.Substituter}, {"public_key", &t.PublicKey}, {"secret_key", &t.SecretKey}} {
		v, ok := a[f.name]
		if !ok {
			continue
		}
		s, err := wantString(v)
		if err != nil {
			if f.name == "secret_key" {
				err = &convertError{msg: "want the key as a string, e.g. from var()"} // never echo a secret
			}
			p.addArg(f.name, err)
			continue
		}
		*f.dst = strings.TrimSpace(s)
	}
	if t.URL != "" && !strings.Contains(t.URL, "://") {
		p.add(`url %q is not a bucket URL: want "s3://bucket?region=...", "gs://bucket" or "file:///path"`, t.URL)
	}
	if t.Substituter == "" && strings.HasPrefix(t.URL, "file://") {
		t.Substituter = strings.SplitN(t.URL, "?", 2)[0]
	}
	if _, ok := a["substituter"]; !ok && t.Substituter == "" && p.empty() {
		p.add(`missing argument "substituter": where the hosts read the cache, e.g. "https://cache.example.com"`)
	}
	if t.Substituter != "" && !strings.Contains(t.Substituter, "://") {
		p.add(`substituter %q is not a URL Nix reads, such as "https://cache.example.com"`, t.Substituter)
	}
	if t.PublicKey != "" && !strings.Contains(t.PublicKey, ":") {
		p.add(`public_key %q: want "name:base64", as nix-store --generate-binary-cache-key writes it`, t.PublicKey)
	}
	_, secretGiven := a["secret_key"]
	switch {
	case t.URL != "" && !secretGiven:
		p.add("url is set but secret_key is not: ferry signs what it uploads; pass secret_key (e.g. var(\"cache_secret_key\")), or leave url out if someone else fills the cache")
	case t.URL == "" && t.SecretKey != "":
		p.add("secret_key is set but url is not: pass the bucket URL ferry uploads to")
	}
	if err := p.report(r, thread); err != nil {
		return nil, err
	}
	return &transferValue{t: t}, nil
}

// transferArg reads transfer = "push" | "substitute" | nix_cache(...).
func transferArg(p *callProblems, a map[string]starlark.Value, pos spec.Pos) *spec.Transfer {
	v, ok := a["transfer"]
	if !ok {
		return nil
	}
	switch v := v.(type) {
	case starlark.String:
		switch s := string(v); s {
		case spec.TransferPush, spec.TransferSubstitute:
			return &spec.Transfer{Mode: s, Pos: pos}
		default:
			p.add(`transfer %q: want "push", "substitute" or nix_cache(...)`, s)
		}
	case *transferValue:
		return v.t
	default:
		p.add(`argument "transfer": got %s, want "push", "substitute" or nix_cache(...)`, v.Type())
	}
	return nil
}

// transferValue is what nix_cache() returns. It shows the cache's URLs,
// never its secret key.
type transferValue struct{ t *spec.Transfer }

func (v *transferValue) String() string {
	return fmt.Sprintf("<nix_cache %s>", v.t.Substituter)
}
func (v *transferValue) Type() string          { return "nix_cache" }
func (v *transferValue) Freeze()               {}
func (v *transferValue) Truth() starlark.Bool  { return starlark.True }
func (v *transferValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: nix_cache") }
