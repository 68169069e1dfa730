package spec

import (
	"strings"
	"time"
)

// Config is the desired configuration of one deployment, as lang produces it
// from ferry.star: neutral data with positions, no Starlark left in it.
type Config struct {
	Deployment  string // from deployment(name=...), or "" when not declared
	Description string
	Dir         string      // absolute path of the configuration directory
	Resources   []*Resource // in declaration order
	Outputs     []*Output   // in declaration order
	Machines    []*Machine  // in declaration order
	// Nixpkgs is the nixpkgs path from nixpkgs(path=...), absolute; ""
	// means <nixpkgs> from NIX_PATH.
	Nixpkgs string
	// NixpkgsFlake, when set, is the flake input nixpkgs comes from
	// (nixpkgs(flake = "./", input = "nixpkgs")) instead of Nixpkgs.
	NixpkgsFlake *FlakeInput
	// Rollout is the rolling deployment policy from rollout(), or nil.
	Rollout *Rollout
	// Providers are the provider configurations declared with
	// NAME.provider(...), in declaration order. A provider that takes a
	// configuration and is used without one is configured with its
	// defaults.
	Providers []*ProviderConfig
	Inputs    Inputs
}

// ProviderConfig is one NAME.provider(...) declaration.
type ProviderConfig struct {
	Name  string         // the provider: "aws"
	Alias string         // "" for the default configuration
	Args  map[string]any // arguments with defaults applied; no references
	Pos   Pos
}

// Key names the configuration: "aws", or "aws.eu" for alias "eu". A
// resource's Provider holds it.
func (p *ProviderConfig) Key() string { return ProviderKey(p.Name, p.Alias) }

// ProviderKey is the key of provider name's configuration alias.
func ProviderKey(name, alias string) string {
	if alias == "" {
		return name
	}
	return name + "." + alias
}

// Lifecycle is a resource's lifecycle(...) settings, with OpenTofu's
// meaning.
type Lifecycle struct {
	// CreateBeforeDestroy: a replacement creates the new object before it
	// deletes the old one.
	CreateBeforeDestroy bool
	// PreventDestroy: a plan that would destroy (or replace) the resource
	// fails, naming it and its declaration.
	PreventDestroy bool
	// IgnoreChanges: attributes whose differences from the configuration
	// are not planned (changes made outside ferry stay).
	IgnoreChanges []string
}

// Timeouts bound a resource's operations; zero means the provider's own.
type Timeouts struct {
	Create, Update, Delete time.Duration
}

// Resource is one declared resource.
type Resource struct {
	Addr string         // "null.resource.a"
	Type string         // "null.resource"
	Name string         // "a"
	Args map[string]any // arguments with defaults applied; may contain Ref
	// DependsOn lists explicit dependencies (depends_on = [...]) by
	// address; references inside Args are dependencies too.
	DependsOn []string
	// Provider is the key of the provider configuration the resource uses
	// (provider = p): "aws.eu"; "" means the provider's default one.
	Provider  string
	Lifecycle Lifecycle
	Timeouts  Timeouts
	// ImportID, when set, adopts the existing object with this ID instead
	// of creating one (import_id = "..."): the plan's action is import.
	ImportID string
	Pos      Pos // where it was declared
}

// ProviderName is the provider of a resource type: "aws" of
// "aws.instance".
func ProviderName(typ string) string {
	name, _, _ := strings.Cut(typ, ".")
	return name
}

// ProviderKey is the key of the configuration r uses.
func (r *Resource) ProviderKey() string {
	if r.Provider != "" {
		return r.Provider
	}
	return ProviderName(r.Type)
}

// Output is one declared output value; Value may contain Ref.
type Output struct {
	Name  string
	Value any
	// Sensitive outputs read (sensitive) wherever ferry shows them,
	// except `ferry output --raw NAME`.
	Sensitive bool
	Pos       Pos
}

// Inputs is everything evaluation read: used for the plan's input digest so
// that apply can refuse a plan whose inputs changed.
type Inputs struct {
	// Files maps a path relative to Config.Dir (slash-separated) to the
	// hex sha256 of its content, for every file loaded.
	Files map[string]string
	// Vars holds the value of every var() that was read.
	Vars map[string]string
}

// ResourceByAddr finds a declared resource.
func (c *Config) ResourceByAddr(addr string) *Resource {
	for _, r := range c.Resources {
		if r.Addr == addr {
			return r
		}
	}
	return nil
}
