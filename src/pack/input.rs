//! What goes into a pack: each object's role and where its bytes come from. Its own file so the
//! renaming of packed names ([`super::names`]) and the pack writer share it without importing
//! each other.

use std::path::PathBuf;

use serde::Serialize;

use super::format;

/// The role of one packed object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The program itself.
    Program,
    /// Its interpreter (the dynamic loader).
    Interpreter,
    /// A library it needs.
    Library,
    /// A library it dlopen()s (preloaded).
    Dlopen,
}

impl Role {
    /// Its code in the pack header.
    pub(super) fn code(self) -> u8 {
        match self {
            Role::Program => format::ROLE_PROGRAM,
            Role::Interpreter => format::ROLE_INTERP,
            Role::Library => format::ROLE_LIBRARY,
            Role::Dlopen => format::ROLE_DLOPEN,
        }
    }

    /// The role a header code names (an unknown code is a library).
    pub(super) fn of(code: u8) -> Role {
        match code {
            format::ROLE_PROGRAM => Role::Program,
            format::ROLE_INTERP => Role::Interpreter,
            format::ROLE_DLOPEN => Role::Dlopen,
            _ => Role::Library,
        }
    }
}

/// One object to pack: its role, its name in the pack, the file on the host.
#[derive(Debug, Clone)]
pub struct Input {
    /// Program, interpreter or library.
    pub role: Role,
    /// The name: the program's file name, the interpreter's, a library's soname.
    pub name: String,
    /// Where to read it.
    pub host: PathBuf,
    /// The bytes to pack instead of the file's, when the packed copy was changed
    /// ([`super::names::answer_all`]).
    pub bytes: Option<Vec<u8>>,
}
