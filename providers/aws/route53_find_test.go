package aws

import "testing"

func TestNormDomain(t *testing.T) {
	tests := map[string]string{
		"example.com":          "example.com",
		"Example.COM.":         "example.com",
		`\052.example.com.`:    "*.example.com",
		`a\100b.example.com`:   "a@b.example.com",
		`trailing\05`:          `trailing\05`,
		`back\\slash.example.`: `back\\slash.example`,
		".":                    "",
	}
	for in, want := range tests {
		if got := normDomain(in); got != want {
			t.Errorf("normDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRecordID(t *testing.T) {
	tests := []struct {
		id, zone, name, typ string
		ok                  bool
	}{
		{"Z123_www.example.com_A", "Z123", "www.example.com", "A", true},
		{"Z123__dmarc.example.com_TXT", "Z123", "_dmarc.example.com", "TXT", true},
		{"/hostedzone/Z123_a_b.example.com_AAAA", "Z123", "a_b.example.com", "AAAA", true},
		{"Z123_www.example.com_BOGUS", "", "", "", false},
		{"Z123_www.example.com", "", "", "", false},
		{"nonsense", "", "", "", false},
	}
	for _, tt := range tests {
		zone, name, typ, ok := parseRecordID(tt.id)
		if ok != tt.ok || (ok && (zone != tt.zone || name != tt.name || typ != tt.typ)) {
			t.Errorf("parseRecordID(%q) = %q, %q, %q, %v", tt.id, zone, name, typ, ok)
		}
	}
}

func TestRoute53Region(t *testing.T) {
	for region, want := range map[string]string{"eu-west-1": "us-east-1", "cn-north-1": "cn-northwest-1", "us-gov-east-1": "us-gov-west-1"} {
		if got := route53Region(region); got != want {
			t.Errorf("route53Region(%q) = %q, want %q", region, got, want)
		}
	}
}
