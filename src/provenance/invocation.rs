//! The invocation a provenance records: the command's own arguments without those that only
//! say where the results go (`-o`, `--image`, `--oci-dir`, `--load`, `--push`, `--sign`,
//! `--json`, `--plan`, the remote cache). What is left is what decides the output's bytes,
//! so `staticize verify --rebuild` can run it again in another directory and compare.

/// Flags that take a value and only place or deliver the output.
const PLACING_WITH_VALUE: &[&str] = &["-o", "--output", "--image", "--oci-dir", "--push", "--sign", "--cache-registry"];
/// Flags without a value that change no byte of the output.
const PLACING: &[&str] = &["--json", "--plan", "--cache-registry-readonly"];
/// The values `--load` takes (its value is optional, so only these are its own).
const LOAD_ENGINES: &[&str] = &["auto", "docker", "podman"];

/// `args` (the words after the program name) without the flags that only place the output.
pub(crate) fn recorded(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        if a == "--" {
            // What follows goes to the compiler as it is.
            out.push(a);
            out.extend(it);
            break;
        }
        let flag = a.split_once('=').map_or(a.as_str(), |(f, _)| f);
        if PLACING.contains(&a.as_str()) || (flag != a && PLACING_WITH_VALUE.contains(&flag)) || flag == "--load" {
            if a == "--load" && it.peek().is_some_and(|v| LOAD_ENGINES.contains(&v.as_str())) {
                it.next();
            }
            continue;
        }
        if PLACING_WITH_VALUE.contains(&a.as_str()) {
            it.next();
            continue;
        }
        out.push(a);
    }
    out
}

/// What `-o` names for the subcommand `command`: the archive for the commands that take an
/// executable or image someone else made, the executable for those that build one.
pub(crate) fn output_is_archive(command: &str) -> Option<bool> {
    match command {
        "image" | "bundle" | "squash" | "slim" => Some(true),
        "c" | "cxx" | "go" | "rust" | "node" | "pack" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn placing_flags_and_their_values_are_dropped() {
        let got = recorded(words(
            "c hello.c -o out/hello --push 127.0.0.1:5000/a:b --sign=k.pem --json --load --compress zstd --load podman -- -DX -o y",
        ));
        assert_eq!(got, words("c hello.c --compress zstd -- -DX -o y"));
        assert_eq!(recorded(words("image --load x --oci-dir d x")), words("image x x"));
        assert_eq!(output_is_archive("bundle"), Some(true));
        assert_eq!(output_is_archive("c"), Some(false));
        assert_eq!(output_is_archive("build"), None);
    }
}
