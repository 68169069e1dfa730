package lang

import "github.com/nixferry/ferry/engine/spec"

// testSchemas are the resource types the tests use; the real ones come
// from the providers. cloud.instance stands for a cloud machine.
func testSchemas() []spec.Schema {
	return []spec.Schema{
		{
			Type: "null.resource",
			Attrs: []spec.Attr{
				{Name: "triggers", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, ForceNew: true},
				{Name: "id", Kind: spec.KindString, Computed: true},
			},
		},
		{
			Type: "time.sleep",
			Attrs: []spec.Attr{
				{Name: "duration", Kind: spec.KindDuration, Optional: true, Default: "50ms"},
				{Name: "triggers", Kind: spec.KindMap, Optional: true},
				{Name: "id", Kind: spec.KindString, Computed: true},
			},
		},
		{
			Type: "local.file",
			Attrs: []spec.Attr{
				{Name: "path", Kind: spec.KindString, Required: true, ForceNew: true},
				{Name: "content", Kind: spec.KindString, Required: true},
				{Name: "mode", Kind: spec.KindString, Optional: true, Default: "0644"},
				{Name: "id", Kind: spec.KindString, Computed: true},
			},
		},
		{
			Type: "cloud.instance",
			Attrs: []spec.Attr{
				{Name: "image", Kind: spec.KindString, Required: true, ForceNew: true},
				{Name: "size", Kind: spec.KindString, Optional: true, Default: "small"},
				{Name: "tags", Kind: spec.KindMap, Optional: true},
				{Name: "user_data", Kind: spec.KindString, Optional: true},
				{Name: "public_ip", Kind: spec.KindString, Computed: true},
				{Name: "ssh_port", Kind: spec.KindNumber, Computed: true},
				{Name: "host_key", Kind: spec.KindString, Computed: true},
				{Name: "id", Kind: spec.KindString, Computed: true},
			},
		},
	}
}

// testProviders are the providers of testSchemas: cloud takes a
// configuration, null, time and local do not.
func testProviders() []ProviderSchema {
	return []ProviderSchema{
		{Name: "null"},
		{Name: "time"},
		{Name: "local"},
		{Name: "cloud", Config: &spec.Schema{Type: "cloud.provider", Attrs: []spec.Attr{
			{Name: "region", Kind: spec.KindString, Required: true},
			{Name: "profile", Kind: spec.KindString, Optional: true},
			{Name: "retries", Kind: spec.KindNumber, Optional: true, Default: 3},
			{Name: "endpoints", Kind: spec.KindMap, Optional: true},
			{Name: "account", Kind: spec.KindString, Computed: true},
		}}},
	}
}
