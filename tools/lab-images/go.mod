// The lab's own tiny workloads, built as static Go programs and packed into OCI images by
// src/lab/images.ts (no dependencies: the standard library only).
module netwarden.dev/lab-images

go 1.26.0
