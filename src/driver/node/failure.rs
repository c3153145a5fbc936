//! What a failed esbuild run means: packages that are really not installed (then, and only
//! then, "npm install" is the help), or a program esbuild cannot make one script of (a native
//! addon, top-level await in an ES module) — which node runs as it is from its package tree.

use std::path::Path;

use crate::error::Error;

/// Why esbuild failed, in the terms that decide what to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BundleFailure {
    /// Packages imported by name that no node_modules directory above the project holds.
    Missing(Vec<String>),
    /// The program cannot be one script; the reason, in plain words.
    Unbundlable(String),
}

/// Reads esbuild's stderr; `project` is the directory esbuild ran in.
pub(crate) fn bundle_failure(stderr: &str, project: &Path) -> BundleFailure {
    let errors: Vec<&str> = stderr.lines().filter_map(|l| l.split_once("[ERROR] ").map(|(_, e)| e.trim())).collect();
    if let Some(addon) = errors.iter().find_map(|e| e.strip_prefix("No loader is configured for \".node\" files: ")) {
        return BundleFailure::Unbundlable(format!("it loads the native addon {addon}, which cannot go into a script"));
    }
    let unresolved: Vec<&str> = errors
        .iter()
        .filter_map(|e| e.strip_prefix("Could not resolve \"").and_then(|r| r.split('"').next()))
        .collect();
    let missing: Vec<String> = unresolved
        .iter()
        .filter(|s| !s.starts_with('.') && !s.starts_with('/'))
        .map(|s| package_name(s))
        .filter(|p| !installed(project, p))
        .collect();
    if !missing.is_empty() {
        return BundleFailure::Missing(missing);
    }
    match (unresolved.first(), errors.first()) {
        (Some(spec), _) => {
            BundleFailure::Unbundlable(format!("esbuild could not resolve {spec}, which node resolves at run time"))
        }
        (None, Some(e)) => BundleFailure::Unbundlable(format!("esbuild cannot bundle it: {e}")),
        (None, None) => BundleFailure::Unbundlable("esbuild failed".into()),
    }
}

impl BundleFailure {
    /// The error for `--layout bundle` (or a missing package under any layout).
    pub(crate) fn into_error(self, step: String, stderr: &str, project: &Path) -> Error {
        let (message, help) = match self {
            BundleFailure::Missing(pkgs) => (
                format!("these packages are not installed: {}", pkgs.join(", ")),
                format!("install the program's packages first: npm install (in {})", project.display()),
            ),
            BundleFailure::Unbundlable(why) => (
                format!("cannot make one script of the program: {why}"),
                "leave out --layout bundle: the package tree layout runs it as node would".to_string(),
            ),
        };
        Error::Build { step, message: format!("{message}\n{}", stderr.trim_end()), help: Some(help) }
    }
}

/// "@scope/name/sub" → "@scope/name"; "name/sub" → "name".
fn package_name(spec: &str) -> String {
    let mut parts = spec.split('/');
    let first = parts.next().unwrap_or_default();
    match (first.starts_with('@'), parts.next()) {
        (true, Some(second)) => format!("{first}/{second}"),
        _ => first.to_string(),
    }
}

/// Whether node would find package `name` from `dir` (a node_modules directory above it).
fn installed(dir: &Path, name: &str) -> bool {
    dir.ancestors().any(|a| a.join("node_modules").join(name).join("package.json").is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_native_addon_is_unbundlable_not_missing() {
        let d = tempfile::tempdir().unwrap();
        let err = "✘ [ERROR] No loader is configured for \".node\" files: node_modules/x/build/x.node\n";
        assert_eq!(
            bundle_failure(err, d.path()),
            BundleFailure::Unbundlable(
                "it loads the native addon node_modules/x/build/x.node, which cannot go into a script".into()
            )
        );
    }

    #[test]
    fn only_packages_that_are_absent_are_missing() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("node_modules/@s/here")).unwrap();
        std::fs::write(d.path().join("node_modules/@s/here/package.json"), "{}").unwrap();
        let err = "✘ [ERROR] Could not resolve \"absent/sub\"\n✘ [ERROR] Could not resolve \"@s/here/x\"\n";
        assert_eq!(bundle_failure(err, d.path()), BundleFailure::Missing(vec!["absent".into()]));
        let err = "✘ [ERROR] Could not resolve \"@s/here/x\"\n";
        assert!(matches!(bundle_failure(err, d.path()), BundleFailure::Unbundlable(_)));
        let err = "✘ [ERROR] Top-level await is currently not supported with the \"cjs\" output format\n";
        assert!(
            matches!(bundle_failure(err, d.path()), BundleFailure::Unbundlable(w) if w.contains("Top-level await"))
        );
    }
}
