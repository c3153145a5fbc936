//! What an entry script needs, read from its text: the modules it imports, whether it is an ES
//! module, and whether a module reads files beside itself (`__dirname` and friends). Only used
//! to choose between running it as is, bundling it, and shipping its package tree; esbuild does
//! the real parsing.

use std::path::{Path, PathBuf};

/// Expressions by which a module finds files relative to its own location.
pub(crate) const SELF_LOCATING: &[&str] =
    &["__dirname", "__filename", "import.meta.url", "import.meta.dirname", "import.meta.filename", "require.resolve"];

/// The module specifiers a script names in `require("…")`, `import("…")`, `import … from "…"`
/// and `import "…"`, grouped by form.
pub(crate) fn specifiers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["require(", "import(", "from", "import"] {
        for (_, rest) in occurrences(text, key) {
            let Some(q) = rest.chars().next().filter(|c| matches!(c, '\'' | '"' | '`')) else { continue };
            if let Some(end) = rest[1..].find(q) {
                let spec = &rest[1..1 + end];
                if !spec.is_empty() && !spec.contains('\n') && !spec.contains("${") {
                    out.push(spec.to_string());
                }
            }
        }
    }
    out
}

/// Why an entry cannot run as it is, or None when it imports nothing but node's built-in
/// modules: every `require(…)` and `import(…)` call in it names a built-in as a plain string.
/// A call with a computed name (`import(path.join(__dirname, 'x.mjs'))`) or one below the top
/// of the file naming a local module counts as much as a package import: it loads a file the
/// executable alone does not have.
pub(crate) fn why_not_as_is(text: &str, builtins: &[String]) -> Option<String> {
    for key in ["require(", "import("] {
        for (at, rest) in occurrences(text, key) {
            let literal = rest.chars().next().filter(|c| matches!(c, '\'' | '"' | '`')).and_then(|q| {
                let end = rest[1..].find(q)?;
                let spec = &rest[1..1 + end];
                let closed = rest[1 + end + 1..].trim_start().starts_with(')');
                (closed && !spec.contains("${")).then_some(spec)
            });
            match literal {
                Some(spec) if is_builtin(spec, builtins) => {}
                Some(spec) => return Some(format!("it imports {spec}")),
                None => {
                    let call: String = text[at..].chars().take(48).take_while(|c| *c != '\n').collect();
                    return Some(format!("it loads a module by a computed name: {call}…"));
                }
            }
        }
    }
    None
}

/// Each place `key` stands as a token of its own — not the tail of a longer name nor a member
/// access (`x.require(`) — with its offset and the text after it, leading space skipped.
fn occurrences<'a>(text: &'a str, key: &'a str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(i) = text[from..].find(key) {
            let at = from + i;
            from = at + key.len();
            let before = text[..at].chars().next_back();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '.') {
                return Some((at, text[from..].trim_start()));
            }
        }
        None
    })
}

/// TypeScript file extensions esbuild compiles.
pub(crate) const TYPESCRIPT: &[&str] = &["ts", "mts", "cts", "tsx"];

/// Whether `entry` is TypeScript (by its extension, as esbuild and node decide).
pub(crate) fn is_typescript(entry: &Path) -> bool {
    entry.extension().and_then(|e| e.to_str()).is_some_and(|e| TYPESCRIPT.contains(&e))
}

/// Whether a specifier names a module built into node ("fs", "node:http").
pub(crate) fn is_builtin(spec: &str, builtins: &[String]) -> bool {
    spec.starts_with("node:")
        || builtins.iter().any(|b| b == spec || spec.strip_prefix(b.as_str()).is_some_and(|r| r.starts_with('/')))
}

/// The nearest directory at or above `start` holding a package.json.
pub(crate) fn package_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|d| d.join("package.json").is_file()).map(Path::to_path_buf)
}

