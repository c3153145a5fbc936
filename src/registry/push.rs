//! Pushes an image archive to a registry over the OCI distribution API: blobs first (skipping
//! those the registry already has), then manifests, then the tag. Plain HTTP for localhost and
//! 127.0.0.1, HTTPS for every other registry; Basic and Bearer-token authentication.

use std::io::{self, Read};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ureq::http::Response;

use crate::error::{Error, Result};
use crate::image::read::{Archive, Image, compression_of};
use crate::image::spec::{self, Descriptor, Manifest};
use crate::reference::{self, ImageRef};
use crate::registry::auth::{self, Challenge, Lookup};
use crate::report::{Reporter, human_size, short_digest};

/// Blobs up to this size go up in one PUT; larger ones in PATCH chunks of this size.
/// STATICIZE_PUSH_CHUNK_SIZE (bytes) overrides it.
pub(crate) const DEFAULT_CHUNK: u64 = 32 << 20;

/// Seconds a connection may take to open, and a request may go without a byte moving either
/// way, before the push gives up. STATICIZE_PUSH_TIMEOUT (seconds) overrides it.
pub(crate) const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// The push timeout: STATICIZE_PUSH_TIMEOUT when it is a positive number of seconds.
pub(crate) fn timeout() -> Duration {
    let secs = std::env::var("STATICIZE_PUSH_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(DEFAULT_TIMEOUT_SECS as f64);
    Duration::from_secs_f64(secs)
}

/// Where an image goes: registry, repository, tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// host[:port] as the user wrote it ("docker.io" for Docker Hub).
    pub registry: String,
    /// The host the API is spoken to.
    pub api_host: String,
    /// The repository path ("team/app", "library/redis").
    pub repository: String,
    /// The tag.
    pub tag: String,
    /// "http" for localhost / 127.0.0.1, else "https".
    pub scheme: &'static str,
}

impl Remote {
    /// Parses `[REGISTRY/]REPOSITORY[:TAG]`.
    pub fn parse(s: &str) -> Result<Remote> {
        let r = ImageRef::parse(s).map_err(|_| {
            Error::usage(
                format!("invalid push reference '{s}'"),
                "use [REGISTRY/]REPOSITORY[:TAG] in lowercase, e.g. 127.0.0.1:5000/team/app:v1",
            )
        })?;
        let (registry, repository) = r.registry_and_path();
        let (api_host, scheme) = (reference::api_host(&registry), reference::scheme(&registry));
        Ok(Remote { registry, api_host, repository, tag: r.tag, scheme })
    }

    pub(crate) fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.api_host)
    }
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository, self.tag)
    }
}

/// What a push did.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Pushed {
    /// registry/repository:tag.
    pub reference: String,
    /// Digest of the tagged manifest (or index): pull by `reference@digest`.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Every blob, uploaded or skipped.
    pub blobs: Vec<BlobPush>,
    /// Manifests put (per platform, plus the index for several).
    pub manifests: usize,
    /// Bytes sent for blobs.
    pub uploaded_bytes: u64,
    /// Blobs the registry already had.
    pub skipped: usize,
    /// Bytes of the blobs the registry already had: not sent.
    pub skipped_bytes: u64,
}

/// One blob's fate.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BlobPush {
    /// Its digest.
    pub digest: String,
    /// Its size.
    pub size: u64,
    /// True when the registry already had it.
    pub skipped: bool,
}

/// Where a blob's bytes come from.
#[derive(Debug, Clone)]
pub(super) enum Source {
    Memory(Vec<u8>),
    Archive(String),
}

#[derive(Debug, Clone)]
pub(super) struct Blob {
    pub(super) digest: String,
    pub(super) size: u64,
    pub(super) source: Source,
}

#[derive(Debug, Clone)]
pub(super) struct Doc {
    pub(super) digest: String,
    pub(super) media_type: String,
    pub(super) bytes: Vec<u8>,
}

/// The blobs and documents to send, decided before any connection is made.
#[derive(Debug)]
struct Plan {
    blobs: Vec<Blob>,
    /// Per-platform manifests put by digest before an index (empty for one platform).
    children: Vec<Doc>,
    /// The document put under the tag.
    top: Doc,
}

