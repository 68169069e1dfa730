package lang

import "github.com/nixferry/ferry/engine/spec"

// testSchemas are the resource types the tests use; the real ones come
// from the providers.
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
	}
}
