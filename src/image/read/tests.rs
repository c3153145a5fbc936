//! The reader against archives made to order: every shape it accepts, and hostile ones.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::layer::layer_entry;
use super::*;
use crate::image::spec::{self, Platform, RunConfig};
use crate::image::tarstream::TarHeader;
use crate::image::testkit::RawTar;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn config_json(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Entrypoint": ["/app"], "Env": null, "Cmd": null},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "test"}]
    }))
    .unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

/// A docker-archive (podman save / docker 20.10 save) whose layer path is a symlink, as
/// podman writes it: `<id>/layer.tar -> ../<hex>.tar`.
fn docker_archive(extra: impl FnOnce(&mut RawTar)) -> Vec<u8> {
    let layer = RawTar::new().file("app", b"#!binary").file("etc/.wh.gone", b"").finish();
    let diff_id = crate::digest::sha256_digest(&layer);
    let config = config_json(std::slice::from_ref(&diff_id));
    let manifest = serde_json::json!([{
        "Config": "cfg.json", "RepoTags": ["example/app:1"], "Layers": ["abc/layer.tar"]
    }]);
    let mut t = RawTar::new();
    t.file("cfg.json", &config).file("0123.tar", &layer).symlink("abc/layer.tar", "../0123.tar");
    extra(&mut t);
    t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap()).finish()
}

#[test]
fn docker_archive_with_linked_layer() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.tar", &docker_archive(|_| {}));
    let a = Archive::open(&p).unwrap();
    assert_eq!(a.format, Format::DockerArchive);
    assert!(a.problems.is_empty(), "{:?}", a.problems);
    let img = &a.images[0];
    assert_eq!(img.names, ["example/app:1"]);
    assert_eq!(img.platform.to_string(), "linux/amd64");
    assert_eq!(img.layers[0].location, "0123.tar");
    let mut r = a.layer(&img.layers[0]).unwrap();
    let mut seen = Vec::new();
    while let Some(e) = r.next_entry().unwrap() {
        seen.push((e.path, e.kind));
    }
    assert_eq!(seen, [("app".to_string(), EntryKind::File), ("etc/gone".to_string(), EntryKind::Whiteout)]);
    let d = r.finish().unwrap();
    assert_eq!(Some(d.diff_id), img.layers[0].diff_id);
    assert_eq!(d.compression, Compression::None);
}

/// docker 25+ `save`: an OCI layout (uncompressed layers) whose manifest.json points into
/// blobs/, plus legacy `<id>/layer.tar` links.
#[test]
fn docker25_layout_is_one_image_with_both_names() {
    let layer = RawTar::new().file("app", b"binary").finish();
    let diff_id = crate::digest::sha256_digest(&layer);
    let config = config_json(std::slice::from_ref(&diff_id));
    let cfg_digest = crate::digest::sha256_digest(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": spec::MEDIA_MANIFEST,
        "config": {"mediaType": spec::MEDIA_CONFIG, "digest": cfg_digest, "size": config.len()},
        "layers": [{"mediaType": spec::MEDIA_LAYER_TAR, "digest": diff_id, "size": layer.len()}]
    }))
    .unwrap();
    let m_digest = crate::digest::sha256_digest(&manifest);
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": spec::MEDIA_INDEX, "manifests": [{
        "mediaType": spec::MEDIA_MANIFEST, "digest": m_digest, "size": manifest.len(),
        "annotations": {"io.containerd.image.name": "docker.io/library/app:1", "org.opencontainers.image.ref.name": "1"}
    }]});
    let hex = |d: &str| d.trim_start_matches("sha256:").to_string();
    let docker = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", hex(&cfg_digest)), "RepoTags": ["app:1"],
        "Layers": [format!("blobs/sha256/{}", hex(&diff_id))]
    }]);
    let t = RawTar::new()
        .file(&format!("blobs/sha256/{}", hex(&cfg_digest)), &config)
        .file(&format!("blobs/sha256/{}", hex(&diff_id)), &layer)
        .file(&format!("blobs/sha256/{}", hex(&m_digest)), &manifest)
        .symlink("abcd/layer.tar", &format!("../blobs/sha256/{}", hex(&diff_id)))
        .file("index.json", &serde_json::to_vec(&index).unwrap())
        .file("manifest.json", &serde_json::to_vec(&docker).unwrap())
        .file("oci-layout", spec::OCI_LAYOUT.as_bytes())
        .finish();
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::open(&write(dir.path(), "d25.tar", &t)).unwrap();
    assert_eq!(a.format, Format::OciAndDocker);
    assert!(a.problems.is_empty(), "{:?}", a.problems);
    assert_eq!(a.images.len(), 1);
    let img = &a.images[0];
    assert_eq!(img.names, ["docker.io/library/app:1", "app:1"]);
    assert_eq!(img.manifest.as_ref().unwrap().digest, m_digest);
    assert_eq!(img.config.digest, cfg_digest);
    let (mut r, n) = a.open_file("abcd/layer.tar").unwrap();
    let mut via_link = Vec::new();
    r.read_to_end(&mut via_link).unwrap();
    assert_eq!((via_link, n), (layer.clone(), layer.len() as u64));
    let d = a.layer(&img.layers[0]).unwrap().finish().unwrap();
    assert_eq!((d.digest.as_str(), d.diff_id.as_str()), (diff_id.as_str(), diff_id.as_str()));
}

