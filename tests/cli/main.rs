//! Integration tests: the real CLI, driven as a user would, against real compilers, podman,
//! docker and a registry. One test binary; one module per area.

mod support;

mod bundle;
mod c_build;
mod check;
mod check_tree;
mod gate;
mod go_rust;
mod images;
mod inspect;
mod node;
mod push;
mod sbom;

// Reliability (issue 8): shared fixtures, the bad-input matrix, crash safety, reproducibility.
mod bad_inputs;
mod crash_safety;
mod hostile_archives;
mod programs;
mod reproducible;

// Paper cuts (issue 13).
mod papercuts;