/// Pushes the archive's image (or its multi-platform index) to `target`.
pub(crate) fn push(archive: &Archive, target: &Remote, rep: &Reporter) -> Result<Pushed> {
    let plan = plan(archive)?;
    let mut client = Client::connect(target)?;
    let mut blobs = Vec::new();
    let mut uploaded_bytes = 0;
    let mut seen = std::collections::BTreeSet::new();
    for b in &plan.blobs {
        if !seen.insert(b.digest.clone()) {
            continue;
        }
        let skipped = client.has_blob(&b.digest)?;
        if skipped {
            rep.step("push", format!("{} {} already there, skipped", short_digest(&b.digest), human_size(b.size)));
        } else {
            client.upload_blob(archive, b)?;
            uploaded_bytes += b.size;
            rep.step("push", format!("{} {} uploaded", short_digest(&b.digest), human_size(b.size)));
        }
        blobs.push(BlobPush { digest: b.digest.clone(), size: b.size, skipped });
    }
    for m in &plan.children {
        client.put_manifest(&m.digest, m)?;
    }
    client.put_manifest(&target.tag, &plan.top)?;
    let skipped = blobs.iter().filter(|b| b.skipped).count();
    let skipped_bytes = blobs.iter().filter(|b| b.skipped).map(|b| b.size).sum();
    rep.step(
        "pushed",
        format!(
            "{target}@{} ({} blob{} uploaded, {} skipped, {} sent, {} the registry already had)",
            plan.top.digest,
            blobs.len() - skipped,
            if blobs.len() - skipped == 1 { "" } else { "s" },
            skipped,
            human_size(uploaded_bytes),
            human_size(skipped_bytes)
        ),
    );
    Ok(Pushed {
        reference: target.to_string(),
        digest: plan.top.digest.clone(),
        media_type: plan.top.media_type.clone(),
        blobs,
        manifests: plan.children.len() + 1,
        uploaded_bytes,
        skipped,
        skipped_bytes,
    })
}

/// How an artifact (an SBOM) was attached to a pushed image.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Attached {
    /// Digest of the artifact manifest.
    pub digest: String,
    /// True when the registry indexed it as a referrer of the image (OCI 1.1 referrers API).
    pub referrer: bool,
    /// The tag it was put under when the registry has no referrers API (ko's
    /// `sha256-<digest>.sbom` convention).
    pub tag: Option<String>,
}

/// The empty JSON object OCI 1.1 artifacts use as their config.
const MEDIA_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// The digest the archive's image is pushed as: its manifest's, or its index's.
pub(crate) fn top_digest(archive: &Archive) -> Result<String> {
    Ok(plan(archive)?.top.digest)
}

/// Attaches `bytes` (of media type `artifact_type`, e.g. application/spdx+json) to the image
/// the archive's push put in the registry: an OCI artifact manifest whose `subject` is the
/// image. A registry with the referrers API indexes it by that subject; any other gets it
/// under the tag `sha256-<hex>.<suffix>` as well (what ko and cosign look up).
pub(crate) fn attach(
    archive: &Archive,
    target: &Remote,
    artifact_type: &str,
    bytes: &[u8],
    suffix: &str,
) -> Result<Attached> {
    let top = plan(archive)?.top;
    let mut client = Client::connect(target)?;
    let blobs = [
        Blob { digest: crate::digest::sha256_digest(b"{}"), size: 2, source: Source::Memory(b"{}".to_vec()) },
        Blob {
            digest: crate::digest::sha256_digest(bytes),
            size: bytes.len() as u64,
            source: Source::Memory(bytes.to_vec()),
        },
    ];
    for b in &blobs {
        if !client.has_blob(&b.digest)? {
            client.upload_blob(archive, b)?;
        }
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": spec::MEDIA_MANIFEST,
        "artifactType": artifact_type,
        "config": { "mediaType": MEDIA_EMPTY, "digest": blobs[0].digest, "size": 2 },
        "layers": [{ "mediaType": artifact_type, "digest": blobs[1].digest, "size": blobs[1].size }],
        "subject": { "mediaType": top.media_type, "digest": top.digest, "size": top.bytes.len() },
    });
    let body = serde_json::to_vec(&manifest).expect("a manifest serialises");
    let doc = Doc { digest: crate::digest::sha256_digest(&body), media_type: spec::MEDIA_MANIFEST.into(), bytes: body };
    if client.put_manifest(&doc.digest, &doc)?.is_some()
        || client.referrers(target, &top.digest, artifact_type)?.is_some()
    {
        return Ok(Attached { digest: doc.digest, referrer: true, tag: None });
    }
    let tag = format!("{}.{suffix}", top.digest.replace(':', "-"));
    client.put_manifest(&tag, &doc)?;
    Ok(Attached { digest: doc.digest, referrer: false, tag: Some(tag) })
}

