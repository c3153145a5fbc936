//! Registry credentials and authentication challenges: where `docker login` / `podman login`
//! leave credentials, and what a registry's `WWW-Authenticate` header asks for.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::reference::is_docker_hub;

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
    /// The file they came from.
    pub source: PathBuf,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password, not even in debug output.
        write!(f, "Credentials({} from {})", self.username, self.source.display())
    }
}

impl Credentials {
    /// The value of an `Authorization: Basic …` header.
    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

/// What the search for credentials found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lookup {
    /// Credentials for the registry, when a file had them.
    pub credentials: Option<Credentials>,
    /// Files that were read.
    pub searched: Vec<PathBuf>,
    /// A credential helper is configured (staticize does not run helpers).
    pub helper: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct AuthFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The auth files to read, in order: REGISTRY_AUTH_FILE alone when set; otherwise podman's
/// `${XDG_RUNTIME_DIR}/containers/auth.json`, then docker's `$DOCKER_CONFIG/config.json`
/// (default `~/.docker/config.json`).
pub(crate) fn auth_files() -> Vec<PathBuf> {
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty()) {
        return vec![PathBuf::from(f)];
    }
    let mut v = Vec::new();
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        v.push(Path::new(&x).join("containers/auth.json"));
    }
    let docker_dir = std::env::var_os("DOCKER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")));
    if let Some(d) = docker_dir {
        v.push(d.join("config.json"));
    }
    v
}

/// Finds credentials for `registry` (host[:port]) in the auth files.
pub(crate) fn find_credentials(registry: &str) -> Result<Lookup> {
    let explicit = std::env::var_os("REGISTRY_AUTH_FILE").is_some_and(|v| !v.is_empty());
    let mut lookup = Lookup::default();
    for file in auth_files() {
        let text = match std::fs::read(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => continue,
            Err(e) => return Err(Error::io("read the registry auth file", &file, e)),
        };
        lookup.searched.push(file.clone());
        let parsed: AuthFile = serde_json::from_slice(&text).map_err(|e| {
            Error::input(
                &file,
                format!("is not a valid auth file: {e}"),
                Some("fix the JSON, or log in again with podman login / docker login".into()),
            )
        })?;
        for (key, entry) in &parsed.auths {
            if !same_registry(key, registry) {
                continue;
            }
            if let Some(c) = decode_entry(entry, &file)? {
                lookup.credentials = Some(c);
                return Ok(lookup);
            }
        }
        if let Some(h) = parsed.cred_helpers.iter().find(|(k, _)| same_registry(k, registry)).map(|(_, h)| h) {
            lookup.helper = Some(h.clone());
        } else if let Some(h) = &parsed.creds_store {
            lookup.helper.get_or_insert(h.clone());
        }
    }
    Ok(lookup)
}

fn decode_entry(entry: &AuthEntry, file: &Path) -> Result<Option<Credentials>> {
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let bad = |why: &str| {
            Error::input(
                file,
                format!("an `auth` value {why}"),
                Some("it must be base64 of user:password; log in again with podman login / docker login".into()),
            )
        };
        let raw = base64::engine::general_purpose::STANDARD.decode(auth.trim()).map_err(|_| bad("is not base64"))?;
        let text = String::from_utf8(raw).map_err(|_| bad("is not UTF-8"))?;
        let (u, p) = text.split_once(':').ok_or_else(|| bad("has no ':' between user and password"))?;
        return Ok(Some(Credentials { username: u.into(), password: p.into(), source: file.into() }));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Ok(Some(Credentials { username: u.clone(), password: p.clone(), source: file.into() })),
        _ => Ok(None),
    }
}

/// Whether an auth-file key ("https://index.docker.io/v1/", "host:5000", "http://host") names
/// `registry`.
pub(crate) fn same_registry(key: &str, registry: &str) -> bool {
    let k = key.trim_start_matches("https://").trim_start_matches("http://");
    let k = k.split('/').next().unwrap_or(k);
    k == registry || (is_docker_hub(k) && is_docker_hub(registry))
}

/// What a `WWW-Authenticate` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// Get a token from `realm` (the distribution token flow).
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The service to name in the token request.
        service: Option<String>,
        /// The scope the registry wants.
        scope: Option<String>,
    },
    /// Send user:password with every request.
    Basic,
}

/// Parses a `WWW-Authenticate` value; None for schemes staticize does not speak.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
    let params = parse_params(rest);
    let get = |k: &str| params.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer { realm: get("realm")?, service: get("service"), scope: get("scope") })
    } else if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic)
    } else {
        None
    }
}

/// `key="value", key=token` pairs; commas inside quotes belong to the value.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect::<String>().trim().to_string();
        }
        out.push((key.trim().to_string(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge_with_commas_in_scope() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(parse_challenge(r#"Basic realm="Registry Realm""#), Some(Challenge::Basic));
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn auth_keys_match_hosts() {
        assert!(same_registry("https://index.docker.io/v1/", "docker.io"));
        assert!(same_registry("127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(same_registry("http://127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(!same_registry("127.0.0.1:5001", "127.0.0.1:5000"));
    }

    #[test]
    fn decodes_base64_user_password() {
        let e = AuthEntry { auth: Some("dXNlcjpwYTpzcw==".into()), ..Default::default() };
        let c = decode_entry(&e, Path::new("x")).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("user", "pa:ss"));
        assert!(!format!("{c:?}").contains("pa:ss"));
        let bad = AuthEntry { auth: Some("!!".into()), ..Default::default() };
        assert!(decode_entry(&bad, Path::new("x")).is_err());
    }
}
