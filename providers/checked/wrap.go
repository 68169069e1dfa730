package checked

import (
	"context"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// Abilities of a resource, as bits.
const (
	canBatch = 1 << iota
	canImport
	canAdopt
	canUpgrade
)

// Wrap returns r with its calls checked against the contract, keeping
// exactly r's optional abilities (BatchReader, Importer, Adopter,
// StateUpgrader). Wrapping a checker returns it as it is.
func Wrap(r providers.Resource) providers.Resource {
	if _, ok := r.(wrapped); ok {
		return r
	}
	c := &resource{inner: r, schema: r.Schema()}
	abilities := 0
	if _, ok := r.(providers.BatchReader); ok {
		abilities |= canBatch
	}
	if _, ok := r.(providers.Importer); ok {
		abilities |= canImport
	}
	if _, ok := r.(providers.Adopter); ok {
		abilities |= canAdopt
	}
	if _, ok := r.(providers.StateUpgrader); ok {
		abilities |= canUpgrade
	}
	b, i, a, u := batchReader{c}, importer{c}, adopter{c}, upgrader{c}
	switch abilities {
	case 0:
		return c
	case canBatch:
		return struct {
			*resource
			batchReader
		}{c, b}
	case canImport:
		return struct {
			*resource
			importer
		}{c, i}
	case canBatch | canImport:
		return struct {
			*resource
			batchReader
			importer
		}{c, b, i}
	case canAdopt:
		return struct {
			*resource
			adopter
		}{c, a}
	case canBatch | canAdopt:
		return struct {
			*resource
			batchReader
			adopter
		}{c, b, a}
	case canImport | canAdopt:
		return struct {
			*resource
			importer
			adopter
		}{c, i, a}
	case canBatch | canImport | canAdopt:
		return struct {
			*resource
			batchReader
			importer
			adopter
		}{c, b, i, a}
	case canUpgrade:
		return struct {
			*resource
			upgrader
		}{c, u}
	case canBatch | canUpgrade:
		return struct {
			*resource
			batchReader
			upgrader
		}{c, b, u}
	case canImport | canUpgrade:
		return struct {
			*resource
			importer
			upgrader
		}{c, i, u}
	case canBatch | canImport | canUpgrade:
		return struct {
			*resource
			batchReader
			importer
			upgrader
		}{c, b, i, u}
	case canAdopt | canUpgrade:
		return struct {
			*resource
			adopter
			upgrader
		}{c, a, u}
	case canBatch | canAdopt | canUpgrade:
		return struct {
			*resource
			batchReader
			adopter
			upgrader
		}{c, b, a, u}
	case canImport | canAdopt | canUpgrade:
		return struct {
			*resource
			importer
			adopter
			upgrader
		}{c, i, a, u}
	default: // every ability
		return struct {
			*resource
			batchReader
			importer
			adopter
			upgrader
		}{c, b, i, a, u}
	}
}

// WrapProvider returns p with every resource of every configuration it
// makes wrapped by Wrap. A provider that lists its schemas without a
// configuration (providers.Describer) still does.
func WrapProvider(p providers.Provider) providers.Provider {
	switch p.(type) {
	case checkedProvider, describingProvider:
		return p
	}
	if d, ok := p.(providers.Describer); ok {
		return describingProvider{checkedProvider{p}, d}
	}
	return checkedProvider{p}
}

type checkedProvider struct{ providers.Provider }

// ConfigValidator passes the wrapped provider's offline validation
// through (providers.ConfigValidatorOf).
func (p checkedProvider) ConfigValidator() (providers.ConfigValidator, bool) {
	return providers.ConfigValidatorOf(p.Provider)
}

func (p checkedProvider) Configure(ctx context.Context, req providers.ConfigureRequest) (providers.Configured, error) {
	c, err := p.Provider.Configure(ctx, req)
	if err != nil || c == nil {
		return c, err
	}
	rs := c.Resources()
	out := make(map[string]providers.Resource, len(rs))
	for typ, r := range rs {
		out[typ] = Wrap(r)
	}
	return configured{Configured: c, resources: out}, nil
}

type describingProvider struct {
	checkedProvider
	d providers.Describer
}

func (p describingProvider) Schemas() []spec.Schema { return p.d.Schemas() }

// configured wraps each resource once, at Configure.
type configured struct {
	providers.Configured
	resources map[string]providers.Resource
}

func (c configured) Resources() map[string]providers.Resource { return c.resources }
