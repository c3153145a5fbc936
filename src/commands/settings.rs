//! The command line's image options → the domain's validated settings and destinations, once,
//! before anything runs. Each value goes through its parser in `commands::options` / `platform`.

use std::path::{Path, PathBuf};

use crate::cli::{ImageArgs, ImageOptions, ImageOutput};
use crate::commands::options::{
    absolute, exec_form, key_value, parse_add, parse_port, parse_signal, parse_user, parse_with,
};
use crate::error::{Error, Result};
use crate::image::options::{ImageSettings, program_path};
use crate::pipeline::{Delivery, Destination, default_image_path};
use crate::platform::parse_platforms;
use crate::prove::ask::Keys;
use crate::prove::ask::Probe;
use crate::reference::ImageRef;
use crate::registry::push::Remote;

/// Validates every image option; the first bad one is a usage error.
pub fn image_settings(o: &ImageOptions) -> Result<ImageSettings> {
    // A bad --push REF is refused here, before anything is compiled or written.
    if let Some(r) = &o.image_output.push {
        Remote::parse(r)?;
    }
    let mut s = ImageSettings {
        tag: o.tag.as_deref().map(ImageRef::parse).transpose()?,
        path: o.path.as_deref().map(program_path).transpose()?,
        entrypoint: exec_form("--entrypoint", &o.entrypoint)?,
        cmd: exec_form("--cmd", &o.cmd)?,
        ..Default::default()
    };
    if matches!(&s.cmd, Some(c) if c.is_empty()) {
        s.cmd = None;
    }
    for e in &o.env {
        let (k, v) = key_value("--env", e)?;
        if k.contains(char::is_whitespace) {
            return Err(Error::usage(
                format!("--env '{e}': the name '{k}' contains whitespace"),
                "use a name such as APP_MODE=prod",
            ));
        }
        match s.env.iter_mut().find(|(ek, _)| *ek == k) {
            Some(slot) => slot.1 = v,
            None => s.env.push((k, v)),
        }
    }
    s.workdir = o.workdir.as_deref().map(|w| absolute("--workdir", w)).transpose()?;
    s.user = o.user.as_deref().map(parse_user).transpose()?;
    let mut ports: Vec<String> = o.expose.iter().map(|p| parse_port(p)).collect::<Result<_>>()?;
    ports.sort();
    ports.dedup();
    s.exposed = ports;
    for l in &o.label {
        let (k, v) = key_value("--label", l)?;
        s.labels.insert(k, v);
    }
    s.stop_signal = o.stop_signal.as_deref().map(parse_signal).transpose()?;
    s.adds = o.add.iter().map(|a| parse_add(a)).collect::<Result<_>>()?;
    for w in &o.with {
        parse_with(w, &mut s.extras)?;
    }
    if matches!(&s.entrypoint, Some(e) if e.is_empty()) && s.cmd.is_none() {
        return Err(Error::usage(
            "--entrypoint '[]' clears the entrypoint but no --cmd says what to run",
            "give the command with --cmd, e.g. --entrypoint '[]' --cmd /bin/sh",
        ));
    }
    Ok(s)
}

/// The proof run `--probe`, `--probe-timeout` and `--probe-port` ask for, over the
/// `[probe.NAME]` tables of ./staticize.toml.
pub fn probe(o: &ImageOutput) -> Result<Probe> {
    probe_in(o, Path::new("."))
}

/// [`probe`] with the tables of `dir/staticize.toml` (a project's own, for `staticize build
/// DIR`, as `[deps]`); nothing is read for `--no-probe`.
pub fn probe_in(o: &ImageOutput, dir: &Path) -> Result<Probe> {
    if o.no_probe {
        return Ok(Probe::off());
    }
    let timeout = o.probe_timeout.map(|s| seconds("--probe-timeout", s)).transpose()?;
    let flags = Keys { args: exec_form("--probe", &o.probe)?, timeout, port: o.probe_port };
    Ok(Probe { table: crate::prove::ask::table(dir)?, ..Probe::from_flags(flags) })
}

