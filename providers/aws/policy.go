package aws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// Policy documents (a bucket policy, a role's trust policy and inline
// policies) are JSON that AWS stores in its own form: keys reordered,
// white space dropped, a one-element list written as its element, the
// statements of a list in another order. ferry compares them by meaning,
// so that a policy AWS rewrote is no change, and keeps the document as
// the configuration wrote it while AWS holds the same policy.

// checkPolicy says what is wrong with a policy argument, nil if nothing.
func checkPolicy(addr, name, doc string) error {
	var v map[string]any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return fmt.Errorf("%s: argument %q is not a JSON policy document (%v); build it with json.encode({...})", addr, name, err)
	}
	if _, ok := v["Statement"]; !ok {
		return fmt.Errorf(`%s: argument %q has no "Statement"; a policy document is {"Version": "2012-10-17", "Statement": [...]}`, addr, name)
	}
	return nil
}

// samePolicy reports whether two policy documents mean the same; two
// strings that are not JSON are the same only when equal.
func samePolicy(a, b string) bool {
	if a == b {
		return true
	}
	ca, errA := canonicalPolicy(a)
	cb, errB := canonicalPolicy(b)
	return errA == nil && errB == nil && ca == cb
}

// keepPolicy is the policy to record: prior, as the configuration wrote
// it, while AWS holds the same policy; else what AWS holds.
func keepPolicy(prior any, remote string) string {
	if p, ok := prior.(string); ok && samePolicy(p, remote) {
		return p
	}
	return remote
}

// canonicalPolicy renders a policy so that documents of the same meaning
// render alike: lists are sets (sorted, without duplicates) and a list of
// one element is that element.
func canonicalPolicy(doc string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	return canonicalJSON(v), nil
}

func canonicalJSON(v any) string {
	switch v := v.(type) {
	case map[string]any:
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b.WriteByte(',')
			}
			key, _ := json.Marshal(k)
			b.Write(key)
			b.WriteByte(':')
			b.WriteString(canonicalJSON(v[k]))
		}
		b.WriteByte('}')
		return b.String()
	case []any:
		elems := make([]string, len(v))
		for i, e := range v {
			elems[i] = canonicalJSON(e)
		}
		slices.Sort(elems)
		elems = slices.Compact(elems)
		if len(elems) == 1 {
			return elems[0]
		}
		return "[" + strings.Join(elems, ",") + "]"
	default:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		return strings.TrimSpace(b.String())
	}
}

// iamDocument decodes a policy document as IAM returns it: URL-encoded
// JSON (PathUnescape: a "+" stays a "+").
func iamDocument(s string) string {
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}
