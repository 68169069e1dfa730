{ n ? "1" }:
let
  dep = derivation { name = "dep-${n}"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "for i in 1 2 3; do echo dep line $i; done; echo to-stderr >&2; echo x > $out"]; };
  bad = derivation { name = "bad-${n}"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo bad line $i; done; exit 3"]; };
in {
  top = derivation { name = "top-${n}"; system = builtins.currentSystem; builder = "/bin/sh"; inherit dep; args = ["-c" "echo top building with $dep; echo y > $out"]; };
  inherit bad;
}