/// A time limit in seconds, as a flag gives it: positive and at most a day.
pub fn seconds(flag: &str, s: f64) -> Result<std::time::Duration> {
    if !(s > 0.0 && s <= 86_400.0) {
        return Err(Error::usage(format!("{flag} {s}: not a time limit"), format!("give seconds, e.g. {flag} 2.5")));
    }
    Ok(std::time::Duration::from_secs_f64(s))
}

/// Where the image goes: the archive at `tar`, then `--oci-dir`, `--load`, `--push`.
pub fn destinations(o: &ImageOutput, tar: PathBuf) -> Result<Vec<Destination>> {
    let mut out = vec![Destination::Archive(tar)];
    if let Some(dir) = &o.oci_dir {
        out.push(Destination::OciDir(dir.clone()));
    }
    if let Some(engine) = &o.load {
        out.push(Destination::Load(engine.clone()));
    }
    if let Some(r) = &o.push {
        out.push(Destination::Push(Remote::parse(r)?, r.clone()));
    }
    Ok(out)
}

/// A build command's settings: with `--no-image` only what names the program, where it goes
/// and its platforms are read; the rest describes an image that is not written.
pub fn build_settings(a: &ImageArgs) -> Result<ImageSettings> {
    if !a.no_image {
        return image_settings(&a.options);
    }
    let o = &a.options;
    if let Some(r) = &o.image_output.push {
        Remote::parse(r)?;
    }
    Ok(ImageSettings {
        tag: o.tag.as_deref().map(ImageRef::parse).transpose()?,
        path: o.path.as_deref().map(program_path).transpose()?,
        ..Default::default()
    })
}

/// How the image is delivered: `--compress`, `--platform`, the SBOM (`--sbom-format`,
/// `--no-sbom`); `strip` is `staticize image`'s own (`--no-strip`), off here.
pub fn delivery(o: &ImageOptions) -> Result<Delivery> {
    Ok(Delivery { platforms: parse_platforms(&o.platform)?, ..output_delivery(&o.image_output)? })
}

/// The delivery `--compress`, the SBOM flags and `--cache-registry` (else `[cache] registry`
/// of ./staticize.toml) ask for, for commands without `--platform`.
pub fn output_delivery(o: &ImageOutput) -> Result<Delivery> {
    Ok(Delivery {
        compression: o.compress.into(),
        layering: o.layers.into(),
        sbom: o.sbom(),
        sign: o.sign.clone(),
        cache: cache_registry(&o.cache, Path::new("."))?,
        ..Default::default()
    })
}

/// A build command's destinations: none with `--no-image`, else the archive at `--image` or
/// beside the binary.
pub fn build_destinations(a: &ImageArgs, binary: &std::path::Path) -> Result<Vec<Destination>> {
    if a.no_image {
        return Ok(Vec::new());
    }
    let tar = a.image.clone().unwrap_or_else(|| default_image_path(binary));
    destinations(&a.options.image_output, tar)
}

/// The cache registry: `--cache-registry` (or its variable), else `[cache] registry` of
/// `dir/staticize.toml`.
pub fn cache_registry(a: &crate::cli::CacheRegistryArgs, dir: &Path) -> Result<crate::remote_cache::Settings> {
    crate::remote_cache::Settings::new(a.cache_registry.clone(), a.cache_registry_readonly, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn whole_options() {
        let o = ImageOptions {
            env: v(&["A=1", "B=2", "A=3"]),
            workdir: Some("/srv/./app/".into()),
            expose: v(&["8080", "53/udp", "8080/tcp"]),
            ..Default::default()
        };
        let s = image_settings(&o).unwrap();
        assert_eq!(s.env, vec![("A".into(), "3".into()), ("B".into(), "2".into())]);
        assert_eq!(s.workdir.as_deref(), Some("/srv/app"));
        assert_eq!(s.exposed, v(&["53/udp", "8080/tcp"]));
        let bad = ImageOptions { workdir: Some("srv".into()), ..Default::default() };
        assert!(image_settings(&bad).unwrap_err().help().unwrap().contains("--workdir /srv"));
    }
}
