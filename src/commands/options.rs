//! The parsers that validate each image option (--cmd, --env, --user, --expose, --add,
//! --with…) into the plain settings of [`crate::image::options`]. Every refusal is a usage
//! error naming the flag and the fix. `commands::settings` feeds the command line through them.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::image::options::{AddSpec, Extras, User, Zones};
use crate::image::rootfs::normalize;

/// The names `--with` accepts, for messages.
const EXTRA_NAMES: &str = "certs, tzdata, passwd, tmp, busybox";

/// `--cmd a --cmd b` or `--cmd '["a","b"]'` → words. A lone value with spaces is refused: it
/// looks like shell form, and scratch has no shell to split it.
pub fn exec_form(flag: &str, values: &[String]) -> Result<Option<Vec<String>>> {
    match values {
        [] => Ok(None),
        [one] if one.trim_start().starts_with('[') => serde_json::from_str::<Vec<String>>(one).map(Some).map_err(|e| {
            Error::usage(
                format!("{flag} '{one}' is not a JSON array of strings: {e}"),
                format!("write it as {flag} '[\"/app\",\"--port\",\"80\"]' (double quotes inside single quotes)"),
            )
        }),
        [one] if one.contains(char::is_whitespace) => Err(Error::usage(
            format!("{flag} '{one}' looks like shell form, and a scratch image has no shell to split it"),
            format!(
                "repeat the flag once per word ({}), or give a JSON array ({flag} '{}')",
                one.split_whitespace().map(|w| format!("{flag} {w}")).collect::<Vec<_>>().join(" "),
                serde_json::to_string(&one.split_whitespace().collect::<Vec<_>>()).unwrap_or_default()
            ),
        )),
        many => Ok(Some(many.to_vec())),
    }
}

/// `KEY=VALUE` (`--env`, `--label`); the value may be empty.
pub fn key_value(flag: &str, s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(Error::usage(
            format!("{flag} '{s}' is not KEY=VALUE"),
            format!("write it as {flag} NAME=value (the value may be empty: {flag} NAME=)"),
        )),
    }
}

/// An absolute path inside the image, cleaned (`--workdir`).
pub fn absolute(flag: &str, p: &str) -> Result<String> {
    if !p.starts_with('/') {
        return Err(Error::usage(
            format!("{flag} '{p}' is not an absolute path"),
            format!("start it with '/', e.g. {flag} /{}", p.trim_start_matches("./")),
        ));
    }
    if p == "/" {
        return Ok("/".into());
    }
    normalize(p).map(|n| format!("/{n}")).map_err(|_| {
        Error::usage(
            format!("{flag} '{p}' leaves the image root"),
            format!("use a path without '..', e.g. {flag} /app"),
        )
    })
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && s.len() <= 32
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u32>().is_ok()
}

/// NAME, NAME:GROUP, UID, UID:GID.
pub fn parse_user(u: &str) -> Result<User> {
    let (who, group) = match u.split_once(':') {
        Some((w, g)) => (w, Some(g)),
        None => (u, None),
    };
    let group_ok = group.is_none_or(|g| is_id(g) || is_name(g));
    if is_id(who) && group.is_none_or(is_id) {
        return Ok(User::Id(u.to_string()));
    }
    if (is_id(who) || is_name(who)) && group_ok {
        return Ok(User::Name(u.to_string()));
    }
    Err(Error::usage(
        format!("--user '{u}' is neither NAME, NAME:GROUP, UID nor UID:GID"),
        "e.g. --user 65532:65532, or --user nonroot with --with passwd",
    ))
}

/// "80", "80/tcp", "53/udp" → "80/tcp", "53/udp".
pub fn parse_port(p: &str) -> Result<String> {
    let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let proto = proto.to_ascii_lowercase();
    let port_ok = num.parse::<u16>().is_ok_and(|n| n > 0) && num.bytes().all(|b| b.is_ascii_digit());
    if !port_ok || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(Error::usage(
            format!("--expose '{p}' is not PORT[/tcp|/udp] with PORT in 1-65535"),
            "e.g. --expose 8080 or --expose 53/udp (repeat the flag for several ports)",
        ));
    }
    Ok(format!("{}/{proto}", num.parse::<u16>().unwrap_or(0)))
}

const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
    "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH",
    "IO", "POLL", "PWR", "SYS",
];

