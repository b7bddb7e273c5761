// The boot gate CNI plugin netwarden-cni-gate (docs/cni-gate.md). Standard library only, so that it
// builds in seconds and its size and start-up cost stay small: it runs once per pod network set-up.
// Built by src/lab/binaries.ts (`netwarden lab build`) into a cache outside the repo.
module netwarden.dev/cni-gate

go 1.26.0
