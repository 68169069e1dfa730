package nixopsimport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Export is a parsed `nixops export`.
type Export struct {
	// Deployments in UUID order.
	Deployments []*Deployment
}

// Deployment is one NixOps deployment of an export.
type Deployment struct {
	UUID string
	// Attrs are the deployment's attributes (name, description, nixExprs,
	// args, ...), as NixOps stored them.
	Attrs map[string]string
	// Resources by name.
	Resources map[string]*Resource
}

// Name is the deployment's NixOps name, else its UUID.
func (d *Deployment) Name() string {
	if n := d.Attrs["name"]; n != "" {
		return n
	}
	return d.UUID
}

// Resource is one NixOps resource: a machine or another object.
type Resource struct {
	Name  string
	Type  string
	Attrs map[string]string
}

// Parse reads an export. Errors name the field (its JSON path) that does
// not have the shape `nixops export` writes.
func Parse(data []byte) (*Export, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("not the output of nixops export (a JSON object of deployments keyed by UUID): %w", err)
	}
	out := &Export{}
	for _, uuid := range slices.Sorted(maps.Keys(top)) {
		d, err := parseDeployment(uuid, top[uuid])
		if err != nil {
			return nil, err
		}
		out.Deployments = append(out.Deployments, d)
	}
	if len(out.Deployments) == 0 {
		return nil, fmt.Errorf("the export holds no deployment")
	}
	return out, nil
}

func parseDeployment(uuid string, raw json.RawMessage) (*Deployment, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, schemaError(uuid, raw, "an object of deployment attributes")
	}
	d := &Deployment{UUID: uuid, Attrs: map[string]string{}, Resources: map[string]*Resource{}}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		path := uuid + "." + k
		if k != "resources" {
			s, err := stringField(path, fields[k])
			if err != nil {
				return nil, err
			}
			d.Attrs[k] = s
			continue
		}
		var resources map[string]json.RawMessage
		if err := json.Unmarshal(fields[k], &resources); err != nil {
			return nil, schemaError(path, fields[k], "an object of resources keyed by name")
		}
		for _, name := range slices.Sorted(maps.Keys(resources)) {
			r, err := parseResource(path+"."+name, name, resources[name])
			if err != nil {
				return nil, err
			}
			d.Resources[name] = r
		}
	}
	return d, nil
}

func parseResource(path, name string, raw json.RawMessage) (*Resource, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, schemaError(path, raw, "an object of resource attributes")
	}
	r := &Resource{Name: name, Attrs: map[string]string{}}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		s, err := stringField(path+"."+k, fields[k])
		if err != nil {
			return nil, err
		}
		if k == "type" {
			r.Type = s
		} else {
			r.Attrs[k] = s
		}
	}
	if r.Type == "" {
		return nil, fmt.Errorf("field %s.type is missing: every resource of a nixops export has a type; this export comes from a NixOps schema ferry does not know", path)
	}
	return r, nil
}

// stringField reads a NixOps attribute: a string (or null, read as "").
func stringField(path string, raw json.RawMessage) (string, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", schemaError(path, raw, "a string, as NixOps stores its attributes")
	}
	return s, nil
}

func schemaError(path string, raw json.RawMessage, want string) error {
	return fmt.Errorf("field %s: got %s, want %s; this export comes from a NixOps schema ferry does not know (export with NixOps 1.x or 2.x)", path, jsonKind(raw), want)
}

func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// Select picks the deployment named name (its NixOps name or UUID); with
// name empty, the only one.
func (e *Export) Select(name string) (*Deployment, error) {
	if name != "" {
		for _, d := range e.Deployments {
			if d.UUID == name || d.Attrs["name"] == name {
				return d, nil
			}
		}
		if len(e.Deployments) == 1 {
			return e.Deployments[0], nil // imported under the name asked for
		}
		return nil, fmt.Errorf("the export has no deployment %q; it has %s: pass one with -d", name, e.names())
	}
	if len(e.Deployments) > 1 {
		return nil, fmt.Errorf("the export holds %d deployments (%s): choose one with -d NAME", len(e.Deployments), e.names())
	}
	return e.Deployments[0], nil
}

func (e *Export) names() string {
	var ns []string
	for _, d := range e.Deployments {
		ns = append(ns, d.Name())
	}
	return strings.Join(ns, ", ")
}
