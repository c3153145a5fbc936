//! The `[[budget]]` tables of `staticize.toml` (read by [`crate::config`]), checked into
//! [`Budget`]s; every mistake is reported as `FILE:LINE:COLUMN` with the line underlined.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::config::{CONFIG_FILE, ConfigFile, located};
use crate::error::{Error, Result};
use crate::gate::size::{Growth, Size};

/// A parsed and checked config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// The directory relative paths and builds start from (the file's directory).
    pub dir: PathBuf,
    /// The budgets, in file order.
    pub budgets: Vec<Budget>,
}

/// What one budget measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measured {
    /// An executable file.
    Binary(PathBuf),
    /// An image archive written by staticize (or any OCI / docker-archive tar).
    Image(PathBuf),
}

impl Measured {
    /// The file measured.
    pub fn path(&self) -> &Path {
        match self {
            Measured::Binary(p) | Measured::Image(p) => p,
        }
    }

    /// "binary" or "image".
    pub fn kind(&self) -> &'static str {
        match self {
            Measured::Binary(_) => "binary",
            Measured::Image(_) => "image",
        }
    }
}

/// The limits one budget sets; every field is optional but at least one is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Largest size of the file (binary, or image archive), in bytes.
    pub max: Option<u64>,
    /// Largest sum of compressed layer blobs (images).
    pub max_compressed: Option<u64>,
    /// Largest sum of uncompressed layer tars (images).
    pub max_uncompressed: Option<u64>,
    /// Most files (non-directories) in the layers (images).
    pub max_files: Option<u64>,
    /// The binary, or every ELF program in the image, must be static.
    pub require_static: bool,
    /// How much each byte measure may grow against staticize.lock.
    pub max_growth: Option<Growth>,
}

/// One `[[budget]]`.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Its unique name (the key in staticize.lock).
    pub name: String,
    /// A staticize command line (without "staticize") to run first, split like a shell would.
    pub build: Option<Vec<String>>,
    /// What is measured, relative to the config's directory.
    pub target: Measured,
    /// The limits.
    pub limits: Limits,
}

/// The gate's section; `crate::config` has refused unknown sections already.
#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    budget: Vec<Spanned<RawBudget>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawBudget {
    name: Spanned<String>,
    build: Option<Spanned<String>>,
    binary: Option<Spanned<String>>,
    image: Option<Spanned<String>>,
    max: Option<Size>,
    max_compressed: Option<Spanned<Size>>,
    max_uncompressed: Option<Spanned<Size>>,
    max_files: Option<Spanned<u64>>,
    #[serde(rename = "static")]
    require_static: Option<bool>,
    max_growth: Option<Growth>,
}

/// Reads and checks the config at `path`.
pub fn load(path: &Path) -> Result<Config> {
    match ConfigFile::read(path)? {
        Some(file) => budgets(&file),
        None => Err(Error::input(
            path,
            "no such config file: the gate needs budgets to check",
            Some(format!(
                "create {CONFIG_FILE} with a budget, e.g.\n  [[budget]]\n  name = \"app\"\n  binary = \"app\"\n  max = \"8 KiB\"\n  static = true\nor point at one with --config FILE"
            )),
        )),
    }
}

/// Checks the `[[budget]]` tables of a read config.
pub fn budgets(file: &ConfigFile) -> Result<Config> {
    let (path, source) = (file.path.as_path(), file.source.as_str());
    let raw: RawConfig = file.sections(&format!("see `staticize gate --help` for the keys of {CONFIG_FILE}"))?;
    if raw.budget.is_empty() {
        return Err(located(
            path,
            source,
            Some(0..0),
            "no [[budget]] tables: there is nothing to check",
            Some("add a [[budget]] with a name, a binary or image, and a limit such as max = \"8 KiB\"".into()),
        ));
    }
    let mut names = BTreeSet::new();
    let mut budgets = Vec::new();
    for spanned in raw.budget {
        budgets.push(budget(spanned, &mut names, path, source)?);
    }
    Ok(Config { path: path.to_path_buf(), dir: file.dir.clone(), budgets })
}

