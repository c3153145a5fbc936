//! A program's name: the file it becomes inside the image and the image's default tag. One
//! rule for every command: the last component of a path (without its extension for a source
//! file); an empty name, "." and ".." name nothing, and the user is told which flag names it.

use std::path::Path;

use crate::error::{Error, Result};

/// Which part of a path names the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamePart {
    /// The whole file name: a binary ("redis-server") or an output (`-o out/sqlite3`).
    File,
    /// The file name without its extension: a source ("src/hello.c" → "hello").
    Stem,
}

/// The program's name from `path`, when the path has a usable one.
pub(crate) fn name_from(path: &Path, part: NamePart) -> Option<String> {
    let name = match part {
        NamePart::File => path.file_name(),
        NamePart::Stem => path.file_stem(),
    }?;
    let name = name.to_string_lossy().into_owned();
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

/// [`name_from`], or an input error saying which flag (`-o NAME`, `-t NAME`) names it instead.
pub(crate) fn program_name(path: &Path, part: NamePart, flag: &str) -> Result<String> {
    name_from(path, part)
        .ok_or_else(|| Error::input(path, "cannot name the program after this path", Some(format!("pass {flag} NAME"))))
}

/// The name `-o` gives when it is set and usable (it names the program inside the image and the
/// default tag), else `default`.
pub(crate) fn output_or(output: Option<&Path>, default: &str) -> String {
    output.and_then(|o| name_from(o, NamePart::File)).unwrap_or_else(|| default.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_last_component() {
        assert_eq!(output_or(Some(Path::new("out/sqlite3")), "shell"), "sqlite3");
        assert_eq!(output_or(None, "shell"), "shell");
        assert_eq!(output_or(Some(Path::new("/")), "shell"), "shell");
        assert_eq!(name_from(Path::new("src/hello.c"), NamePart::Stem).as_deref(), Some("hello"));
        assert_eq!(name_from(Path::new("bin/redis-server"), NamePart::File).as_deref(), Some("redis-server"));
        assert_eq!(name_from(Path::new(".."), NamePart::File), None);
        let e = program_name(Path::new("/"), NamePart::File, "-t").unwrap_err();
        assert_eq!((e.exit_code(), e.help().as_deref()), (crate::error::EXIT_IO, Some("pass -t NAME")));
    }
}