#[test]
fn hostile_names_and_links_are_reported_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = docker_archive(|t| {
        t.file("../../evil", b"x")
            .file("/etc/abs", b"x")
            .symlink("out", "../../../etc/passwd")
            .symlink("abslink", "/etc/passwd")
            .entry("hard", tar::EntryType::Link, b"", Some("../x"), 0o644);
    });
    let p = write(dir.path(), "h.tar", &bytes);
    let a = Archive::open(&p).unwrap();
    let text = format!("{:?}", a.problems);
    for needle in ["../../evil", "/etc/abs", "out", "abslink", "hard"] {
        assert!(text.contains(needle), "{needle} not reported: {text}");
    }
    // Asking for a file through an escaping link fails; nothing outside is opened.
    assert!(a.open_file("out").is_err());
    assert!(a.open_file("abslink").is_err());
    assert!(a.open_file("../../evil").is_err());
    assert!(a.resolve("abc/../../x").is_err());
}

#[test]
fn manifest_pointing_outside_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = br#"[{"Config":"../../../../etc/passwd","RepoTags":["x:1"],"Layers":[]}]"#;
    let t = RawTar::new().symlink("l", "/etc/passwd").file("manifest.json", manifest).finish();
    let err = Archive::open(&write(dir.path(), "m.tar", &t)).unwrap_err().to_string();
    assert!(err.contains("not an image archive") && err.contains("outside"), "{err}");
}

#[test]
fn big_json_and_bombs_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.tar", &docker_archive(|_| {}));
    let small = ReadLimits { max_json: 64, ..ReadLimits::default() };
    let err = Archive::open_with(&p, small).unwrap_err().to_string();
    assert!(err.contains("read up to 64"), "{err}");

    // A small gzip holding a tar of a 16 MiB file, read with a 1 MiB cap.
    let bomb = gz(&RawTar::new().file("big", &vec![0u8; 16 << 20]).finish());
    assert!(bomb.len() < 256 * 1024, "{}", bomb.len());
    let mut t = RawTar::new();
    let manifest = br#"[{"Config":"cfg.json","Layers":["bomb.gz"]}]"#;
    t.file("cfg.json", &config_json(&[])).file("bomb.gz", &bomb).file("manifest.json", manifest);
    let p = write(dir.path(), "b.tar", &t.finish());
    let tiny = ReadLimits { max_layer_bytes: 1 << 20, ..ReadLimits::default() };
    let a = Archive::open_with(&p, tiny).unwrap();
    let mut r = a.layer(&a.images[0].layers[0]).unwrap();
    let err = loop {
        match r.next_entry() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the bomb was read to the end"),
            Err(e) => break e.to_string(),
        }
    };
    assert!(err.contains("more than 1048576 bytes"), "{err}");
}

#[test]
fn compressed_outer_archive_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.tar.gz", &gz(&docker_archive(|_| {})));
    let e = Archive::open(&p).unwrap_err();
    assert!(e.to_string().contains("Gzip-compressed"), "{e}");
    assert!(e.help().unwrap().contains("gunzip"));
    let p = write(dir.path(), "junk", b"hello, not a tar at all");
    assert!(Archive::open(&p).unwrap_err().to_string().contains("not an image archive"));
}