fn plan(archive: &Archive) -> Result<Plan> {
    let usage = |m: String| {
        Error::input(
            &archive.path,
            m,
            Some("push an archive holding one image or one multi-platform index (see staticize inspect)".into()),
        )
    };
    if archive.indexes.len() == 1 && archive.indexes[0].images.len() == archive.images.len() {
        let ix = &archive.indexes[0];
        let mut blobs = Vec::new();
        let mut children = Vec::new();
        for &i in &ix.images {
            let (b, doc) = plan_image(archive, &archive.images[i])?;
            blobs.extend(b);
            children.push(doc);
        }
        let top = Doc {
            digest: ix.doc.digest.clone(),
            media_type: ix.doc.media_type.clone().unwrap_or_else(|| spec::MEDIA_INDEX.into()),
            bytes: ix.doc.bytes.clone(),
        };
        return Ok(Plan { blobs, children, top });
    }
    match archive.images.as_slice() {
        [img] => {
            let (blobs, top) = plan_image(archive, img)?;
            Ok(Plan { blobs, children: Vec::new(), top })
        }
        imgs => Err(usage(format!("holds {} images; staticize pushes one image (or one index) at a time", imgs.len()))),
    }
}

/// The blobs and manifest of one image; archives without manifests (docker save) get an OCI
/// manifest made from the layer bytes.
fn plan_image(archive: &Archive, img: &Image) -> Result<(Vec<Blob>, Doc)> {
    let config = Blob {
        digest: img.config.digest.clone(),
        size: img.config.bytes.len() as u64,
        source: Source::Memory(img.config.bytes.clone()),
    };
    let mut blobs = vec![config];
    if let Some(m) = &img.manifest {
        for l in &img.layers {
            let digest = l.digest.clone().unwrap_or_default();
            blobs.push(Blob { digest, size: l.size, source: Source::Archive(l.location.clone()) });
        }
        let doc = Doc {
            digest: m.digest.clone(),
            media_type: m.media_type.clone().unwrap_or_else(|| spec::MEDIA_MANIFEST.into()),
            bytes: m.bytes.clone(),
        };
        return Ok((blobs, doc));
    }
    let mut layers = Vec::new();
    for l in &img.layers {
        let (digest, size) = archive.hash_file(&l.location)?;
        let (mut r, _) = archive.open_file(&l.location)?;
        let mut magic = [0u8; 4];
        let n = read_up_to(&mut r, &mut magic).map_err(|e| Error::io("read image", &archive.path, e))?;
        let media_type = compression_of(&magic[..n]).map_or(spec::MEDIA_LAYER_TAR, |c| c.media_type());
        layers.push(Descriptor::new(media_type, &digest, size));
        blobs.push(Blob { digest, size, source: Source::Archive(l.location.clone()) });
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(spec::MEDIA_MANIFEST.into()),
        config: Descriptor::new(spec::MEDIA_CONFIG, &img.config.digest, img.config.bytes.len() as u64),
        layers,
        annotations: Default::default(),
    };
    let bytes = serde_json::to_vec(&manifest).expect("manifests serialise");
    Ok((blobs, Doc { digest: crate::digest::sha256_digest(&bytes), media_type: spec::MEDIA_MANIFEST.into(), bytes }))
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A request body that can be produced again (for a retry after authenticating).
pub(super) enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    Blob { archive: &'a Archive, source: &'a Source, offset: u64, len: u64 },
}

