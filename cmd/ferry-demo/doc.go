// Command ferry-demo runs ferry's main job end to end and narrates it:
// it starts two local NixOS-like test hosts (each its own sshd with its own
// /nix, /run and /root), plans examples/staging-git against them with a stub
// nixpkgs and file:// state, applies exactly the reviewed plan over ferry's
// own SSH, shows what each host now runs, and re-plans to show that nothing
// is left to do. Then it rolls examples/rolling-web out to three more hosts
// (keys, health checks, batches), breaks one host's health and rolls out a
// new release: that host switches back and the rollout stops before the
// last one. Last, it runs examples/basics, the built-in resources.
//
//	go tool task demo     (as root: test hosts need mount namespaces)
package main
