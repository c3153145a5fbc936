//! Integration tests: the real CLI, driven as a user would, against real compilers, podman,
//! docker and a registry. One test binary; one module per area.

mod support;

// Debian source packages shared by the build tests (issue 15 moved them out of build_systems).
mod sources;

mod build_systems;
mod bundle;
mod bundle_complete;
mod bundle_works;
mod c_build;
mod check;
mod check_tree;
mod gate;
mod go_rust;
mod hints;
mod images;
mod inspect;
mod node;
mod node_alone;
mod node_tree;
mod plan;
mod push;
mod sbom;
mod sign;
mod squash;

// Reliability (issue 8): shared fixtures, the bad-input matrix, crash safety, reproducibility.
mod bad_inputs;
mod crash_safety;
mod hostile_archives;
mod pack;
mod programs;
// The proof run (issue 25): every output run inside its own files.
mod prove;
mod reproducible;

// Paper cuts (issue 13).
mod papercuts;

// Libraries built static for musl: --dep, the deps cache (issue 15).
mod deps;
// Library recipes for --dep (issue 15), each proven by a real program.
mod deps_recipes;
// Root causes of outputs called good that did not run (issue 25).
mod roots;

// Caches shared through a registry (issue 30).
mod cache_registry;
// Layers by how often they change, the blob cache, pushes of only what changed (issue 29).
mod layers;

// Cross builds of C and C++ for another platform, proven under qemu (issue 27).
mod cross;
// Cross builds of real projects with their own build systems, and of the recipes (issue 27).
mod cross_build;
