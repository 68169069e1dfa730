package fakecloud

import (
	"fmt"
	"testing"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/providertest"
)

// cases returns the conformance cases of the four types for a
// configuration with the given page size and token behaviour.
func cases(pageSize int, idempotent bool) map[string]providertest.Case {
	calls := func(r providers.Resource) int {
		s, err := StatsOf(r)
		if err != nil {
			panic(err)
		}
		return s.Total()
	}
	return map[string]providertest.Case{
		ThingType: {
			Create:     map[string]any{"value": "v1", "secret": "s3cr3t-value"},
			Update:     map[string]any{"value": "v2", "secret": "other-secret"},
			Replace:    map[string]any{"zone": "b"},
			External:   true,
			Sensitive:  []string{"secret"},
			PageSize:   pageSize,
			Calls:      calls,
			Idempotent: idempotent,
			Upgrades: []providertest.Upgrade{
				{
					Version: 0,
					State:   map[string]any{"value": "v", "az": "b", "id": "thing-1"},
					Want:    map[string]any{"value": "v", "zone": "b", "secret": nil, "id": "thing-1", "arn": "arn:fake:r1:thing/thing-1"},
				},
				{
					Version: 1,
					State:   map[string]any{"value": "v", "az": "b", "secret": "s", "id": "thing-1", "arn": "arn:fake:r1:thing/thing-1"},
					Want:    map[string]any{"value": "v", "zone": "b", "secret": "s", "id": "thing-1", "arn": "arn:fake:r1:thing/thing-1"},
				},
			},
		},
		SlowType: {
			Create:     map[string]any{"duration": "1ms"},
			Update:     map[string]any{"duration": "2ms"},
			Replace:    map[string]any{"zone": "b"},
			External:   true,
			Slow:       map[string]any{"duration": "1h"},
			Idempotent: idempotent,
		},
		FlakyType: {
			Create:     map[string]any{"value": "v1"},
			Update:     map[string]any{"value": "v2"},
			Replace:    map[string]any{"zone": "b"},
			External:   true,
			Fail:       map[string]any{"fail_after_create": true},
			Idempotent: idempotent,
		},
		HostType: {
			Create:     map[string]any{"value": "v1"},
			Update:     map[string]any{"value": "v2"},
			Replace:    map[string]any{"zone": "b"},
			External:   true,
			Idempotent: idempotent,
		},
	}
}

// conformanceHosts is a fake.host pool larger than any rule needs at once.
func conformanceHosts() []any {
	var out []any
	for i := range 200 {
		out = append(out, map[string]any{"host": fmt.Sprintf("127.0.%d.%d", i/250, 2+i%250), "port": spec.Number(2222)})
	}
	return out
}

func TestConformanceInMemory(t *testing.T) {
	providertest.RunProvider(t, providertest.ProviderCase{
		New:    func(*testing.T) providers.Provider { return New() },
		Config: map[string]any{"region": "r1", "hosts": conformanceHosts()},
		Types:  cases(defaultPageSize, true),
	})
}

// TestConformanceInFolder shares one folder between the sub-tests, as
// successive ferry runs do.
func TestConformanceInFolder(t *testing.T) {
	providertest.RunProvider(t, providertest.ProviderCase{
		New:    func(*testing.T) providers.Provider { return New() },
		Config: map[string]any{"region": "r1", "dir": t.TempDir(), "page_size": spec.Number(3), "hosts": conformanceHosts()},
		Types:  cases(3, true),
	})
}

// TestConformanceAdoptionOnly: with tokens that are not idempotent (as on
// moto), the types still pass, by adoption.
func TestConformanceAdoptionOnly(t *testing.T) {
	providertest.RunProvider(t, providertest.ProviderCase{
		New:    func(*testing.T) providers.Provider { return New() },
		Config: map[string]any{"region": "r1", "idempotent_tokens": false, "hosts": conformanceHosts()},
		Types:  cases(defaultPageSize, false),
	})
}
