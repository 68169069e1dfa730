package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// Type is the resource type name as users call it.
const Type = "local.file"

// DefaultMode is the mode of a file whose mode argument is left out.
const DefaultMode = "0644"

// New returns the local.file implementation. Relative paths resolve
// against dir, the configuration directory. It is safe for concurrent use.
func New(dir string) providers.Resource { return &file{dir: dir} }

// Provider returns the "local" provider: local.file, without
// configuration, resolving relative paths against dir.
func Provider(dir string) providers.Provider {
	return &providers.Static{Namespace: "local", Types: []providers.Resource{New(dir)}}
}

type file struct {
	dir string
	// swept holds the paths whose folder this instance (one per run) has
	// swept of dead runs' temporary files: once is enough, since later
	// leftovers would be this run's own.
	swept sync.Map
	// tempCreated, when set, sees each temporary file as soon as it
	// exists (tests).
	tempCreated func(tmp string)
}

// sweepOnce removes what dead runs left beside path, once per run.
func (f *file) sweepOnce(path string) {
	if _, done := f.swept.LoadOrStore(path, true); !done {
		sweep(path)
	}
}

func (*file) Schema() spec.Schema {
	return spec.Schema{
		Type: Type,
		Doc:  "A file on the machine running ferry, written atomically.",
		Attrs: []spec.Attr{
			{
				Name:     "path",
				Kind:     spec.KindString,
				Doc:      "Where the file goes; relative paths are relative to the configuration directory. Changing it replaces the file.",
				Required: true,
				ForceNew: true,
			},
			{
				Name:     "content",
				Kind:     spec.KindString,
				Doc:      "The file's content.",
				Required: true,
			},
			{
				Name:     "mode",
				Kind:     spec.KindString,
				Doc:      `Permission bits as an octal string, e.g. "0600".`,
				Optional: true,
				Default:  DefaultMode,
			},
			{
				Name:     "id",
				Kind:     spec.KindString,
				Doc:      "Hex SHA-256 of the content.",
				Computed: true,
			},
		},
	}
}

// args are a local.file's arguments; each is a string or a spec.Unknown.
type args struct {
	path, content, mode any
}

func parseArgs(addr string, m map[string]any) (args, error) {
	var a args
	var err error
	if a.path, err = stringArg(addr, m, "path", ""); err != nil {
		return a, err
	}
	if p, ok := a.path.(string); ok && p == "" {
		return a, fmt.Errorf("%s: attribute \"path\" is empty; give the file's path", addr)
	}
	if a.content, err = stringArg(addr, m, "content", ""); err != nil {
		return a, err
	}
	if a.mode, err = stringArg(addr, m, "mode", DefaultMode); err != nil {
		return a, err
	}
	if s, ok := a.mode.(string); ok {
		if _, err := parseMode(addr, s); err != nil {
			return a, err
		}
	}
	return a, nil
}

// stringArg returns a string argument or an Unknown standing for it. A
// missing argument is def, or an error when def is "" (required).
func stringArg(addr string, m map[string]any, name, def string) (any, error) {
	switch v := m[name].(type) {
	case string, spec.Unknown:
		return v, nil
	case nil:
		if def == "" {
			return nil, fmt.Errorf("%s: missing required attribute %q", addr, name)
		}
		return def, nil
	default:
		return nil, fmt.Errorf("%s: attribute %q must be a string, got %s", addr, name, spec.Render(v))
	}
}

// attrs is the full attribute map for a, with the id known when the
// content is.
func (a args) attrs(addr string) map[string]any {
	var id any = spec.Unknown{Source: addr + ".id"}
	if c, ok := a.content.(string); ok {
		id = digest(c)
	}
	return map[string]any{"path": a.path, "content": a.content, "mode": a.mode, "id": id}
}

var modeSyntax = regexp.MustCompile(`^0?[0-7]{3}$`)

// parseMode accepts permission bits written in octal: "644" or "0644".
func parseMode(addr, s string) (fs.FileMode, error) {
	if !modeSyntax.MatchString(s) {
		return 0, fmt.Errorf("%s: attribute \"mode\" = %q is not a file mode; use octal permission bits such as \"0644\" or \"0600\"", addr, s)
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("%s: attribute \"mode\" = %q: %w", addr, s, err)
	}
	return fs.FileMode(n), nil
}

