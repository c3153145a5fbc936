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