/// Checks one [[budget]] table (its name unique among `names`) and makes it a [`Budget`].
fn budget(spanned: Spanned<RawBudget>, names: &mut BTreeSet<String>, path: &Path, source: &str) -> Result<Budget> {
    let at = |span: Range<usize>, message: String, help: &str| {
        located(path, source, Some(span), &message, Some(help.into()))
    };
    let table_span = spanned.span();
    let b = spanned.into_inner();
    let name = b.name.get_ref().trim().to_string();
    let valid_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid_name {
        return Err(at(
            b.name.span(),
            format!("budget name '{}' is not usable as a key", b.name.get_ref()),
            "use letters, digits, '-', '_' and '.' only",
        ));
    }
    if !names.insert(name.clone()) {
        return Err(at(
            b.name.span(),
            format!("a budget named '{name}' already exists"),
            "give every budget its own name",
        ));
    }
    let target = target(&b, &name, table_span.clone(), path, source)?;
    let build = match &b.build {
        Some(cmd) => Some(build_words(cmd, path, source)?),
        None => None,
    };
    let limits = Limits {
        max: b.max.map(|s| s.0),
        max_compressed: b.max_compressed.map(|s| s.into_inner().0),
        max_uncompressed: b.max_uncompressed.map(|s| s.into_inner().0),
        max_files: b.max_files.map(Spanned::into_inner),
        require_static: b.require_static.unwrap_or(false),
        max_growth: b.max_growth,
    };
    if limits == Limits::default() {
        return Err(at(
            table_span,
            format!("budget '{name}' sets no limit"),
            "add max = \"SIZE\", static = true, max-growth = \"5%\" (or for images max-compressed, max-uncompressed, max-files)",
        ));
    }
    Ok(Budget { name, build, target, limits })
}

/// The file a budget measures: a binary or an image, never both or neither; image-only limits
/// refused on a binary.
fn target(b: &RawBudget, name: &str, table_span: Range<usize>, path: &Path, source: &str) -> Result<Measured> {
    let at = |span: Range<usize>, message: String, help: &str| {
        located(path, source, Some(span), &message, Some(help.into()))
    };
    let target = match (&b.binary, &b.image) {
        (Some(p), None) => Measured::Binary(non_empty(p, path, source)?),
        (None, Some(p)) => Measured::Image(non_empty(p, path, source)?),
        (Some(_), Some(img)) => {
            return Err(at(
                img.span(),
                format!("budget '{name}' names both a binary and an image"),
                "one budget measures one file: split it into two [[budget]] tables",
            ));
        }
        (None, None) => {
            return Err(at(
                table_span,
                format!("budget '{name}' names no file to measure"),
                "add binary = \"PATH\" or image = \"PATH.tar\"",
            ));
        }
    };
    if let Measured::Binary(_) = target {
        let image_only = [
            ("max-compressed", b.max_compressed.as_ref().map(Spanned::span)),
            ("max-uncompressed", b.max_uncompressed.as_ref().map(Spanned::span)),
            ("max-files", b.max_files.as_ref().map(Spanned::span)),
        ];
        if let Some((key, Some(span))) = image_only.into_iter().find(|(_, s)| s.is_some()) {
            return Err(at(
                span,
                format!("{key} applies to images, but budget '{name}' measures a binary"),
                "use max = \"SIZE\" for a binary, or measure an image with image = \"PATH.tar\"",
            ));
        }
    }
    Ok(target)
}

fn non_empty(p: &Spanned<String>, path: &Path, source: &str) -> Result<PathBuf> {
    if p.get_ref().trim().is_empty() {
        return Err(located(
            path,
            source,
            Some(p.span()),
            "the path is empty",
            Some("name the file to measure".into()),
        ));
    }
    Ok(PathBuf::from(p.get_ref()))
}