/// SIGTERM, TERM, sigterm, 15, SIGRTMIN+3 → "SIGTERM", "15", "SIGRTMIN+3".
pub fn parse_signal(s: &str) -> Result<String> {
    if s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u8>().is_ok_and(|n| (1..=64).contains(&n)) {
        return Ok(s.to_string());
    }
    let upper = s.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt_ok = |rest: &str| rest.is_empty() || rest.strip_prefix(['+', '-']).is_some_and(|n| n.parse::<u8>().is_ok());
    let ok = SIGNALS.contains(&bare)
        || bare.strip_prefix("RTMIN").is_some_and(rt_ok)
        || bare.strip_prefix("RTMAX").is_some_and(rt_ok);
    if !ok {
        return Err(Error::usage(
            format!("--stop-signal '{s}' is not a signal"),
            "use a name such as SIGTERM, SIGINT or SIGQUIT, or a number 1-64",
        ));
    }
    Ok(format!("SIG{bare}"))
}

/// SRC:DEST[:MODE].
pub fn parse_add(a: &str) -> Result<AddSpec> {
    let bad = |why: &str| {
        Error::usage(
            format!("--add '{a}': {why}"),
            "write it as --add SRC:DEST[:MODE], e.g. --add ./redis.conf:/etc/redis/redis.conf:0644 or --add ./static:/srv/static",
        )
    };
    let parts: Vec<&str> = a.split(':').collect();
    let (src, dest, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, None),
        [s, d, m] => (*s, *d, Some(*m)),
        _ => return Err(bad("expected SRC:DEST or SRC:DEST:MODE")),
    };
    if src.is_empty() {
        return Err(bad("SRC is empty"));
    }
    if !dest.starts_with('/') {
        return Err(bad("DEST must be an absolute path inside the image"));
    }
    if dest != "/" && normalize(dest).is_err() {
        return Err(bad("DEST leaves the image root"));
    }
    let mode = match mode {
        None => None,
        Some(m) => match u32::from_str_radix(m, 8) {
            Ok(v) if !m.is_empty() && v <= 0o7777 => Some(v),
            _ => return Err(bad("MODE must be octal permission bits such as 0644 or 755")),
        },
    };
    Ok(AddSpec { src: PathBuf::from(src), dest: dest.to_string(), mode })
}

/// One `--with` value into `extras`.
pub fn parse_with(w: &str, extras: &mut Extras) -> Result<()> {
    let (name, arg) = match w.split_once('=') {
        Some((n, a)) => (n, Some(a)),
        None => (w, None),
    };
    let no_arg = |extras_name: &str| -> Result<()> {
        match arg {
            None => Ok(()),
            Some(_) => Err(Error::usage(
                format!("--with {w}: {extras_name} takes no value"),
                format!("write --with {extras_name}"),
            )),
        }
    };
    match name {
        "certs" => {
            extras.certs = Some(match arg {
                None => None,
                Some("") => {
                    return Err(Error::usage(
                        "--with certs= names no bundle",
                        "write --with certs, or --with certs=/path/to/bundle.pem",
                    ));
                }
                Some(p) => Some(PathBuf::from(p)),
            })
        }
        "tzdata" => {
            extras.tzdata = Some(match arg {
                None => Zones::All,
                Some(list) => {
                    let mut zones = Vec::new();
                    for z in list.split(',') {
                        let ok = !z.is_empty()
                            && !z.starts_with('/')
                            && z.split('/').all(|p| !p.is_empty() && p != "." && p != "..")
                            && z.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
                        if !ok {
                            return Err(Error::usage(
                                format!("--with {w}: '{z}' is not a zone name"),
                                "name zones as in the tz database, comma-separated: --with tzdata=Asia/Taipei,UTC",
                            ));
                        }
                        zones.push(z.to_string());
                    }
                    zones.sort();
                    zones.dedup();
                    Zones::Only(zones)
                }
            })
        }
        "passwd" => {
            no_arg("passwd")?;
            extras.passwd = true;
        }
        "tmp" => {
            no_arg("tmp")?;
            extras.tmp = true;
        }
        "busybox" => {
            no_arg("busybox")?;
            extras.busybox = true;
        }
        other => {
            let help = if other.contains(',') {
                format!(
                    "repeat the flag for each extra: {}",
                    other.split(',').map(|e| format!("--with {e}")).collect::<Vec<_>>().join(" ")
                )
            } else {
                format!("choose one of: {EXTRA_NAMES}")
            };
            return Err(Error::usage(format!("--with '{w}' is not an extra staticize knows"), help));
        }
    }
    Ok(())
}