/// An OCI layout directory written from a staticize archive.
fn oci_dir(dir: &Path, platforms: &[&str]) -> (PathBuf, crate::image::Written) {
    use crate::image::rootfs::MODE_EXEC;
    use crate::image::{ImagePlan, PlatformImage, Rootfs, Source};
    let images = platforms
        .iter()
        .map(|arch| {
            let mut rootfs = Rootfs::new();
            rootfs.add_file("/app", Source::Bytes(arch.as_bytes().to_vec()), MODE_EXEC).unwrap();
            PlatformImage {
                platform: Platform::linux(arch),
                rootfs,
                config: RunConfig { entrypoint: Some(vec!["/app".into()]), ..Default::default() },
                created_by: "test".into(),
                parts: Vec::new(),
            }
        })
        .collect();
    let plan = ImagePlan {
        reference: crate::reference::ImageRef::parse("multi:1").unwrap(),
        images,
        compression: Compression::Gzip,
        layering: crate::image::layering::Layering::Single,
        epoch: 0,
    };
    let tar_path = dir.join("multi.tar");
    let written = crate::image::write(&plan, &tar_path).unwrap();
    let out = dir.join("layout");
    let mut ar = tar::Archive::new(File::open(&tar_path).unwrap());
    ar.unpack(&out).unwrap();
    (out, written)
}

#[test]
fn multi_platform_archive_and_oci_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, written) = oci_dir(dir.path(), &["amd64", "arm64"]);
    for path in [written.path.clone(), layout.clone()] {
        let a = Archive::open(&path).unwrap();
        assert!(a.problems.is_empty(), "{:?}", a.problems);
        assert_eq!(a.indexes.len(), 1);
        assert_eq!(a.indexes[0].doc.digest, written.manifest_digest);
        let plats: Vec<String> = a.images.iter().map(|i| i.platform.to_string()).collect();
        assert_eq!(plats, ["linux/amd64", "linux/arm64"]);
        assert!(a.images[0].names.contains(&"multi:1".to_string()), "{:?}", a.images[0].names);
        for (img, want) in a.images.iter().zip(["amd64", "arm64"]) {
            let mut r = a.layer(&img.layers[0]).unwrap();
            let e = r.next_entry().unwrap().unwrap();
            assert_eq!(e.path, "app");
            let mut content = String::new();
            r.data().read_to_string(&mut content).unwrap();
            assert_eq!(content, want);
            let d = r.finish().unwrap();
            assert_eq!(Some(d.digest), img.layers[0].digest);
            assert_eq!(d.compression, Compression::Gzip);
        }
    }
    let a = Archive::open(&layout).unwrap();
    assert_eq!(a.format, Format::OciDir);
}

#[test]
fn oci_directory_links_outside_and_fifos_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, written) = oci_dir(dir.path(), &["amd64"]);
    let layer = &written.layers[0].digest;
    let blob = layout.join(spec::blob_path(layer));
    fs::remove_file(&blob).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &blob).unwrap();
    let a = Archive::open(&layout);
    let err = format!("{:?}", a.map(|a| a.problems));
    assert!(err.contains("absolute path /etc/passwd; not followed"), "{err}");

    // A FIFO where a blob should be: refused at once instead of blocking forever.
    fs::remove_file(&blob).unwrap();
    let status = std::process::Command::new("mkfifo").arg(&blob).status().unwrap();
    assert!(status.success());
    let a = Archive::open(&layout);
    let err = format!("{:?}", a.map(|a| a.problems));
    assert!(err.contains("not a regular file"), "{err}");
}

#[test]
fn whiteouts_and_traversal_in_layers() {
    let h = |p: &str, kind: u8| TarHeader {
        path: p.as_bytes().to_vec(),
        link: None,
        kind,
        mode: 0o644,
        size: 5,
        uid: 0,
        gid: 0,
        data_offset: 0,
    };
    let e = layer_entry(&h("./etc/.wh.passwd", b'0'));
    assert_eq!((e.kind, e.path.as_str(), e.size), (EntryKind::Whiteout, "etc/passwd", 0));
    let e = layer_entry(&h("var/cache/.wh..wh..opq", b'0'));
    assert_eq!((e.kind, e.path.as_str()), (EntryKind::Opaque, "var/cache"));
    let e = layer_entry(&h("../../etc/shadow", b'0'));
    assert_eq!(e.path, "etc/shadow");
    assert!(e.problem.unwrap().contains("traversal"));
    // A leading "/" is the same path under the root, as engines unpack it (ko writes these).
    let e = layer_entry(&h("/ko-app/hello", b'0'));
    assert_eq!((e.path.as_str(), e.problem), ("ko-app/hello", None));
}
