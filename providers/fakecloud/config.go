package fakecloud

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/spec"
)

// defaultPageSize is how many objects one describe call reads.
const defaultPageSize = 100

// config is a parsed fake.provider(...) configuration.
type config struct {
	region     string
	dir        string
	limit      int
	pageSize   int
	idempotent bool
	latency    time.Duration
	faults     map[string]fault
	hosts      []poolHost // fake.host's endpoints, handed out in order
}

func parseConfig(m map[string]any) (config, error) {
	c := config{pageSize: defaultPageSize, idempotent: true, faults: map[string]fault{}}
	known := []string{"region", "dir", "limit", "page_size", "idempotent_tokens", "latency", "faults", "hosts"}
	for _, k := range sortedKeys(m) {
		if k != "alias" && !slices.Contains(known, k) {
			return c, fmt.Errorf("unknown argument %q; it takes %s", k, strings.Join(known, ", "))
		}
	}
	var err error
	if c.region, err = stringOf(m, "region"); err != nil {
		return c, err
	}
	if c.region == "" {
		return c, fmt.Errorf(`missing required argument "region"; give fake.provider(region = "...")`)
	}
	if c.dir, err = stringOf(m, "dir"); err != nil {
		return c, err
	}
	if c.limit, err = intOf(m, "limit", 0, 0); err != nil {
		return c, err
	}
	if c.pageSize, err = intOf(m, "page_size", defaultPageSize, 1); err != nil {
		return c, err
	}
	switch v := m["idempotent_tokens"].(type) {
	case nil:
	case bool:
		c.idempotent = v
	default:
		return c, fmt.Errorf(`argument "idempotent_tokens" must be True or False, got %s`, spec.Render(v))
	}
	lat, err := stringOf(m, "latency")
	if err != nil {
		return c, err
	}
	if lat != "" {
		if c.latency, err = time.ParseDuration(lat); err != nil || c.latency < 0 {
			return c, fmt.Errorf(`argument "latency" = %q is not a duration of zero or more, such as "10ms"`, lat)
		}
	}
	faults, ok := m["faults"].(map[string]any)
	if m["faults"] != nil && !ok {
		return c, fmt.Errorf(`argument "faults" must be a dict of call name to fault, got %s`, spec.Render(m["faults"]))
	}
	for _, call := range sortedKeys(faults) {
		line, ok := faults[call].(string)
		if !knownCall(call) {
			return c, fmt.Errorf(`argument "faults": no call %q; calls are %s`, call, strings.Join(callNames(), ", "))
		}
		if !ok {
			return c, fmt.Errorf(`argument "faults": %s: want a string such as "fail 1 throttled", got %s`, call, spec.Render(faults[call]))
		}
		f, err := parseFault(line)
		if err != nil {
			return c, fmt.Errorf(`argument "faults": %s: %w`, call, err)
		}
		c.faults[call] = f
	}
	if c.hosts, err = parseHosts(m["hosts"]); err != nil {
		return c, err
	}
	return c, nil
}

func stringOf(m map[string]any, name string) (string, error) {
	switch v := m[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("argument %q must be a string, got %s", name, spec.Render(v))
	}
}

// intOf reads a whole number of at least min; def when left out.
func intOf(m map[string]any, name string, def, min int) (int, error) {
	var n int64
	switch v := m[name].(type) {
	case nil:
		return def, nil
	case int:
		n = int64(v)
	case json.Number:
		i, err := v.Int64()
		if err != nil {
			return 0, fmt.Errorf("argument %q = %s is not a whole number", name, v)
		}
		n = i
	default:
		return 0, fmt.Errorf("argument %q must be a number, got %s", name, spec.Render(v))
	}
	if n < int64(min) || n > math.MaxInt32 {
		return 0, fmt.Errorf("argument %q = %d: want a whole number from %d", name, n, min)
	}
	return int(n), nil
}
