package fakecloud

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// HostType is the fake resource that stands for a machine a cloud creates:
// it hands out an SSH endpoint from the pool in the provider's
// configuration (hosts = [...]), so that tests can deploy NixOS to real
// test hosts through a target that comes from a resource.
const HostType = "fake.host"

func hostSchema() spec.Schema {
	return spec.Schema{
		Type: HostType,
		Doc:  "A machine in the fake cloud (a change of value restarts it: an update in place with downtime): its SSH endpoint is the first entry of the configuration's hosts pool that no other fake.host holds.",
		Attrs: []spec.Attr{
			{Name: "value", Kind: spec.KindString, Optional: true, Default: "", Doc: "Any string; changes in place."},
			{Name: "zone", Kind: spec.KindString, Optional: true, Default: "a", ForceNew: true, Doc: "Where the machine lives; a change replaces it (and takes the next free endpoint)."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "host-<16 hex digits>."},
			{Name: "host", Kind: spec.KindString, Computed: true, Doc: "The address from the pool."},
			{Name: "port", Kind: spec.KindNumber, Computed: true, Doc: "The SSH port from the pool."},
			{Name: "host_key", Kind: spec.KindString, Computed: true, Doc: "The host key the pool says the machine has (null when it says none), as a cloud reports a key it injected."},
			{Name: "state", Kind: spec.KindString, Computed: true, Doc: `"running", or "stopped" by ferry stop (the power switch records it; the test host itself keeps running).`},
		},
	}
}

func hostKind() kind {
	return kind{schema: hostSchema(), prefix: "host", assign: assignHost, downtime: hostDowntime,
		predict:  map[string]any{"state": "running"},
		computed: func(_ *Cloud, o *Object) { o.Attrs["state"] = "running" }}
}

var _ providers.PowerSwitch = (*host)(nil)

// Power records the machine as stopped or running (reboot changes
// nothing), as a cloud's API call would, in one call named
// fake.host.power.
func (h *host) Power(ctx context.Context, req providers.PowerRequest) (providers.ReadResponse, error) {
	id, _ := req.State["id"].(string)
	var out map[string]any
	err := h.c.call(ctx, h.callName("power"), func() error {
		o, ok, err := h.c.store.Get(HostType, id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: %s %s is gone", req.Addr, HostType, id)
		}
		switch req.Op {
		case providers.PowerStop:
			o.Attrs["state"] = "stopped"
		case providers.PowerStart:
			o.Attrs["state"] = "running"
		}
		out = o.Attrs
		return h.c.store.Put(o)
	})
	return providers.ReadResponse{State: out}, err
}

// hostDowntime: a machine restarts to change its value, as an instance
// does to change its type.
func hostDowntime(prior, planned map[string]any) string {
	if spec.Render(prior["value"]) == spec.Render(planned["value"]) {
		return ""
	}
	return fmt.Sprintf("restarts the machine to change value from %s to %s", spec.Render(prior["value"]), spec.Render(planned["value"]))
}

// host is fake.host.
type host struct{ base }

// poolHost is one entry of hosts = [...].
type poolHost struct {
	host    string
	port    int
	hostKey string // "" when not given
}

// parseHosts reads hosts = [{"host": "127.0.0.5", "port": 2222,
// "host_key": "ssh-ed25519 ..."}, ...]: host required, port default 22,
// host_key optional.
func parseHosts(v any) ([]poolHost, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf(`argument "hosts" must be a list of dicts such as {"host": "127.0.0.5", "port": 2222, "host_key": "ssh-ed25519 AAAA..."}, got %s`, spec.Render(v))
	}
	var out []poolHost
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf(`argument "hosts": entry %d must be a dict, got %s`, i, spec.Render(e))
		}
		for k := range m {
			if k != "host" && k != "port" && k != "host_key" {
				return nil, fmt.Errorf(`argument "hosts": entry %d: unknown key %q; an entry takes host, port, host_key`, i, k)
			}
		}
		h := poolHost{port: 22}
		h.host, ok = m["host"].(string)
		if !ok || strings.TrimSpace(h.host) == "" {
			return nil, fmt.Errorf(`argument "hosts": entry %d needs "host", a non-empty string`, i)
		}
		if p, has := m["port"]; has && p != nil {
			port, err := intOf(map[string]any{"port": p}, "port", 22, 1)
			if err != nil {
				return nil, fmt.Errorf(`argument "hosts": entry %d: %w`, i, err)
			}
			h.port = port
		}
		switch k := m["host_key"].(type) {
		case nil:
		case string:
			h.hostKey = k
		default:
			return nil, fmt.Errorf(`argument "hosts": entry %d: "host_key" must be a string, got %s`, i, spec.Render(k))
		}
		out = append(out, h)
	}
	return out, nil
}

// assignHost gives o the first endpoint of the pool that no fake.host in
// the store holds; called in the create call, under the store's host
// lock. A pool without a free endpoint fails the create.
func assignHost(c *Cloud, o *Object) error {
	objs, err := c.store.List(HostType)
	if err != nil {
		return err
	}
	taken := map[string]bool{}
	for _, x := range objs {
		taken[endpointOf(x.Attrs)] = true
	}
	for _, h := range c.cfg.hosts {
		port := json.Number(fmt.Sprint(h.port))
		if taken[h.host+":"+port.String()] {
			continue
		}
		o.Attrs["host"], o.Attrs["port"] = h.host, port
		o.Attrs["host_key"] = nil
		if h.hostKey != "" {
			o.Attrs["host_key"] = h.hostKey
		}
		return nil
	}
	return fmt.Errorf("%s.create: no free endpoint: the %d of hosts = [...] in fake.provider are held by other fake.host objects; add one", HostType, len(c.cfg.hosts))
}

func endpointOf(attrs map[string]any) string {
	h, _ := attrs["host"].(string)
	return fmt.Sprintf("%s:%v", h, attrs["port"])
}

// hostLocked runs f under the store's lock for handing out endpoints, so
// that two creates never take the same one (in this process).
func (s *Store) hostLocked(f func() error) error {
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	return f()
}