func digest(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

// resolve makes a configured path absolute against the configuration dir.
func (f *file) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(f.dir, p)
}

func (f *file) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	a, err := parseArgs(req.Addr, req.Config)
	if err != nil {
		return providers.PlanResponse{}, err
	}
	resp := providers.PlanResponse{Planned: a.attrs(req.Addr)}
	if req.Prior != nil {
		if p, ok := a.path.(string); !ok || p != req.Prior["path"] {
			resp.RequiresReplace = []string{"path"}
		}
	}
	return resp, nil
}

func (f *file) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	// A write takes no time worth interrupting, but a cancelled apply
	// starts nothing new.
	if err := ctx.Err(); err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("%s %s: %w", req.Action, req.Addr, err)
	}
	switch req.Action {
	case providers.Create, providers.Update:
		a, err := parseArgs(req.Addr, req.Planned)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		p, okPath := a.path.(string)
		content, okContent := a.content.(string)
		modeStr, okMode := a.mode.(string)
		if !okPath || !okContent || !okMode {
			return providers.ApplyResponse{}, fmt.Errorf("%s %s: path, content or mode is still unknown at apply time; run plan again", req.Action, req.Addr)
		}
		mode, err := parseMode(req.Addr, modeStr)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		full := f.resolve(p)
		f.sweepOnce(full)
		if err := f.writeAtomic(full, []byte(content), mode); err != nil {
			return providers.ApplyResponse{}, fmt.Errorf("%s %s: %w", req.Action, req.Addr, err)
		}
		return providers.ApplyResponse{State: a.attrs(req.Addr)}, nil
	case providers.Delete:
		p, ok := req.Prior["path"].(string)
		if !ok || p == "" {
			return providers.ApplyResponse{}, fmt.Errorf("delete %s: prior state has no path; remove it from state with `ferry state rm %s`", req.Addr, req.Addr)
		}
		full := f.resolve(p)
		f.sweepOnce(full)
		if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return providers.ApplyResponse{}, fmt.Errorf("delete %s: %w", req.Addr, err)
		}
		return providers.ApplyResponse{}, nil
	default:
		return providers.ApplyResponse{}, fmt.Errorf("apply %s: unsupported action %q", req.Addr, req.Action)
	}
}

// Read reports the file as it is on disk: nil when it is gone, and its
// actual content, mode and id otherwise, so the engine sees any drift.
func (f *file) Read(_ context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	p, ok := req.Prior["path"].(string)
	if !ok || p == "" {
		return providers.ReadResponse{}, fmt.Errorf("read %s: prior state has no path; remove it from state with `ferry state rm %s`", req.Addr, req.Addr)
	}
	full := f.resolve(p)
	f.sweepOnce(full)
	content, err := os.ReadFile(full)
	if errors.Is(err, fs.ErrNotExist) {
		return providers.ReadResponse{}, nil
	}
	if err != nil {
		return providers.ReadResponse{}, fmt.Errorf("read %s: %w", req.Addr, err)
	}
	info, err := os.Stat(full)
	if err != nil {
		return providers.ReadResponse{}, fmt.Errorf("read %s: %w", req.Addr, err)
	}
	st := make(map[string]any, len(req.Prior))
	for k, v := range req.Prior {
		st[k] = v
	}
	st["content"] = string(content)
	st["id"] = digest(string(content))
	// Keep the prior spelling ("644" or "0644") when the bits agree, so
	// an unchanged file reads back exactly as it was recorded.
	perm := info.Mode().Perm()
	if prior, ok := req.Prior["mode"].(string); !ok || !sameMode(prior, perm) {
		st["mode"] = fmt.Sprintf("%04o", uint32(perm))
	}
	return providers.ReadResponse{State: st}, nil
}

func sameMode(s string, perm fs.FileMode) bool {
	m, err := parseMode("", s)
	return err == nil && m == perm
}
