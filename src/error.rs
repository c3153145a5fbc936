//! The one error type of staticize: every variant names the thing, the step and the fix,
//! and maps to a documented exit code.

use std::path::PathBuf;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: a verdict failed (not static, over budget, unresolved libraries).
pub const EXIT_VERDICT: u8 = 1;
/// Exit code: the command line was wrong.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: a toolchain was missing or a build failed.
pub const EXIT_TOOLCHAIN: u8 = 3;
/// Exit code: an input or output problem (missing file, unwritable directory, bad archive).
pub const EXIT_IO: u8 = 4;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, grouped by who must act to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something that does not make sense.
    #[error("{message}")]
    Usage {
        /// What is wrong with the request.
        message: String,
        /// How to ask correctly.
        help: Option<String>,
    },
    /// A tool staticize needs is not installed.
    #[error("{tool} not found — {hint}")]
    ToolMissing {
        /// The tool that was looked for.
        tool: String,
        /// How to install it, or which variable points at it.
        hint: String,
    },
    /// An external command ran and failed.
    #[error("{step} failed: `{command}` {status}{}", tail_block(.stderr))]
    CommandFailed {
        /// What staticize was doing (e.g. "compile hello.c").
        step: String,
        /// The command line, shortened for display.
        command: String,
        /// "exited with status 1", "was killed by signal 9", or "could not start: …".
        status: String,
        /// The tail of the command's stderr.
        stderr: String,
    },
    /// A build produced something staticize cannot use.
    #[error("{step}: {message}")]
    Build {
        /// The step that failed.
        step: String,
        /// What went wrong.
        message: String,
        /// What to do about it.
        help: Option<String>,
    },
    /// Reading or writing a file failed.
    #[error("{step} {}: {source}", .path.display())]
    Io {
        /// What staticize was doing ("read", "write image", …).
        step: String,
        /// The file involved.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// An input file is not what the command needs.
    #[error("{}: {message}", .path.display())]
    Input {
        /// The file involved.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
        /// What to do about it.
        help: Option<String>,
    },
    /// A registry could not be reached, refused us, or failed (a destination I/O problem).
    #[error("registry {registry}: {message}")]
    Registry {
        /// host[:port] of the registry.
        registry: String,
        /// What happened.
        message: String,
        /// What to do about it.
        help: Option<String>,
    },
    /// A check ran and its verdict failed; the output has already said why.
    #[error("{message}")]
    Verdict {
        /// One-line summary of the failed verdict.
        message: String,
        /// What to do about it.
        help: Option<String>,
    },
}

fn tail_block(stderr: &str) -> String {
    if stderr.trim().is_empty() { String::new() } else { format!("\n{}", stderr.trim_end()) }
}

impl Error {
    /// The documented process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Verdict { .. } => EXIT_VERDICT,
            Error::Usage { .. } => EXIT_USAGE,
            Error::ToolMissing { .. } | Error::CommandFailed { .. } | Error::Build { .. } => EXIT_TOOLCHAIN,
            Error::Io { .. } | Error::Input { .. } | Error::Registry { .. } => EXIT_IO,
        }
    }

    /// The "help:" line shown under the error, when there is one.
    pub fn help(&self) -> Option<String> {
        match self {
            Error::Usage { help, .. }
            | Error::Build { help, .. }
            | Error::Input { help, .. }
            | Error::Registry { help, .. }
            | Error::Verdict { help, .. } => help.clone(),
            Error::Io { source, path, .. } => io_help(source, path),
            Error::ToolMissing { .. } | Error::CommandFailed { .. } => None,
        }
    }

    /// Shorthand for a usage error with a help line.
    pub fn usage(message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::Usage { message: message.into(), help: Some(help.into()) }
    }

    /// Shorthand for an I/O error on a path during a step.
    pub fn io(step: impl Into<String>, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { step: step.into(), path: path.into(), source }
    }

    /// Shorthand for a bad input file.
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>, help: Option<String>) -> Self {
        Error::Input { path: path.into(), message: message.into(), help }
    }
}

fn io_help(source: &std::io::Error, path: &std::path::Path) -> Option<String> {
    use std::io::ErrorKind::*;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    match source.kind() {
        NotFound => Some(format!("check the path {} exists", path.display())),
        PermissionDenied | ReadOnlyFilesystem => {
            Some(format!("make {} writable, or choose another output with -o", dir.display()))
        }
        StorageFull | QuotaExceeded => Some("free some disk space or write the output elsewhere with -o".into()),
        FileTooLarge => Some("raise the file-size limit (ulimit -f) or write the output elsewhere with -o".into()),
        _ => None,
    }
}
