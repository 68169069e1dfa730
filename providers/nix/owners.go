package nix

import (
	"bufio"
	"fmt"
	"os"
	"slices"
)

// DerivationOwners maps every derivation in the derivation closures of
// tops (toplevel .drv files, one per machine) to the tops whose closure
// holds it, sorted. It reads the .drv files themselves (each once), so it
// costs no Nix process: callers use it to say for which machines Nix is
// building a derivation.
func DerivationOwners(tops []string) (map[string][]string, error) {
	inputs := map[string][]string{} // drv -> its input derivations
	var read func(drv string) error
	read = func(drv string) error {
		if _, ok := inputs[drv]; ok {
			return nil
		}
		in, err := readInputDrvs(drv)
		if err != nil {
			return err
		}
		inputs[drv] = in
		for _, d := range in {
			if err := read(d); err != nil {
				return err
			}
		}
		return nil
	}
	owners := map[string][]string{}
	for _, top := range uniqueSorted(tops) {
		if err := read(top); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		stack := []string{top}
		for len(stack) > 0 {
			d := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[d] {
				continue
			}
			seen[d] = true
			owners[d] = append(owners[d], top)
			stack = append(stack, inputs[d]...)
		}
	}
	for _, o := range owners {
		slices.Sort(o)
	}
	return owners, nil
}

// readInputDrvs reads the input derivations of the derivation at drvPath
// (ATerm: Derive([outputs],[("/nix/store/...drv",["out"]),...],...).
func readInputDrvs(drvPath string) ([]string, error) {
	f, err := os.Open(drvPath)
	if err != nil {
		return nil, fmt.Errorf("read derivation %s: %w", drvPath, err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	if _, err := parseOutputs(r); err != nil {
		return nil, fmt.Errorf("read derivation %s: %w", drvPath, err)
	}
	p := atermReader{r: r}
	p.expect("],[")
	var drvs []string
	for p.err == nil && p.peek() != ']' {
		if len(drvs) > 0 {
			p.expect(",")
		}
		p.expect("(")
		drvs = append(drvs, p.str())
		p.expect(",[")
		for i := 0; p.err == nil && p.peek() != ']'; i++ {
			if i > 0 {
				p.expect(",")
			}
			p.str()
		}
		p.expect("])")
	}
	if p.err != nil {
		return nil, fmt.Errorf("read derivation %s: %w", drvPath, p.err)
	}
	return drvs, nil
}