impl Body<'_> {
    fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::Blob { len, .. } => *len,
        }
    }

    fn open(&self) -> Result<Box<dyn Read + Send>> {
        match self {
            Body::Empty => Ok(Box::new(io::empty())),
            Body::Bytes(b) => Ok(Box::new(io::Cursor::new(b.to_vec()))),
            Body::Blob { archive, source, offset, len } => match source {
                Source::Memory(b) => {
                    let start = (*offset as usize).min(b.len());
                    let end = (start + *len as usize).min(b.len());
                    Ok(Box::new(io::Cursor::new(b[start..end].to_vec())))
                }
                Source::Archive(location) => {
                    let (mut r, _) = archive.open_file(location)?;
                    io::copy(&mut (&mut r).take(*offset), &mut io::sink())
                        .map_err(|e| Error::io("read image", &archive.path, e))?;
                    Ok(Box::new(r.take(*len)))
                }
            },
        }
    }
}

/// A connection to one repository of one registry, authenticated as needed.
pub(super) struct Client {
    agent: ureq::Agent,
    timeout: Duration,
    target: Remote,
    lookup: Lookup,
    authorization: Option<String>,
    chunk: u64,
}

impl Client {
    /// Checks the registry answers the v2 API and authenticates for push.
    pub(super) fn connect(target: &Remote) -> Result<Client> {
        let lookup = auth::find_credentials(&target.registry)?;
        let timeout = timeout();
        // Inactivity, not duration: every single socket read and write gets `timeout` (ureq's
        // per-read/per-write limits), so a registry that stops answering ends the push while a
        // slow upload that keeps moving runs as long as it needs. No phase has a total limit.
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(timeout))
            .timeout_per_read(Some(timeout))
            .timeout_per_write(Some(timeout))
            .user_agent(format!("staticize/{}", env!("CARGO_PKG_VERSION")))
            .build();
        let chunk = std::env::var("STATICIZE_PUSH_CHUNK_SIZE")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_CHUNK);
        let mut c =
            Client { agent: config.into(), timeout, target: target.clone(), lookup, authorization: None, chunk };
        let url = format!("{}/v2/", target.base());
        let resp = c.send("GET", &url, &[], Body::Empty, "check the registry API")?;
        match resp.status().as_u16() {
            200 => Ok(c),
            404 => Err(c.fail(
                format!("{url} answered 404: this is not an OCI / docker registry"),
                "check the host and port in the push reference",
            )),
            _ => Err(c.status_error(resp, "check the registry API")),
        }
    }

    pub(super) fn has_blob(&mut self, digest: &str) -> Result<bool> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.target.base(), self.target.repository);
        let resp = self.send("HEAD", &url, &[], Body::Empty, "look for a blob")?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error(resp, &format!("look for blob {}", short_digest(digest)))),
        }
    }

    pub(super) fn upload_blob(&mut self, archive: &Archive, b: &Blob) -> Result<()> {
        let what = format!("upload blob {}", short_digest(&b.digest));
        let start = format!("{}/v2/{}/blobs/uploads/", self.target.base(), self.target.repository);
        let resp = self.send("POST", &start, &[], Body::Empty, &what)?;
        if resp.status().as_u16() != 202 {
            return Err(self.status_error(resp, &what));
        }
        let mut location = self.location(&resp, &what)?;
        let octet = ("Content-Type", "application/octet-stream".to_string());
        let body = |offset: u64, len: u64| Body::Blob { archive, source: &b.source, offset, len };
        if b.size > self.chunk {
            let mut offset = 0;
            while offset < b.size {
                let len = self.chunk.min(b.size - offset);
                let range = ("Content-Range", format!("{offset}-{}", offset + len - 1));
                let resp = self.send("PATCH", &location, &[octet.clone(), range], body(offset, len), &what)?;
                if resp.status().as_u16() != 202 {
                    return Err(self.status_error(resp, &what));
                }
                location = self.location(&resp, &what)?;
                offset += len;
            }
            let url = with_digest(&location, &b.digest);
            let resp = self.send("PUT", &url, &[octet], Body::Empty, &what)?;
            if resp.status().as_u16() != 201 {
                return Err(self.status_error(resp, &what));
            }
        } else {
            let url = with_digest(&location, &b.digest);
            let resp = self.send("PUT", &url, &[octet], body(0, b.size), &what)?;
            if resp.status().as_u16() != 201 {
                return Err(self.status_error(resp, &what));
            }
        }
        Ok(())
    }

    /// The OCI 1.1 referrers index of `digest` in `target`'s repository, asked for those of
    /// `artifact_type`; None: the registry has no referrers API (it answers 404, as Debian's
    /// docker-registry does). Some registries (go-containerregistry's) index referrers without
    /// the OCI-Subject header the spec asks for on the put, so this is what tells.
    pub(super) fn referrers(&mut self, target: &Remote, digest: &str, artifact_type: &str) -> Result<Option<Vec<u8>>> {
        let what = format!("list the referrers of {digest}");
        let url = format!(
            "{}/v2/{}/referrers/{digest}?artifactType={}",
            target.base(),
            target.repository,
            artifact_type.replace('+', "%2B")
        );
        let accept = ("Accept", spec::MEDIA_INDEX.to_string());
        let mut resp = self.send("GET", &url, &[accept], Body::Empty, &what)?;
        match resp.status().as_u16() {
            200 => {}
            404 | 405 => return Ok(None),
            _ => return Err(self.status_error(resp, &what)),
        }
        let bytes = resp.body_mut().with_config().limit(4 << 20).read_to_vec().map_err(|e| {
            self.fail(format!("sent an unreadable referrers index for {digest}: {e}"), "check the registry")
        })?;
        Ok(Some(bytes))
    }

    /// Puts a manifest; returns the OCI-Subject header a registry with the referrers API
    /// answers for a manifest that has a subject.
    pub(super) fn put_manifest(&mut self, reference: &str, doc: &Doc) -> Result<Option<String>> {
        let what = format!("put manifest {reference}");
        let url = format!("{}/v2/{}/manifests/{reference}", self.target.base(), self.target.repository);
        let ct = ("Content-Type", doc.media_type.clone());
        let resp = self.send("PUT", &url, &[ct], Body::Bytes(&doc.bytes), &what)?;
        if resp.status().as_u16() != 201 {
            return Err(self.status_error(resp, &what));
        }
        Ok(header(&resp, "oci-subject"))
    }

    /// Sends a request; on 401 authenticates as the challenge asks and sends it once more.
    pub(super) fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Body,
        what: &str,
    ) -> Result<Response<ureq::Body>> {
        let mut resp = self.send_once(method, url, headers, &body, what)?;
        if resp.status().as_u16() == 401 {
            let challenge = header(&resp, "www-authenticate");
            // Drain the refusal so the connection can be reused.
            let _ = resp.body_mut().with_config().limit(1 << 20).read_to_vec();
            let Some(challenge) = challenge.as_deref().and_then(auth::parse_challenge) else {
                return Err(self.fail(
                    format!("answered 401 to {what} without a challenge staticize understands (Bearer or Basic)"),
                    "check the registry's authentication setup",
                ));
            };
            let had_auth = self.authorization.is_some();
            self.authenticate(&challenge)?;
            resp = self.send_once(method, url, headers, &body, what)?;
            if resp.status().as_u16() == 401 {
                return Err(self.refused(had_auth || self.lookup.credentials.is_some()));
            }
        }
        Ok(resp)
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &Body,
        what: &str,
    ) -> Result<Response<ureq::Body>> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a);
        }
        let result = if matches!(method, "GET" | "HEAD") {
            let req = req.body(()).map_err(|e| self.fail(format!("bad request for {what}: {e}"), "report this bug"))?;
            self.agent.run(req)
        } else {
            req = req.header("Content-Length", body.len().to_string());
            let reader = body.open()?;
            let req = req
                .body(ureq::SendBody::from_owned_reader(reader))
                .map_err(|e| self.fail(format!("bad request for {what}: {e}"), "report this bug"))?;
            let wait = self.timeout + drain_allowance(body.len());
            let req = self.agent.configure_request(req).timeout_per_read(Some(wait)).build();
            self.agent.run(req)
        };
        result.map_err(|e| self.transport_error(e, what))
    }

    fn authenticate(&mut self, challenge: &Challenge) -> Result<()> {
        let creds = self.lookup.credentials.clone();
        match challenge {
            Challenge::Basic => {
                let c = creds.ok_or_else(|| self.refused(false))?;
                self.authorization = Some(c.basic_header());
                Ok(())
            }
            Challenge::Bearer { realm, service, scope } => {
                if !(realm.starts_with("https://") || realm.starts_with("http://")) {
                    return Err(self.fail(
                        format!("asked for a token from '{realm}', which is not an http(s) URL"),
                        "check the registry's token authentication setup",
                    ));
                }
                let wanted = format!("repository:{}:pull,push", self.target.repository);
                let mut req = self.agent.get(realm.as_str());
                if let Some(s) = service {
                    req = req.query("service", s);
                }
                req = req.query("scope", &wanted);
                if let Some(s) = scope.as_ref().filter(|s| **s != wanted) {
                    req = req.query("scope", s);
                }
                if let Some(c) = &creds {
                    req = req.header("Authorization", c.basic_header());
                }
                let mut resp = req.call().map_err(|e| self.transport_error(e, "get a token"))?;
                match resp.status().as_u16() {
                    200 => {}
                    401 | 403 => return Err(self.refused(creds.is_some())),
                    _ => return Err(self.status_error(resp, &format!("get a token from {realm}"))),
                }
                #[derive(Deserialize)]
                struct Token {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_vec()
                    .map_err(|e| self.transport_error(e, "read the token"))?;
                let t: Token = serde_json::from_slice(&body).map_err(|e| {
                    self.fail(
                        format!("the token endpoint {realm} answered something that is not a token: {e}"),
                        "check the registry's token authentication setup",
                    )
                })?;
                let token = t.token.or(t.access_token).filter(|t| !t.is_empty()).ok_or_else(|| {
                    self.fail(
                        format!("the token endpoint {realm} sent no token"),
                        "check the registry's token authentication setup",
                    )
                })?;
                self.authorization = Some(format!("Bearer {token}"));
                Ok(())
            }
        }
    }

    pub(super) fn location(&self, resp: &Response<ureq::Body>, what: &str) -> Result<String> {
        let loc = header(resp, "location").ok_or_else(|| {
            self.fail(
                format!("sent no upload Location to {what}"),
                "the registry is not speaking the distribution API; check its version",
            )
        })?;
        Ok(if loc.starts_with("http://") || loc.starts_with("https://") {
            loc
        } else if loc.starts_with('/') {
            format!("{}{loc}", self.target.base())
        } else {
            format!("{}/{loc}", self.target.base())
        })
    }

    pub(super) fn fail(&self, message: String, help: &str) -> Error {
        Error::Registry { registry: self.target.registry.clone(), message, help: Some(help.to_string()) }
    }

    fn refused(&self, had_credentials: bool) -> Error {
        let repo = &self.target.repository;
        let reg = &self.target.registry;
        match (&self.lookup.credentials, had_credentials) {
            (Some(c), _) => self.fail(
                format!("refused the credentials of '{}' (from {}) for pushing to {repo} (HTTP 401)", c.username, c.source.display()),
                &format!("log in again (podman login {reg}, or docker login {reg}), or point REGISTRY_AUTH_FILE at a file with the right credentials"),
            ),
            (None, _) => {
                let searched = if self.lookup.searched.is_empty() {
                    "no auth file found".to_string()
                } else {
                    format!("none for {reg} in {}", self.lookup.searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
                };
                let helper = self
                    .lookup
                    .helper
                    .as_ref()
                    .map(|h| format!(" (a credential helper '{h}' is configured; staticize does not run helpers)"))
                    .unwrap_or_default();
                self.fail(
                    format!("needs credentials to push to {repo} (HTTP 401); {searched}{helper}"),
                    &format!("log in with podman login {reg} (or docker login {reg}), or set REGISTRY_AUTH_FILE to a file with auths.\"{reg}\".auth = base64(user:password)"),
                )
            }
        }
    }

    pub(super) fn status_error(&self, mut resp: Response<ureq::Body>, what: &str) -> Error {
        let status = resp.status().as_u16();
        let body = resp.body_mut().with_config().limit(64 * 1024).read_to_vec().unwrap_or_default();
        let detail = registry_message(&body);
        let detail = if detail.is_empty() { String::new() } else { format!(": {detail}") };
        match status {
            403 => self.fail(
                format!("denied the request to {what} in {} (HTTP 403){detail}", self.target.repository),
                "check that your account may push to this repository",
            ),
            500..=599 => self.fail(
                format!("failed with HTTP {status} while trying to {what}{detail}"),
                "the registry itself failed: check its logs and free space, then push again (blobs already sent are skipped)",
            ),
            _ => self.fail(
                format!("answered HTTP {status} while trying to {what}{detail}"),
                "check the push reference and the registry's logs",
            ),
        }
    }

    fn transport_error(&self, e: ureq::Error, what: &str) -> Error {
        let url = self.target.base();
        let (message, help) = match &e {
            ureq::Error::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused => (
                format!("is not reachable at {url}: connection refused (while trying to {what})"),
                "is the registry running and listening on that port? check the host and port in the push reference".to_string(),
            ),
            ureq::Error::Io(io) if io.to_string().contains("lookup address") => (
                format!("host '{}' not found (while trying to {what})", self.target.api_host),
                "check the registry name in the push reference".to_string(),
            ),
            ureq::Error::ConnectionFailed | ureq::Error::Io(_) => (
                format!("is not reachable at {url}: {e} (while trying to {what})"),
                "is the registry running? check the host and port in the push reference".to_string(),
            ),
            ureq::Error::HostNotFound => (
                format!("host '{}' not found (while trying to {what})", self.target.api_host),
                "check the registry name in the push reference".to_string(),
            ),
            ureq::Error::Timeout(t) => (
                format!(
                    "{} at {url} (while trying to {what})",
                    match t {
                        ureq::Timeout::Connect | ureq::Timeout::Resolve => {
                            format!("could not connect within {}", show_secs(self.timeout))
                        }
                        _ => format!("sent and received nothing for {}", show_secs(self.timeout)),
                    }
                ),
                format!(
                    "check that the registry is up and not overloaded, then push again; to wait longer, set STATICIZE_PUSH_TIMEOUT=SECONDS (now {})",
                    self.timeout.as_secs_f64()
                ),
            ),
            ureq::Error::Tls(_) | ureq::Error::Rustls(_) => (
                format!("TLS failed with {url}: {e}"),
                "staticize speaks HTTPS to every registry except localhost and 127.0.0.1; give the registry a valid certificate".to_string(),
            ),
            _ => (format!("{e} (while trying to {what} at {url})"), "check the registry address and try again".to_string()),
        };
        self.fail(message, &help)
    }
}

/// The slowest upload rate the wait for an upload's answer allows for (bytes per second).
const SLOWEST_UPLOAD: u64 = 64 << 10;

/// Extra time to wait for the answer to a request with a body of `len` bytes: the last bytes
/// handed to the kernel may still sit in this machine's socket send buffer (up to tcp_wmem's
/// maximum), moving but unseen, while the registry rightly says nothing. A registry that never
/// answers an upload is given up on after the timeout plus this.
fn drain_allowance(len: u64) -> Duration {
    let send_buffer = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2).and_then(|n| n.parse::<u64>().ok()))
        .unwrap_or(4 << 20);
    Duration::from_secs_f64(len.min(send_buffer) as f64 / SLOWEST_UPLOAD as f64)
}

