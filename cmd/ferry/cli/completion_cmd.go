package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/alecthomas/kong"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/lang"
)

// Shell completion: `ferry completion bash|zsh|fish` prints a script
// whose completion function runs `ferry __complete` with the command
// line typed so far. __complete answers from kong's model (commands,
// flags, enum values) and, for machine names, @tags and addresses, from
// the configuration loaded quickly: no state, no SSH, no Nix, at most
// completeTimeout. Its answer is one word per line: the kind ("files" when
// the shell should offer file names too, else "words"), the word being
// completed as ferry split it, then the candidates, whole words that
// start with it. A candidate ending in ":" or "=" wants no space after it.

// completeTimeout bounds loading the configuration for a completion.
const completeTimeout = 2 * time.Second

// CompletionCmd is `ferry completion bash|zsh|fish`.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"The shell: bash, zsh or fish."`
}

// Run prints the completion script.
func (c *CompletionCmd) Run(a *App) error {
	script := map[string]string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}[c.Shell]
	_, err := io.WriteString(a.Stdout, script)
	return err
}

// CompleteCmd is the hidden `ferry __complete`, which the scripts run.
type CompleteCmd struct {
	Line  string   `name:"line" help:"The command line up to the cursor (bash's COMP_LINE)."`
	Words []string `arg:"" optional:"" passthrough:"" help:"The words typed, the program's name first and the word being completed last (zsh, fish)."`
}

// Run prints the candidates.
func (c *CompleteCmd) Run(a *App, k *kong.Context) error {
	words := dropDashes(c.Words)
	if c.Line != "" || len(words) == 0 {
		words = splitLine(c.Line)
	}
	if len(words) > 0 {
		words = words[1:] // the program's name
	}
	if len(words) == 0 {
		words = []string{""}
	}
	kind, cur, cands := completeWords(k.Model, words, func(chdir, file string) *spec.Config { return a.completionConfig(chdir, file) })
	fmt.Fprintln(a.Stdout, kind)
	fmt.Fprintln(a.Stdout, cur)
	for _, c := range cands {
		fmt.Fprintln(a.Stdout, c)
	}
	return nil
}

// splitLine splits a shell command line into words, roughly as the shell
// does (blanks, quotes, backslashes); a line ending in a blank ends with
// an empty word, the one being completed.
func splitLine(line string) []string {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote rune
		esc   bool
	)
	for _, r := range line {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\' && quote != '\'':
			esc, in = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case unicode.IsSpace(r):
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	return append(words, cur.String())
}

