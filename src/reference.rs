//! Image names: `name[:tag]`, with the registry and repository parts kept as typed.

use crate::error::{Error, Result};

/// An image reference such as `hello:latest` or `127.0.0.1:5000/team/hello:v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Everything before the tag ("127.0.0.1:5000/team/hello").
    pub repository: String,
    /// The tag ("latest" when none was given).
    pub tag: String,
}

impl ImageRef {
    /// Parses `name[:tag]`; the name must be lowercase as registries require.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::usage(
                format!("invalid image name '{s}': {why}"),
                "use lowercase letters, digits, '.', '-', '_' and '/', with an optional :tag, e.g. -t hello:1.0",
            )
        };
        if s.contains('@') {
            return Err(bad("digests cannot be used as a name to write"));
        }
        let (repo, tag) = match s.rfind(':') {
            Some(i) if !s[i + 1..].contains('/') => (&s[..i], &s[i + 1..]),
            _ => (s, "latest"),
        };
        if repo.is_empty() {
            return Err(bad("the name is empty"));
        }
        let path_part = repo.split_once('/').map_or(repo, |(first, rest)| {
            if first.contains('.') || first.contains(':') || first == "localhost" { rest } else { repo }
        });
        if !path_part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c)) {
            return Err(bad("names may only hold lowercase letters, digits, '.', '_', '-' and '/'"));
        }
        if tag.is_empty() || tag.len() > 128 || !tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(bad("a tag holds letters, digits, '.', '_' and '-', up to 128 of them"));
        }
        Ok(ImageRef { repository: repo.to_string(), tag: tag.to_string() })
    }

    /// The default name for a program: its name made valid, tag `latest`.
    pub fn for_program(name: &str) -> Self {
        let mut repo: String = name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' })
            .collect();
        repo = repo.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string();
        if repo.is_empty() {
            repo = "app".into();
        }
        ImageRef { repository: repo, tag: "latest".into() }
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!(ImageRef::parse("hello").unwrap().to_string(), "hello:latest");
        let r = ImageRef::parse("127.0.0.1:5000/team/hello:v1").unwrap();
        assert_eq!((r.repository.as_str(), r.tag.as_str()), ("127.0.0.1:5000/team/hello", "v1"));
        assert_eq!(ImageRef::parse("localhost:5000/x").unwrap().tag, "latest");
        assert!(ImageRef::parse("Hello").is_err());
        assert!(ImageRef::parse("x:").is_err());
    }

    #[test]
    fn program_names_become_valid() {
        assert_eq!(ImageRef::for_program("Hello World").to_string(), "hello-world:latest");
        assert_eq!(ImageRef::for_program("redis-server").to_string(), "redis-server:latest");
    }
}
