package awstest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// NixOSOwner is the AWS account of the NixOS project, which publishes
// the NixOS images (AMIs) lookups search.
const NixOSOwner = "427812963091"

// Image is a fake AMI the test bed's moto knows in every region.
type Image struct {
	ID      string
	Name    string
	Arch    string // "x86_64" or "arm64"
	Created time.Time
}

// NixOSImages are the fake NixOS images of the test bed, owned by
// NixOSOwner, as the NixOS project names them
// (nixos/RELEASE.REV-ARCH-linux): two 25.11 x86_64 images, the newer one
// first, a 25.11 arm64 image and a 25.05 one. moto's RegisterImage makes
// images of the caller's own account without an architecture, so the bed
// gives moto these through MOTO_AMIS_PATH, next to moto's own images.
func NixOSImages() []Image {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }
	return []Image{
		{ID: "ami-0251100000000b002", Name: "nixos/25.11.2002.bbbbbbb-x86_64-linux", Arch: "x86_64", Created: day(2026, 1, 15)},
		{ID: "ami-0251100000000a001", Name: "nixos/25.11.1001.aaaaaaa-x86_64-linux", Arch: "x86_64", Created: day(2025, 12, 1)},
		{ID: "ami-0251100000000c003", Name: "nixos/25.11.2002.bbbbbbb-aarch64-linux", Arch: "arm64", Created: day(2026, 1, 15)},
		{ID: "ami-0250500000000d004", Name: "nixos/25.05.900.ddddddd-x86_64-linux", Arch: "x86_64", Created: day(2025, 6, 1)},
	}
}

// writeAMIs writes moto's own images (from the venv, when it has them)
// and NixOSImages into dir/amis.json, for MOTO_AMIS_PATH (which replaces
// moto's list), and returns its path.
func writeAMIs(dir string) (string, error) {
	var amis []map[string]any
	if venv, err := VenvDir(); err == nil {
		matches, _ := filepath.Glob(filepath.Join(venv, "lib", "python*", "site-packages", "moto", "ec2", "resources", "amis.json.gz"))
		if len(matches) > 0 {
			if amis, err = readGzipJSON(matches[0]); err != nil {
				return "", fmt.Errorf("moto's images: %w", err)
			}
		}
	}
	for _, img := range NixOSImages() {
		amis = append(amis, map[string]any{
			"ami_id":              img.ID,
			"name":                img.Name,
			"description":         "NixOS " + img.Name,
			"owner_id":            NixOSOwner,
			"public":              true,
			"architecture":        img.Arch,
			"virtualization_type": "hvm",
			"hypervisor":          "xen",
			"root_device_type":    "ebs",
			// Real NixOS images boot from /dev/xvda, but moto attaches
			// the default root volume of every instance at /dev/sda1.
			"root_device_name": "/dev/sda1",
			"creation_date":    img.Created.Format("2006-01-02T15:04:05.000Z"),
			"state":            "available",
		})
	}
	b, err := json.Marshal(amis)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "amis.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", fmt.Errorf("write the test bed's images: %w", err)
	}
	return path, nil
}

func readGzipJSON(path string) ([]map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
