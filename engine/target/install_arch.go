package target

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"io"
	"path"
	"strings"
)

// The architecture of a kexec image, checked at plan time against the
// host's (uname -m). Two things tell it, when present: an architecture
// named in the image's file name (nixos-images names its tarballs
// nixos-kexec-installer-ARCH-linux.tar.gz), and the ELF header of the first
// executable in a gzip tarball (nixos-images ships a static kexec/kexec).
// An image that shows neither (another compression, no ELF file in it)
// cannot be checked before it runs: the host's kexec then refuses a
// kernel of the wrong architecture, after the upload.

// archNames maps the spellings of architectures in file names to uname -m.
var archNames = map[string]string{
	"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64",
	"i686": "i686", "i386": "i686", "armv7l": "armv7l", "riscv64": "riscv64",
}

// elfArch maps ELF machines to uname -m.
func elfArch(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86_64"
	case elf.EM_AARCH64:
		return "aarch64"
	case elf.EM_386:
		return "i686"
	case elf.EM_ARM:
		return "armv7l"
	case elf.EM_RISCV:
		return "riscv64"
	}
	return m.String()
}

// archOfName is the architecture the image's file name names, "" when it
// names none (or more than one).
func archOfName(url string) string {
	base := path.Base(url)
	found := ""
	for _, tok := range strings.FieldsFunc(base, func(r rune) bool { return r == '-' || r == '.' || r == '+' }) {
		if a, ok := archNames[tok]; ok {
			if found != "" && found != a {
				return ""
			}
			found = a
		}
	}
	return found
}

// archOfTarball is the architecture of the first ELF file in the gzip
// tarball r, "" when r is not one or holds none. It reads r only as far
// as it needs: the caller drains the rest.
func archOfTarball(r io.Reader) string {
	gz, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return ""
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			return ""
		}
		if h.Typeflag != tar.TypeReg || h.Size < 20 {
			continue
		}
		var hdr [20]byte
		if _, err := io.ReadFull(tr, hdr[:]); err != nil || !bytes.Equal(hdr[:4], []byte(elf.ELFMAG)) {
			continue
		}
		var order binary.ByteOrder = binary.LittleEndian
		if elf.Data(hdr[elf.EI_DATA]) == elf.ELFDATA2MSB {
			order = binary.BigEndian
		}
		return elfArch(elf.Machine(order.Uint16(hdr[18:20])))
	}
}
