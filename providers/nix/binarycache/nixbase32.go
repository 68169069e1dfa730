package binarycache

// nixBase32Alphabet is Nix's base-32 alphabet (no e, o, u, t).
const nixBase32Alphabet = "0123456789abcdfghijklmnpqrsvwxyz"

// nixBase32 encodes b as Nix prints hashes ("sha256:1b8m03r63..."): the
// bits taken from the end of b, most significant character first.
func nixBase32(b []byte) string {
	n := (len(b)*8-1)/5 + 1
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		bit := i * 5
		j, k := bit/8, bit%8
		c := int(b[j]) >> k
		if j+1 < len(b) {
			c |= int(b[j+1]) << (8 - k)
		}
		out[n-1-i] = nixBase32Alphabet[c&0x1f]
	}
	return string(out)
}
