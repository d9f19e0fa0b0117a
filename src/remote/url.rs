//! Single objects at a URL outside any remote: what an `http(s)://` reference points at.
//! Read through object_store's HTTP client, like remotes, on a small runtime of its own.

use super::bucket::ObjectReader;
use super::{Error, Result, client_options, error_text, first_line, retry_config};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;

/// What a server says about an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its length in bytes.
    pub size: u64,
    /// Its ETag, when the server sends one.
    pub etag: Option<String>,
    /// Its Last-Modified time (epoch ms), when the server sends one.
    pub modified_ms: Option<i64>,
    /// The version of the object in a versioned bucket (S3 version id, GCS generation,
    /// Azure version id), when the server sends one.
    pub version: Option<String>,
}

impl ObjectInfo {
    /// What pins the object: its ETag, else its modification time; `None` when the server
    /// sends neither.
    #[must_use]
    pub fn pin(&self) -> Option<String> {
        match (&self.etag, self.modified_ms) {
            (Some(etag), _) => Some(format!("etag:{etag}")),
            (None, Some(ms)) => Some(format!("modified:{ms}")),
            (None, None) => None,
        }
    }
}

/// One object at an `http://` or `https://` URL.
pub struct UrlObject {
    url: String,
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for UrlObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlObject")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl UrlObject {
    /// Prepares requests to `url` (none is made yet).
    ///
    /// # Errors
    /// [`Error::BadUrl`] for a URL that is not `http(s)://HOST/PATH`.
    pub fn open(url: &str) -> Result<Self> {
        let bad = |reason: &str| Error::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| bad("not an http(s) URL"))?;
        let (host, path) = rest
            .split_once('/')
            .filter(|(h, p)| !h.is_empty() && !p.is_empty())
            .ok_or_else(|| bad("expected http(s)://HOST/PATH"))?;
        let base = &url[..url.len() - rest.len() + host.len()];
        let store = object_store::http::HttpBuilder::new()
            .with_url(base)
            .with_client_options(client_options(true))
            .with_retry(retry_config())
            .build()
            .map_err(|e| bad(&first_line(&error_text(&e))))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| bad(&format!("cannot start the I/O runtime: {e}")))?;
        Ok(UrlObject {
            url: url.to_owned(),
            store: Arc::new(store),
            path: ObjectPath::from(path),
            runtime,
        })
    }

    /// The object's size and version headers; `None` when the server answers 404.
    ///
    /// # Errors
    /// Transport and server errors, naming the URL.
    pub fn head(&self) -> Result<Option<ObjectInfo>> {
        match self.runtime.block_on(self.store.head(&self.path)) {
            Ok(meta) => Ok(Some(info(&meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(&e)),
        }
    }

    /// The object's bytes, streamed, and what the server said about them; `None` on 404.
    ///
    /// # Errors
    /// Transport and server errors, naming the URL.
    pub fn get(&self) -> Result<Option<(ObjectReader<'_>, ObjectInfo)>> {
        match self.runtime.block_on(self.store.get(&self.path)) {
            Ok(r) => {
                let meta = info(&r.meta);
                Ok(Some((ObjectReader::new(&self.runtime, r), meta)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(&e)),
        }
    }

    fn error(&self, e: &object_store::Error) -> Error {
        Error::Url {
            url: self.url.clone(),
            message: first_line(&error_text(e)),
        }
    }
}

/// What object_store's metadata says about an object.
pub(super) fn info(meta: &object_store::ObjectMeta) -> ObjectInfo {
    // A zero epoch is object_store's stand-in for a missing Last-Modified.
    let ms = meta.last_modified.timestamp_millis();
    ObjectInfo {
        size: meta.size,
        etag: meta.e_tag.clone(),
        modified_ms: (ms != 0).then_some(ms),
        version: meta.version.clone(),
    }
}
