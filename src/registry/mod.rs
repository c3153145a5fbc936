//! The registry client: credentials and the OCI distribution API that pushes an archive and
//! attaches artifacts to it. Image names and their docker.io rules live in `reference`, below
//! the image model that writes them.

pub(crate) mod auth;
pub(crate) mod push;
pub(crate) mod store;