/// The directory a program is installed in: its package's root, or the directory above the
/// node_modules holding it (for a published CLI run from node_modules/NAME/cli.js).
pub(crate) fn project_dir(entry: &Path) -> PathBuf {
    let dir = entry.parent().unwrap_or(Path::new("/"));
    let root = package_root(dir).unwrap_or_else(|| dir.to_path_buf());
    match root.components().position(|c| c.as_os_str() == "node_modules") {
        Some(i) => root.components().take(i).collect(),
        None => root,
    }
}

/// The parsed package.json of a directory, when there is one.
pub(crate) fn package_json(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether node would load `entry` as an ES module: .mjs, or .js under `"type": "module"`, or
/// .js that uses import/export statements.
pub(crate) fn is_esm(entry: &Path, text: &str) -> bool {
    match entry.extension().and_then(|e| e.to_str()) {
        Some("mjs") | Some("mts") => true,
        Some("cjs") | Some("cts") => false,
        _ => {
            let typed = entry
                .parent()
                .and_then(package_root)
                .and_then(|d| package_json(&d))
                .is_some_and(|p| p["type"] == "module");
            typed
                || text.lines().any(|l| {
                    let l = l.trim_start();
                    (l.starts_with("import ") && (l.contains(" from ") || l.contains('"') || l.contains('\'')))
                        || l.starts_with("export ")
                })
        }
    }
}

/// The first self-locating expression in a module's text, if any.
pub(crate) fn self_locating(text: &str) -> Option<&'static str> {
    SELF_LOCATING.iter().copied().find(|m| text.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typescript_by_extension() {
        for f in ["app.ts", "a/b.mts", "c.cts", "v.tsx"] {
            assert!(is_typescript(Path::new(f)), "{f}");
        }
        for f in ["app.js", "types.d", "ts", "app.mjs"] {
            assert!(!is_typescript(Path::new(f)), "{f}");
        }
    }

    #[test]
    fn finds_specifiers_in_both_module_systems() {
        let js = r#"const http = require('node:http');
            const esc = require("escape-html");
            import x from './x.js';
            import "side-effect";
            const later = await import(`lazy`);
            const notme = myrequire('nope'); obj.require('nope2');
            const dynamic = require(name);"#;
        assert_eq!(specifiers(js), ["node:http", "escape-html", "lazy", "./x.js", "side-effect"]);
    }

    #[test]
    fn only_an_entry_naming_nothing_but_built_ins_runs_as_it_is() {
        let b = vec!["fs".to_string(), "path".to_string(), "url".to_string()];
        assert_eq!(why_not_as_is("const fs = require('fs');\nrequire(\"node:path\")", &b), None);
        let mjs = "const path = require('path');\nimport(path.join(__dirname, 'lib/main.mjs')).then(m => m.run());";
        assert_eq!(
            why_not_as_is(mjs, &b).as_deref(),
            Some("it loads a module by a computed name: import(path.join(__dirname, 'lib/main.mjs')).the…")
        );
        let later = "const fs = require('fs');\nfunction go() { return require('./lib/x.js'); }";
        assert_eq!(why_not_as_is(later, &b).as_deref(), Some("it imports ./lib/x.js"));
        assert_eq!(
            why_not_as_is("import(`./${name}.mjs`)", &b).as_deref().map(|s| &s[..35]),
            Some("it loads a module by a computed nam")
        );
        assert!(why_not_as_is("require('./a' + x)", &b).is_some());
        assert_eq!(why_not_as_is("myrequire('./x'); obj.import('y')", &b), None);
    }

    #[test]
    fn builtins() {
        let b = vec!["fs".to_string(), "http".to_string()];
        assert!(is_builtin("node:test", &b));
        assert!(is_builtin("fs", &b));
        assert!(is_builtin("fs/promises", &b));
        assert!(!is_builtin("fsx", &b));
        assert!(!is_builtin("./fs", &b));
    }

    #[test]
    fn self_locating_modules() {
        assert_eq!(self_locating("fs.readdirSync(path.join(__dirname, '../cows'))"), Some("__dirname"));
        assert_eq!(self_locating("new URL('./data', import.meta.url)"), Some("import.meta.url"));
        assert_eq!(self_locating("module.exports = 1"), None);
    }
}
