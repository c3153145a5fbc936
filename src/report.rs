//! Human and JSON output. Steps go to stderr, one line each; results (and JSON) go to stdout.

use std::io::{IsTerminal, Write};

use serde::Serialize;

/// Prints what a command does, step by step.
#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    /// When true, human step lines are suppressed and results are JSON.
    pub json: bool,
}

impl Reporter {
    /// A reporter for `--json` or human output.
    pub fn new(json: bool) -> Self {
        Reporter { json }
    }

    /// One step: a short verb and what happened.
    pub fn step(&self, verb: &str, text: impl AsRef<str>) {
        if !self.json {
            eprintln!("{} {}", paint(&format!("{verb:>9}"), "1;32"), text.as_ref());
        }
    }

    /// A warning the user should read.
    pub fn warn(&self, text: impl AsRef<str>) {
        eprintln!("{} {}", paint("  warning", "1;33"), text.as_ref());
    }

    /// A human result line on stdout (nothing in JSON mode).
    pub fn line(&self, text: impl AsRef<str>) {
        if !self.json {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout().lock(), "{}", text.as_ref());
        }
    }

    /// The JSON result on stdout (nothing in human mode).
    pub fn json<T: Serialize>(&self, value: &T) {
        if self.json {
            // Serialised whole first: stdout flushes at every newline, and pretty JSON has many.
            let mut text = serde_json::to_vec_pretty(value).unwrap_or_default();
            text.push(b'\n');
            let _ = std::io::stdout().lock().write_all(&text);
        }
    }
}

/// Wraps `text` in an ANSI colour when stderr is a terminal and NO_COLOR is unset.
pub fn paint(text: &str, code: &str) -> String {
    if color_enabled() { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
}

/// True when colour may be used on stderr.
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Wraps `text` in an ANSI colour when stdout is a terminal and NO_COLOR is unset (for tables
/// and result lines, which go to stdout and are often piped).
pub fn paint_out(text: &str, code: &str) -> String {
    if stdout_color_enabled() { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
}

/// True when colour may be used on stdout.
pub fn stdout_color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// The size of the file at `p`, for messages: 0 when it cannot be read.
pub fn size_of(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// A size for people: "6,144 B", "8.5 KiB", "1.6 MiB".
pub fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 10 * 1024 {
        format!("{} B", group_digits(bytes))
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / KIB / KIB)
    } else {
        format!("{:.2} GiB", b / KIB / KIB / KIB)
    }
}

/// 6144 → "6,144".
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A digest shortened for display: "sha256:0123456789ab".
pub fn short_digest(d: &str) -> String {
    d.get(..19).unwrap_or(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(6144), "6,144 B");
        assert_eq!(human_size(94 * 1024), "94.0 KiB");
        assert_eq!(human_size(1_600_000), "1.5 MiB");
        assert_eq!(group_digits(1234567), "1,234,567");
    }
}