// completeWords completes the last of words (the command line after the
// program's name). config loads the configuration, nil when it cannot.
func completeWords(app *kong.Application, words []string, config func(chdir, file string) *spec.Config) (kind, cur string, cands []string) {
	node := app.Node
	var (
		pending    *kong.Flag // a flag waiting for its value
		positional int
		chdir      = "."
		file       = lang.DefaultFile
	)
	setValue := func(f *kong.Flag, v string) {
		switch f.Name {
		case "chdir":
			chdir = v
		case "file":
			file = v
		}
	}
	prior, cur := words[:len(words)-1], words[len(words)-1]
	for _, w := range prior {
		switch {
		case pending != nil:
			setValue(pending, w)
			pending = nil
		case w == "--":
			return "words", cur, nil // what follows is not ferry's
		case strings.HasPrefix(w, "--"):
			name, v, hasValue := strings.Cut(w[2:], "=")
			if f := findFlag(node, name, 0); f != nil {
				if hasValue {
					setValue(f, v)
				} else if !f.IsBool() {
					pending = f
				}
			}
		case strings.HasPrefix(w, "-") && len(w) > 1:
			if f := findFlag(node, "", []rune(w)[1]); f != nil && !f.IsBool() {
				if len([]rune(w)) > 2 {
					setValue(f, string([]rune(w)[2:]))
				} else {
					pending = f
				}
			}
		default:
			if child := childCommand(node, w); child != nil && positional == 0 {
				node = child
				continue
			}
			positional++
		}
	}

	var c completer
	c.config = func() *spec.Config {
		if c.cfg == nil && !c.loaded {
			c.cfg, c.loaded = config(chdir, file), true
		}
		return c.cfg
	}
	switch {
	case pending != nil:
		kind, cands = c.flagValue(pending, cur)
	case strings.HasPrefix(cur, "--") && strings.Contains(cur, "="):
		name, v, _ := strings.Cut(cur[2:], "=")
		if f := findFlag(node, name, 0); f != nil {
			kind, cands = c.flagValue(f, v)
			for i, x := range cands {
				cands[i] = "--" + name + "=" + x
			}
		}
	case strings.HasPrefix(cur, "-"):
		kind, cands = "words", flagNames(node)
	default:
		kind, cands = c.positional(node, positional, cur)
	}
	if kind == "" {
		kind = "words"
	}
	var out []string
	for _, x := range cands {
		if strings.HasPrefix(x, cur) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return kind, cur, out
}

// completer finds candidates; the configuration is loaded on first need.
type completer struct {
	config func() *spec.Config
	cfg    *spec.Config
	loaded bool
}

func (c *completer) flagValue(f *kong.Flag, cur string) (string, []string) {
	switch {
	case f.Enum != "":
		return "words", strings.Split(f.Enum, ",")
	case f.Name == "on" || f.Name == "exclude":
		return "words", c.machines(true)
	case f.Name == "target" || f.Name == "replace":
		return "words", c.addresses()
	case f.Name == "chdir", f.Name == "file", f.Name == "var-file", f.Name == "out", f.Name == "ssh-key", f.Name == "ssh-config", f.Name == "plan":
		return "files", nil
	}
	return "words", nil
}

func (c *completer) positional(node *kong.Node, i int, cur string) (string, []string) {
	var cands []string
	if i == 0 {
		for _, ch := range node.Children {
			if ch.Type == kong.CommandNode && !ch.Hidden {
				cands = append(cands, ch.Name)
			}
		}
		if len(cands) > 0 {
			return "words", cands
		}
	}
	if i >= len(node.Positional) {
		return "words", nil
	}
	switch p := node.Positional[i]; p.Name {
	case "machine":
		return "words", c.machines(false)
	case "addr", "addrs", "from", "to":
		return "words", c.addresses()
	case "src", "dst":
		if strings.Contains(cur, ":") {
			return "words", nil // a remote path: not completed
		}
		var ms []string
		for _, m := range c.machines(false) {
			ms = append(ms, m+":")
		}
		return "files", ms
	case "plan", "file":
		return "files", nil
	default:
		if p.Enum != "" {
			return "words", strings.Split(p.Enum, ",")
		}
		return "words", nil
	}
}

// machines are the configuration's machine names, and with tags its
// @tags too.
func (c *completer) machines(tags bool) []string {
	cfg := c.config()
	if cfg == nil {
		return nil
	}
	var out, ts []string
	for _, m := range cfg.Machines {
		out = append(out, m.Name)
		for _, t := range m.Tags {
			if !slices.Contains(ts, "@"+t) {
				ts = append(ts, "@"+t)
			}
		}
	}
	if tags {
		slices.Sort(ts)
		out = append(out, ts...)
	}
	return out
}

// addresses are the configuration's resources and machine.NAME.
func (c *completer) addresses() []string {
	cfg := c.config()
	if cfg == nil {
		return nil
	}
	var out []string
	for _, r := range cfg.Resources {
		out = append(out, r.Addr)
	}
	for _, m := range cfg.Machines {
		out = append(out, m.Addr)
	}
	return out
}

// findFlag is node's flag (or an ancestor's) by long name or short rune.
func findFlag(node *kong.Node, name string, short rune) *kong.Flag {
	for n := node; n != nil; n = n.Parent {
		for _, f := range n.Flags {
			if (name != "" && (f.Name == name || slices.Contains(f.Aliases, name))) || (short != 0 && f.Short == short) {
				return f
			}
		}
	}
	return nil
}

// flagNames are the --flags node takes, its own first.
func flagNames(node *kong.Node) []string {
	var out []string
	for n := node; n != nil; n = n.Parent {
		for _, f := range n.Flags {
			if !f.Hidden {
				out = append(out, "--"+f.Name)
			}
		}
	}
	return out
}

// completionConfig loads the configuration for completion: no state, no
// SSH client configuration, output discarded, nil on any error.
func (a *App) completionConfig(chdir, file string) *spec.Config {
	dir, err := filepath.Abs(chdir)
	if err != nil {
		return nil
	}
	reg, err := a.Registry(dir)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(a.ctx, completeTimeout)
	defer cancel()
	cfg, err := lang.Load(ctx, lang.Options{
		Dir:       dir,
		File:      file,
		Vars:      a.Var,
		LookupEnv: a.LookupEnv,
		Schemas:   reg.Schemas(),
		Providers: LangProviders(reg),
		Print:     func(spec.Pos, string) {},
	})
	if err != nil {
		return nil
	}
	return cfg
}

// bashCompletion hands bash's line up to the cursor to ferry. Bash splits
// words at ":" and "=" too (COMP_WORDBREAKS), so the part of ferry's word
// before bash's current word is cut from the candidates.
const bashCompletion = `# ferry completion for bash: eval "$(ferry completion bash)"
_ferry() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local out
    out=$(command ferry __complete --line "${COMP_LINE:0:COMP_POINT}" 2>/dev/null) || return 0
    local -a lines
    mapfile -t lines <<<"$out"
    local kind=${lines[0]} word=${lines[1]}
    local cut=${word%"$cur"}
    COMPREPLY=()
    local c
    for c in "${lines[@]:2}"; do
        [[ -n $c ]] || continue
        COMPREPLY+=("${c#"$cut"}")
        [[ $c == *[:=] ]] && compopt -o nospace 2>/dev/null
    done
    if [[ $kind == files ]]; then
        local f
        while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen -f -- "$cur")
        compopt -o filenames 2>/dev/null
    fi
    return 0
}
complete -F _ferry ferry
`

// zshCompletion hands zsh's words up to the cursor to ferry.
const zshCompletion = `#compdef ferry
# ferry completion for zsh: save as _ferry in a directory of $fpath, or
# source <(ferry completion zsh)
_ferry() {
    local -a lines cands nospace
    lines=("${(@f)$(command ferry __complete -- "${(@)words[1,CURRENT]}" 2>/dev/null)}")
    local kind=$lines[1] c
    for c in "${(@)lines[3,-1]}"; do
        [[ -n $c ]] || continue
        if [[ $c == *[:=] ]]; then nospace+=("$c"); else cands+=("$c"); fi
    done
    (( $#cands )) && compadd -U -Q -- "${cands[@]}"
    (( $#nospace )) && compadd -U -Q -S '' -- "${nospace[@]}"
    [[ $kind == files ]] && _files
    return 0
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _ferry "$@"
else
    compdef _ferry ferry
fi
`

// fishCompletion hands fish's tokens to ferry.
const fishCompletion = `# ferry completion for fish: ferry completion fish | source
function __ferry_complete
    set -l out (command ferry __complete -- (commandline -opc) (commandline -ct) 2>/dev/null)
    or return
    for c in $out[3..-1]
        test -n "$c"; and echo $c
    end
    if test "$out[1]" = files
        __fish_complete_path (commandline -ct)
    end
end
complete -c ferry -f -a '(__ferry_complete)'
`
