//! Image names: `name[:tag]`, with the registry and repository parts kept as typed, and every
//! rule about them in one place: which first component is a registry host, Docker Hub's names
//! and its `library/` prefix, where its API lives, and which registries speak plain HTTP.

use crate::error::{Error, Result};

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";

/// Whether the first component of a name is a registry host rather than part of the
/// repository: it has a '.' or a ':', or is "localhost" (docker's rule).
fn is_registry_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// Whether `host` is one of Docker Hub's names.
pub fn is_docker_hub(host: &str) -> bool {
    matches!(host, "docker.io" | "index.docker.io" | "registry-1.docker.io")
}

/// The host that speaks the registry API for `registry` (Docker Hub's is registry-1.docker.io).
pub fn api_host(registry: &str) -> String {
    if registry == DOCKER_HUB { "registry-1.docker.io".to_string() } else { registry.to_string() }
}

/// "http" for a registry on this machine (localhost, 127.0.0.1, [::1]), else "https".
pub fn scheme(registry: &str) -> &'static str {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    if matches!(host, "localhost" | "127.0.0.1" | "[::1]") { "http" } else { "https" }
}

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
        let path_part =
            repo.split_once('/').map_or(repo, |(first, rest)| if is_registry_host(first) { rest } else { repo });
        if !path_part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c)) {
            return Err(bad("names may only hold lowercase letters, digits, '.', '_', '-' and '/'"));
        }
        if tag.is_empty() || tag.len() > 128 || !tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(bad("a tag holds letters, digits, '.', '_' and '-', up to 128 of them"));
        }
        Ok(ImageRef { repository: repo.to_string(), tag: tag.to_string() })
    }

    /// A name as an engine or an archive records it ("docker.io/library/redis:7"), in its short
    /// form ("redis:7"); None when it is not a name staticize could write.
    pub fn from_engine_name(name: &str) -> Option<Self> {
        ImageRef::parse(name.trim_start_matches("docker.io/library/")).ok()
    }

    /// The registry host and the repository path on it: Docker Hub when the name has no host,
    /// with its `library/` prefix for single-component names ("redis" → "library/redis").
    pub fn registry_and_path(&self) -> (String, String) {
        let (registry, repository) = match self.repository.split_once('/') {
            Some((first, rest)) if is_registry_host(first) => (first.to_string(), rest.to_string()),
            _ => (DOCKER_HUB.to_string(), self.repository.clone()),
        };
        if registry == DOCKER_HUB && !repository.contains('/') {
            return (registry, format!("library/{repository}"));
        }
        (registry, repository)
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

    #[test]
    fn docker_hub_rules() {
        let hub = |s: &str| ImageRef::parse(s).unwrap().registry_and_path();
        assert_eq!(hub("redis"), ("docker.io".into(), "library/redis".into()));
        assert_eq!(hub("team/app"), ("docker.io".into(), "team/app".into()));
        assert_eq!(hub("ghcr.io/o/app"), ("ghcr.io".into(), "o/app".into()));
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!((scheme("localhost:5000"), scheme("ghcr.io")), ("http", "https"));
        assert!(is_docker_hub("index.docker.io") && !is_docker_hub("ghcr.io"));
        assert_eq!(ImageRef::from_engine_name("docker.io/library/redis:7").unwrap().to_string(), "redis:7");
    }
}
