package nix

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// drvOutput is one output of a derivation, as its .drv file declares it.
type drvOutput struct {
	Name     string
	Path     string
	HashAlgo string // set for fixed-output derivations (fetched sources)
}

// readOutputs reads the outputs of the derivation at drvPath from its .drv
// file (ATerm: Derive([("out","/nix/store/...","",""),...],...). Only the
// first list is read, so it costs one short read per derivation.
func readOutputs(drvPath string) ([]drvOutput, error) {
	f, err := os.Open(drvPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	outs, err := parseOutputs(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("read derivation %s: %w", drvPath, err)
	}
	return outs, nil
}

func parseOutputs(r *bufio.Reader) ([]drvOutput, error) {
	p := atermReader{r: r}
	p.expect("Derive([")
	var outs []drvOutput
	for p.err == nil {
		c := p.peek()
		if c == ']' {
			break
		}
		if len(outs) > 0 {
			p.expect(",")
		}
		p.expect("(")
		name := p.str()
		p.expect(",")
		path := p.str()
		p.expect(",")
		algo := p.str()
		p.expect(",")
		p.str() // hash
		p.expect(")")
		outs = append(outs, drvOutput{Name: name, Path: path, HashAlgo: algo})
	}
	if p.err != nil {
		return nil, p.err
	}
	if len(outs) == 0 {
		return nil, errors.New("no outputs")
	}
	return outs, nil
}

// atermReader reads the little of the ATerm format that outputs need.
type atermReader struct {
	r   *bufio.Reader
	err error
}

func (p *atermReader) peek() byte {
	if p.err != nil {
		return 0
	}
	b, err := p.r.Peek(1)
	if err != nil {
		p.err = err
		return 0
	}
	return b[0]
}

func (p *atermReader) expect(s string) {
	for i := 0; i < len(s) && p.err == nil; i++ {
		c, err := p.r.ReadByte()
		if err != nil {
			p.err = err
		} else if c != s[i] {
			p.err = fmt.Errorf("not a derivation: expected %q, found %q", s[i], c)
		}
	}
}

func (p *atermReader) str() string {
	p.expect(`"`)
	var b strings.Builder
	for p.err == nil {
		c, err := p.r.ReadByte()
		if err != nil {
			p.err = err
			break
		}
		switch c {
		case '"':
			return b.String()
		case '\\':
			e, err := p.r.ReadByte()
			if err != nil {
				p.err = err
				break
			}
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	if p.err == io.EOF {
		p.err = io.ErrUnexpectedEOF
	}
	return ""
}
