// netwarden's programs for the node, shipped in the agent image: the boot gate CNI plugin
// netwarden-cni-gate (this folder, docs/cni-gate.md) and netwarden-nft-generation (nft-generation/,
// the ruleset generation the agent's steady rounds key their reuse on). Standard library only, so
// that they build in seconds and their size and start-up cost stay small.
// Built by src/lab/binaries.ts (`netwarden lab build`) into a cache outside the repo.
module netwarden.dev/cni-gate

go 1.26.0
