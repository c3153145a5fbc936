//! What deps are built for (the compilers, architecture and profile: [`Toolset`]), what the
//! cache hands back ([`Entry`]), and the environment variables deps travel in from one staticize
//! process to the next: the data the builder shares with `deps`.

use std::path::PathBuf;

use crate::deps::cache::Manifest;
use crate::deps::recipe::Recipe;
use crate::error::Result;
use crate::platform::Arch;
use crate::toolchain::cc::{self, Chosen};
use crate::toolchain::{Preference, Profile};

/// The environment variable listing deps for `staticize cc` / `staticize c++` (`zlib,openssl`).
pub(crate) const ENV_DEPS: &str = "STATICIZE_DEPS";
/// The flags `staticize build` resolved once, handed to each staticize-cc it runs (JSON).
pub(crate) const ENV_RESOLVED: &str = "STATICIZE_DEPS_RESOLVED";

/// What the libraries are built for: the compilers, the architecture and the profile.
#[derive(Debug, Clone)]
pub(crate) struct Toolset {
    /// The architecture.
    pub arch: Arch,
    /// The C compiler (the one the program is built with).
    pub cc: Chosen,
    /// The C++ compiler, when one is installed.
    pub cxx: Option<Chosen>,
    /// The profile.
    pub profile: Profile,
}

impl Toolset {
    /// The compilers `pref` chooses for `arch`: the host's order, or one that reaches `arch`
    /// (zig) for another architecture.
    pub(crate) fn new(pref: &Preference, arch: Arch) -> Result<Toolset> {
        let (cc, cxx) = cc::compilers(pref, arch)?;
        Ok(Toolset { arch, cc, cxx, profile: pref.profile })
    }

    /// The target of a compiler already chosen (by a staticize-cc) for `arch`.
    pub(crate) fn for_chosen(cc: Chosen, arch: Arch, profile: Profile) -> Toolset {
        Toolset { arch, cc, cxx: None, profile }
    }

    /// The target of the compiler `staticize c` chose for `arch`.
    pub(crate) fn for_compiler(c: &crate::toolchain::Compiler, arch: Arch, profile: Profile) -> Toolset {
        Toolset::for_chosen(Chosen::from(c), arch, profile)
    }
}

/// A library ready in the cache.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Its recipe.
    pub recipe: Recipe,
    /// Its prefix (include/, lib/, lib/pkgconfig/).
    pub prefix: PathBuf,
    /// What it records.
    pub manifest: Manifest,
    /// Whether this run built it (false: it was cached).
    pub built: bool,
    /// The sha256 of its key (what entries built against it name it by).
    pub key: String,
}