/// Whether `given` (sign's and verify's REF|ARCHIVE) names an archive on disk: one that
/// exists, or a missing `.tar`, which is then named as missing rather than looked up as an
/// image on docker.io.
pub(crate) fn is_archive(given: &str) -> crate::error::Result<bool> {
    let path = std::path::Path::new(given);
    if path.exists() {
        return Ok(true);
    }
    if given.ends_with(".tar") {
        return Err(crate::error::Error::input(
            path,
            "no such archive",
            Some(
                "give an archive that exists (NAME.tar), or REGISTRY/REPOSITORY[:TAG] for an image in a registry"
                    .into(),
            ),
        ));
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exec_form_accepts_words_and_json() {
        assert_eq!(exec_form("--cmd", &[]).unwrap(), None);
        assert_eq!(exec_form("--cmd", &v(&["-p", "80"])).unwrap(), Some(v(&["-p", "80"])));
        assert_eq!(exec_form("--cmd", &v(&[r#"["-p","80 x"]"#])).unwrap(), Some(v(&["-p", "80 x"])));
        assert_eq!(exec_form("--cmd", &v(&["[]"])).unwrap(), Some(vec![]));
        assert_eq!(exec_form("--cmd", &v(&["serve"])).unwrap(), Some(v(&["serve"])));
        let e = exec_form("--cmd", &v(&["redis-server --port 80"])).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.help().unwrap().contains("--cmd redis-server --cmd --port --cmd 80"), "{:?}", e.help());
        assert!(exec_form("--cmd", &v(&["[\"a\", 1]"])).is_err());
    }

    #[test]
    fn users() {
        assert_eq!(parse_user("65532:65532").unwrap(), User::Id("65532:65532".into()));
        assert_eq!(parse_user("0").unwrap(), User::Id("0".into()));
        assert_eq!(parse_user("nonroot").unwrap(), User::Name("nonroot".into()));
        assert_eq!(parse_user("1000:staff").unwrap(), User::Name("1000:staff".into()));
        for bad in ["", "a b", "1:2:3", ":1", "99999999999", "-x"] {
            assert!(parse_user(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_and_signals() {
        assert_eq!(parse_port("80").unwrap(), "80/tcp");
        assert_eq!(parse_port("53/UDP").unwrap(), "53/udp");
        for bad in ["0", "65536", "80/icmp", "http", "8000-8010", "+80"] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_signal("term").unwrap(), "SIGTERM");
        assert_eq!(parse_signal("SIGQUIT").unwrap(), "SIGQUIT");
        assert_eq!(parse_signal("15").unwrap(), "15");
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), "SIGRTMIN+3");
        for bad in ["SIGFOO", "0", "99", "RTMIN+x", ""] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn adds() {
        let a = parse_add("./redis.conf:/etc/redis/redis.conf:0600").unwrap();
        assert_eq!(
            (a.src, a.dest.as_str(), a.mode),
            (PathBuf::from("./redis.conf"), "/etc/redis/redis.conf", Some(0o600))
        );
        assert_eq!(parse_add("dir:/srv/").unwrap().mode, None);
        for bad in ["x", "x:rel/path", ":/a", "x:/a:999", "x:/a:rw", "x:/../a", "a:b:/c:0644"] {
            assert!(parse_add(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn extras() {
        let mut e = Extras::default();
        for w in ["certs", "tzdata=UTC,Asia/Taipei", "passwd", "tmp", "busybox"] {
            parse_with(w, &mut e).unwrap();
        }
        assert_eq!(e.tzdata, Some(Zones::Only(v(&["Asia/Taipei", "UTC"]))));
        assert!(e.passwd && e.tmp && e.busybox && e.certs == Some(None));
        let err = parse_with("certs,passwd", &mut e).unwrap_err();
        assert!(err.help().unwrap().contains("--with certs --with passwd"));
        assert!(parse_with("tzdata=../etc", &mut e).is_err());
        assert!(parse_with("tmp=1", &mut e).is_err());
    }
}
