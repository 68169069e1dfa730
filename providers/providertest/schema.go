package providertest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/checked"
)

var (
	typeName = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)
	attrName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// schemaProblems lists what is wrong with s, one sentence each.
func schemaProblems(s spec.Schema) []string {
	var out []string
	problem := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if !typeName.MatchString(s.Type) {
		problem("schema type %q: want \"provider.kind\" in lower case", s.Type)
	}
	if len(s.Attrs) == 0 {
		problem("schema %s has no attributes", s.Type)
	}
	if s.Version < 0 {
		problem("schema %s: version %d is negative", s.Type, s.Version)
	}
	seen := map[string]bool{}
	for _, a := range s.Attrs {
		where := fmt.Sprintf("%s attribute %q", s.Type, a.Name)
		if !attrName.MatchString(a.Name) {
			problem("%s: name must be lower case letters, digits and _", where)
		}
		if a.Name == "name" {
			problem("%s: \"name\" is reserved for the resource's address", where)
		}
		if seen[a.Name] {
			problem("%s: declared twice", where)
		}
		seen[a.Name] = true
		switch a.Kind {
		case spec.KindString, spec.KindNumber, spec.KindBool, spec.KindDuration,
			spec.KindMap, spec.KindList, spec.KindAny:
		default:
			problem("%s: unknown kind %q", where, a.Kind)
		}
		switch {
		case a.Required && a.Optional:
			problem("%s: both Required and Optional", where)
		case a.Required && a.Computed:
			problem("%s: both Required and Computed", where)
		case !a.Required && !a.Optional && !a.Computed:
			problem("%s: neither Required, Optional nor Computed", where)
		}
		if a.Computed && !a.Optional && a.ForceNew {
			problem("%s: computed-only but ForceNew (users cannot change it)", where)
		}
		if a.Default != nil {
			if !a.Optional {
				problem("%s: has a Default but is not Optional", where)
			}
			if err := matchesKind(a.Kind, a.Default); err != nil {
				problem("%s: Default %#v: %v", where, a.Default, err)
			}
		}
	}
	return out
}

// matchesKind reports whether v is a well-formed value of kind k.
func matchesKind(k spec.Kind, v any) error {
	ok := true
	switch k {
	case spec.KindString:
		_, ok = v.(string)
	case spec.KindNumber:
		_, ok = v.(json.Number)
	case spec.KindBool:
		_, ok = v.(bool)
	case spec.KindDuration:
		s, isString := v.(string)
		if !isString {
			ok = false
			break
		}
		if _, err := time.ParseDuration(s); err != nil {
			return err
		}
	case spec.KindMap:
		_, ok = v.(map[string]any)
	case spec.KindList:
		_, ok = v.([]any)
	}
	if !ok {
		return fmt.Errorf("a %T is not a %s", v, k)
	}
	return checked.JSONValue(v)
}

// caseProblems lists what is wrong with the resource's abilities and the
// Case that describes them, one sentence each.
func caseProblems(r providers.Resource, c Case) []string {
	var out []string
	problem := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	s := r.Schema()
	_, batch := r.(providers.BatchReader)
	_, imp := r.(providers.Importer)
	_, adopt := r.(providers.Adopter)
	_, upgrade := r.(providers.StateUpgrader)
	if s.Version > 0 && !upgrade {
		problem("schema %s is at version %d but its resource is not a StateUpgrader: state written by an older version could not be read", s.Type, s.Version)
	}
	if got, want := s.Sensitive(), slices.Clone(c.Sensitive); !slices.Equal(sorted(got), sorted(want)) {
		problem("schema %s marks %v sensitive, Case.Sensitive says %v", s.Type, got, want)
	}
	if !batch && (c.PageSize != 0 || c.BatchObjects != 0) {
		problem("Case sets PageSize or BatchObjects, but %s is not a BatchReader", s.Type)
	}
	if !imp && (c.ImportID != nil || c.MissingID != "") {
		problem("Case sets ImportID or MissingID, but %s is not an Importer", s.Type)
	}
	if !imp && !adopt && c.ImportIgnore != nil {
		problem("Case sets ImportIgnore, but %s is neither an Importer nor an Adopter", s.Type)
	}
	if !adopt && c.Idempotent {
		problem("Case sets Idempotent, but %s is not an Adopter", s.Type)
	}
	if !upgrade && c.Upgrades != nil {
		problem("Case sets Upgrades, but %s is not a StateUpgrader", s.Type)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