/// "60 s", "0.5 s".
fn show_secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn header(resp: &Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

pub(super) fn with_digest(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={}", digest.replace(':', "%3A"))
}

/// The `errors[].code: message` of a registry error body, or its first line.
fn registry_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(body) {
        return e
            .errors
            .iter()
            .map(|i| format!("{} {}", i.code, i.message).trim().to_string())
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text = String::from_utf8_lossy(body);
    text.lines().next().unwrap_or("").chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Remote::parse("127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(
            (t.registry.as_str(), t.repository.as_str(), t.tag.as_str(), t.scheme),
            ("127.0.0.1:5000", "team/app", "v1", "http")
        );
        let t = Remote::parse("redis").unwrap();
        assert_eq!(
            (t.api_host.as_str(), t.repository.as_str(), t.tag.as_str(), t.scheme),
            ("registry-1.docker.io", "library/redis", "latest", "https")
        );
        let t = Remote::parse("ghcr.io/o/app").unwrap();
        assert_eq!((t.registry.as_str(), t.scheme), ("ghcr.io", "https"));
        assert_eq!(Remote::parse("localhost/x").unwrap().scheme, "http");
        assert!(Remote::parse("Bad/Name").is_err());
    }

    #[test]
    fn registry_errors_are_summarised() {
        let b = br#"{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"blob upload invalid"}]}"#;
        assert_eq!(registry_message(b), "BLOB_UPLOAD_INVALID blob upload invalid");
        assert_eq!(with_digest("http://x/u?state=1", "sha256:ab"), "http://x/u?state=1&digest=sha256%3Aab");
    }
}
