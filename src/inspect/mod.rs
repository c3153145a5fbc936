//! Reading an image back to say what is in it: its layers stacked the way a runtime does, and
//! the bytes that end up hidden.

pub(crate) mod report;
pub(crate) mod waste;