/// Splits `build` like a POSIX shell; a leading "staticize" is optional.
fn build_words(cmd: &Spanned<String>, path: &Path, source: &str) -> Result<Vec<String>> {
    let help = "write the staticize command to run, without shell syntax, e.g. build = \"c src/app.c -o app\"";
    let mut words = shlex::split(cmd.get_ref()).ok_or_else(|| {
        located(path, source, Some(cmd.span()), "unbalanced quotes in the build command", Some(help.into()))
    })?;
    if words.first().is_some_and(|w| w == "staticize") {
        words.remove(0);
    }
    match words.first().map(String::as_str) {
        None => Err(located(path, source, Some(cmd.span()), "the build command is empty", Some(help.into()))),
        Some("gate") => Err(located(
            path,
            source,
            Some(cmd.span()),
            "a budget cannot build with `staticize gate`: the gate would run itself",
            Some(help.into()),
        )),
        Some(_) => Ok(words),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budgets of `source` as if read from `path`.
    fn parse(path: &Path, source: &str) -> Result<Config> {
        let dir = crate::output::parent_dir(path).to_path_buf();
        budgets(&ConfigFile { path: path.to_path_buf(), dir, source: source.to_string() })
    }

    fn err(text: &str) -> String {
        let e = parse(Path::new("staticize.toml"), text).unwrap_err();
        format!("{e}\nhelp: {}", e.help().unwrap_or_default())
    }

    #[test]
    fn a_full_config() {
        let c = parse(
            Path::new("dir/staticize.toml"),
            r#"
[[budget]]
name = "hello"
build = "staticize c 'examples/hello c/hello.c' -o out/hello"
binary = "out/hello"
max = "8 KiB"
static = true
max-growth = "5%"

[[budget]]
name = "hello-image"
image = "out/hello.tar"
max = "16 KiB"
max-compressed = "6 kB"
max-uncompressed = 20000
max-files = 3
"#,
        )
        .unwrap();
        assert_eq!(c.dir, Path::new("dir"));
        let b = &c.budgets[0];
        assert_eq!(b.build.as_deref().unwrap(), ["c", "examples/hello c/hello.c", "-o", "out/hello"]);
        assert_eq!(b.target, Measured::Binary("out/hello".into()));
        assert_eq!(b.limits.max, Some(8192));
        assert!(b.limits.require_static);
        assert_eq!(b.limits.max_growth.unwrap().limit(100), 105);
        let i = &c.budgets[1].limits;
        assert_eq!(
            (i.max, i.max_compressed, i.max_uncompressed, i.max_files),
            (Some(16384), Some(6000), Some(20000), Some(3))
        );
    }

    #[test]
    fn errors_have_line_and_column() {
        let e = err("[[budget]]\nname = \"a\"\nbinary = \"a\"\nmax = \"8 KBB\"\n");
        assert!(e.starts_with("staticize.toml:4:7: '8 KBB' is not a size"), "{e}");
        assert!(e.contains("4 | max = \"8 KBB\"\n  |       ^^^^^^^"), "{e}");
        let e = err("[[budget]]\nname = \"a\"\nbinary = \"a\"\nmax-size = 3\n");
        assert!(e.starts_with("staticize.toml:4:1: unknown field `max-size`"), "{e}");
        let e = err(
            "[[budget]]\nname = \"a\"\nbinary = \"a\"\nmax = \"1 KiB\"\n[[budget]]\nname = \"a\"\nbinary = \"b\"\nmax = 1\n",
        );
        assert!(e.starts_with("staticize.toml:6:8: a budget named 'a' already exists"), "{e}");
        let e = err("[[budget]]\nname = \"a\"\nbinary = \"a\"\nmax-files = 2\n");
        assert!(e.starts_with("staticize.toml:4:13: max-files applies to images"), "{e}");
        let e = err("[[budget]]\nname = \"a\"\nbinary = \"a\"\n");
        assert!(e.contains("sets no limit"), "{e}");
        let e = err("[[budget]]\nname = \"a\"\nmax = 1\n");
        assert!(e.contains("names no file"), "{e}");
        let e = err("[[budget]\n");
        assert!(e.starts_with("staticize.toml:1:"), "{e}");
        let e = err("");
        assert!(e.contains("no [[budget]]"), "{e}");
    }
}
