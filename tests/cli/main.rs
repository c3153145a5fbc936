//! Integration tests: the real CLI, driven as a user would.
