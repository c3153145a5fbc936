//! Reading and writing single documents in one repository: a manifest by tag or digest, a
//! small blob, a small blob put from memory — what signing and verifying need beside the push
//! of a whole archive. Everything read is capped and its digest checked.

use crate::digest::sha256_digest;
use crate::error::Result;
use crate::image::spec;
use crate::registry::push::{Body, Client, Doc, Remote, with_digest};

/// Largest manifest read.
const MAX_MANIFEST: u64 = 4 << 20;
/// Largest blob read (a signature payload, an attestation).
const MAX_BLOB: u64 = 16 << 20;

/// The manifest types asked for (OCI and docker, image and index).
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// A manifest as the registry holds it.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// "sha256:…" of its bytes.
    pub digest: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// One repository of a registry, connected.
pub(crate) struct Repository {
    client: Client,
    target: Remote,
}

impl Repository {
    /// Connects to the repository of `target` (its tag is not used).
    pub(crate) fn open(target: &Remote) -> Result<Repository> {
        Ok(Repository { client: Client::connect(target)?, target: target.clone() })
    }

    fn url(&self, kind: &str, reference: &str) -> String {
        format!("{}/v2/{}/{kind}/{reference}", self.target.base(), self.target.repository)
    }

    /// The manifest under `reference` (a tag or a digest); None: there is none.
    pub(crate) fn manifest(&mut self, reference: &str) -> Result<Option<Fetched>> {
        let what = format!("get manifest {reference}");
        let url = self.url("manifests", reference);
        let mut resp = self.client.send("GET", &url, &[("Accept", ACCEPT.into())], Body::Empty, &what)?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.client.status_error(resp, &what)),
        }
        let bytes = resp.body_mut().with_config().limit(MAX_MANIFEST).read_to_vec().map_err(|e| {
            self.client.fail(format!("sent an unreadable manifest for {reference}: {e}"), "check the registry's logs")
        })?;
        let digest = sha256_digest(&bytes);
        if reference.starts_with("sha256:") && reference != digest {
            return Err(self.client.fail(
                format!("answered a manifest whose digest is {digest} for {reference}"),
                "the registry returned other bytes than asked for; check it",
            ));
        }
        Ok(Some(Fetched { digest, bytes }))
    }

    /// The blob `digest`, its bytes checked against it.
    pub(crate) fn blob(&mut self, digest: &str) -> Result<Vec<u8>> {
        self.blob_at_most(digest, MAX_BLOB)
    }

    /// The blob `digest`, at most `limit` bytes, its bytes checked against it.
    pub(crate) fn blob_at_most(&mut self, digest: &str, limit: u64) -> Result<Vec<u8>> {
        let what = format!("get blob {digest}");
        let url = self.url("blobs", digest);
        let mut resp = self.client.send("GET", &url, &[], Body::Empty, &what)?;
        if resp.status().as_u16() != 200 {
            return Err(self.client.status_error(resp, &what));
        }
        let bytes = resp.body_mut().with_config().limit(limit).read_to_vec().map_err(|e| {
            self.client.fail(format!("sent an unreadable blob {digest}: {e}"), "check the registry's logs")
        })?;
        if sha256_digest(&bytes) != digest {
            return Err(self.client.fail(format!("answered other bytes for blob {digest}"), "check the registry"));
        }
        Ok(bytes)
    }

    /// Puts `bytes` as a blob unless the registry has it.
    pub(crate) fn put_blob(&mut self, bytes: &[u8]) -> Result<String> {
        let digest = sha256_digest(bytes);
        if self.client.has_blob(&digest)? {
            return Ok(digest);
        }
        let what = format!("upload blob {digest}");
        let start = format!("{}/v2/{}/blobs/uploads/", self.target.base(), self.target.repository);
        let resp = self.client.send("POST", &start, &[], Body::Empty, &what)?;
        if resp.status().as_u16() != 202 {
            return Err(self.client.status_error(resp, &what));
        }
        let url = with_digest(&self.client.location(&resp, &what)?, &digest);
        let octet = ("Content-Type", "application/octet-stream".to_string());
        let resp = self.client.send("PUT", &url, &[octet], Body::Bytes(bytes), &what)?;
        if resp.status().as_u16() != 201 {
            return Err(self.client.status_error(resp, &what));
        }
        Ok(digest)
    }

    /// The manifests that name `digest` as their subject and have `artifact_type`, from the
    /// OCI 1.1 referrers API; None: the registry has no such API (it answers 404, as Debian's
    /// docker-registry does), so the tag scheme stands in.
    pub(crate) fn referrers(&mut self, digest: &str, artifact_type: &str) -> Result<Option<Vec<String>>> {
        let Some(bytes) = self.client.referrers(&self.target, digest, artifact_type)? else { return Ok(None) };
        let index: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            self.client.fail(format!("sent a referrers index for {digest} that is not JSON: {e}"), "check the registry")
        })?;
        // The filter is applied here too: a registry may ignore it (and say so by not
        // answering OCI-Filters-Applied).
        let found = index["manifests"].as_array().map_or(&[][..], |m| m.as_slice());
        let digests = found
            .iter()
            .filter(|d| d["artifactType"] == artifact_type)
            .filter_map(|d| d["digest"].as_str().map(String::from))
            .collect();
        Ok(Some(digests))
    }

    /// Every tag of the repository, page by page as the registry's `Link` headers lead (at
    /// most 100 pages of 1000); empty when the repository does not exist.
    pub(crate) fn tags(&mut self) -> Result<Vec<String>> {
        /// One page of `GET /v2/NAME/tags/list`.
        #[derive(serde::Deserialize)]
        struct Page {
            tags: Option<Vec<String>>,
        }
        let what = "list tags";
        let mut url = format!("{}/v2/{}/tags/list?n=1000", self.target.base(), self.target.repository);
        let mut tags = Vec::new();
        for _ in 0..100 {
            let mut resp = self.client.send("GET", &url, &[], Body::Empty, what)?;
            match resp.status().as_u16() {
                200 => {}
                404 => return Ok(tags),
                _ => return Err(self.client.status_error(resp, what)),
            }
            let next = resp.headers().get("link").and_then(|v| v.to_str().ok()).and_then(next_page);
            let bytes = resp.body_mut().with_config().limit(MAX_MANIFEST).read_to_vec().map_err(|e| {
                self.client.fail(format!("sent an unreadable tag list: {e}"), "check the registry's logs")
            })?;
            let page: Page = serde_json::from_slice(&bytes).map_err(|e| {
                self.client.fail(format!("sent a tag list that is not JSON: {e}"), "check the registry")
            })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(n) if n.starts_with("http") => url = n,
                Some(n) => url = format!("{}{n}", self.target.base()),
                None => break,
            }
        }
        Ok(tags)
    }

    /// Puts the OCI image manifest `bytes` by its digest (a referrer needs no tag).
    pub(crate) fn put_untagged(&mut self, bytes: Vec<u8>) -> Result<String> {
        let doc = Doc { digest: sha256_digest(&bytes), media_type: spec::MEDIA_MANIFEST.into(), bytes };
        self.client.put_manifest(&doc.digest, &doc)?;
        Ok(doc.digest)
    }

    /// Puts the OCI image manifest `bytes` under `tag`; returns its digest.
    pub(crate) fn put_manifest(&mut self, tag: &str, bytes: Vec<u8>) -> Result<String> {
        let doc = Doc { digest: sha256_digest(&bytes), media_type: spec::MEDIA_MANIFEST.into(), bytes };
        self.client.put_manifest(tag, &doc)?;
        Ok(doc.digest)
    }
}

/// The target of a `Link: <URL>; rel="next"` header (RFC 5988, as the distribution API pages).
fn next_page(link: &str) -> Option<String> {
    link.split(',').find(|l| l.contains("rel=\"next\"")).and_then(|l| {
        let (_, rest) = l.split_once('<')?;
        let (target, _) = rest.split_once('>')?;
        Some(target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_comes_from_the_link_header() {
        let link = "</v2/team/cache/tags/list?last=deps-z&n=1000>; rel=\"next\"";
        assert_eq!(next_page(link).as_deref(), Some("/v2/team/cache/tags/list?last=deps-z&n=1000"));
        assert_eq!(next_page("<https://r.example/a>; rel=\"prev\""), None);
        assert_eq!(next_page("garbage"), None);
    }
}
