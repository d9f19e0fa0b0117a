//! Objects in a bucket outside any remote: what an `s3://`, `gs://` or `az://` reference
//! points at. The client is built as a remote's is (credentials, endpoint and region from the
//! environment), once per bucket and environment, with a small runtime of its own.

use super::url::info;
use super::{Error, Location, ObjectInfo, RemoteSpec, Result, error_text, first_line};
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, ObjectStore};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// HEAD requests in flight at once.
const CONCURRENCY: usize = 16;

/// The schemes a [`Bucket`] reaches.
pub const BUCKET_SCHEMES: [&str; 3] = ["s3://", "gs://", "az://"];

/// Whether `url` names an object or prefix in a bucket (`s3://`, `gs://`, `az://`).
#[must_use]
pub fn is_bucket_url(url: &str) -> bool {
    BUCKET_SCHEMES.iter().any(|s| url.starts_with(s))
}

/// One bucket (or Azure container), reached with the environment's credentials.
pub struct Bucket {
    /// `SCHEME://BUCKET`.
    base: String,
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// What a GET of a pinned object found.
pub enum Fetch<'a> {
    /// The object's bytes (streamed) and what the server said about them.
    Found(ObjectReader<'a>, ObjectInfo),
    /// No such object (or no such version).
    Missing,
    /// The object's ETag is no longer the one asked for (`If-Match` failed).
    Changed,
}

/// The truthy spellings of a boolean environment variable.
fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// The environment a client is built from, so a changed environment (a long-lived Python
/// process switching credentials) gets a new client instead of a stale cached one.
fn environment() -> String {
    let mut vars: Vec<String> = std::env::vars()
        .filter(|(k, _)| {
            ["AWS_", "AZURE_", "GOOGLE_", "SERVICE_ACCOUNT"]
                .iter()
                .any(|p| k.starts_with(p))
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    vars.sort();
    vars.join("\n")
}

impl Bucket {
    /// The bucket `url` is in and the object key (or key prefix) it names, exactly as given
    /// (a trailing `/` kept). Clients are cached per bucket and environment.
    ///
    /// # Errors
    /// [`Error::BadUrl`] for a URL that is not `SCHEME://BUCKET[/KEY]`; a client that cannot
    /// be built.
    pub fn for_url(url: &str) -> Result<(Arc<Bucket>, String)> {
        static CACHE: OnceLock<Mutex<HashMap<String, Arc<Bucket>>>> = OnceLock::new();
        let bad = |reason: &str| Error::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let scheme = BUCKET_SCHEMES
            .iter()
            .find(|s| url.starts_with(**s))
            .ok_or_else(|| bad("not an s3://, gs:// or az:// URL"))?;
        let rest = &url[scheme.len()..];
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket"));
        }
        let base = format!("{scheme}{bucket}");
        let cache_key = format!("{base}\n{}", environment());
        let cache = CACHE.get_or_init(Mutex::default);
        if let Some(b) = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&cache_key)
        {
            return Ok((Arc::clone(b), key.to_owned()));
        }
        let location = super::parse_url(&base)?;
        // Plain HTTP (an emulator, a local S3-compatible server) only when the environment
        // says so, as `--allow-http` does for a remote.
        let allow_http = match location {
            Location::S3 { .. } => env_flag("AWS_ALLOW_HTTP"),
            Location::Azure { .. } => env_flag("AZURE_ALLOW_HTTP"),
            Location::Gcs { .. } => env_flag("GOOGLE_ALLOW_HTTP"),
            Location::Dir(_) => false,
        };
        let spec = RemoteSpec {
            url: base.clone(),
            endpoint: None,
            region: None,
            allow_http,
        };
        let other = |message: String| Error::Bucket {
            url: url.to_owned(),
            message,
        };
        let store = super::bucket_store(&location, &spec, &other)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("art-bucket")
            .enable_all()
            .build()
            .map_err(|e| other(format!("cannot start the I/O runtime: {e}")))?;
        let made = Arc::new(Bucket {
            base,
            store,
            runtime,
        });
        cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(cache_key, Arc::clone(&made));
        Ok((made, key.to_owned()))
    }

    /// `SCHEME://BUCKET/KEY`.
    #[must_use]
    pub fn url_of(&self, key: &str) -> String {
        format!("{}/{key}", self.base)
    }

    fn path(&self, key: &str) -> Result<ObjectPath> {
        ObjectPath::parse(key).map_err(|e| Error::BadUrl {
            url: self.url_of(key),
            reason: format!("not a usable object key: {e}"),
        })
    }

    fn error(&self, key: &str, e: &object_store::Error) -> Error {
        Error::Bucket {
            url: self.url_of(key),
            message: first_line(&error_text(e)),
        }
    }

    /// What the server says about object `key` (its `version`, when given); `None` when
    /// there is no such object or version.
    ///
    /// # Errors
    /// A bad key; transport, credential and server errors, naming the URL.
    pub fn head(&self, key: &str, version: Option<&str>) -> Result<Option<ObjectInfo>> {
        let path = self.path(key)?;
        self.runtime.block_on(self.head_at(key, &path, version))
    }

    async fn head_at(
        &self,
        key: &str,
        path: &ObjectPath,
        version: Option<&str>,
    ) -> Result<Option<ObjectInfo>> {
        let opts = GetOptions {
            head: true,
            version: version.map(str::to_owned),
            ..GetOptions::default()
        };
        match self.store.get_opts(path, opts).await {
            Ok(r) => Ok(Some(info(&r.meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(key, &e)),
        }
    }

    /// [`Bucket::head`] of each `(key, version)`, several requests at a time, in order;
    /// `stop` is checked before each.
    ///
    /// # Errors
    /// As [`Bucket::head`], the first failure; [`Error::Interrupted`].
    pub fn head_many(
        &self,
        objects: &[(String, Option<String>)],
        stop: &AtomicBool,
    ) -> Result<Vec<Option<ObjectInfo>>> {
        self.runtime.block_on(async {
            futures::stream::iter(objects.iter().map(|(key, version)| async move {
                if stop.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                let path = self.path(key)?;
                self.head_at(key, &path, version.as_deref()).await
            }))
            .buffered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
        })
    }

    /// The objects under `prefix` (a key prefix; `""` for the whole bucket), as
    /// `(key, info)` in key order, or `None` as soon as there are more than `max`: the
    /// listing stops there rather than reading the rest. `stop` is checked between objects.
    ///
    /// # Errors
    /// A bad prefix; transport, credential and server errors (a missing bucket among them);
    /// [`Error::Interrupted`].
    pub fn list(
        &self,
        prefix: &str,
        max: u64,
        stop: &AtomicBool,
    ) -> Result<Option<Vec<(String, ObjectInfo)>>> {
        let trimmed = prefix.trim_end_matches('/');
        let path = if trimmed.is_empty() {
            None
        } else {
            Some(self.path(trimmed)?)
        };
        self.runtime.block_on(async {
            let mut stream = self.store.list(path.as_ref());
            let mut out = Vec::new();
            while let Some(meta) = stream.next().await {
                if stop.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                let meta = meta.map_err(|e| self.error(prefix, &e))?;
                if out.len() as u64 == max {
                    return Ok(None);
                }
                out.push((meta.location.to_string(), info(&meta)));
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(Some(out))
        })
    }

    /// Starts reading object `key`: the pinned `version` when given, else whatever is there
    /// provided its ETag is still `if_match` (the server checks, where it supports `If-Match`;
    /// the caller checks what it gets in any case).
    ///
    /// # Errors
    /// A bad key; transport, credential and server errors.
    pub fn get(
        &self,
        key: &str,
        version: Option<&str>,
        if_match: Option<&str>,
    ) -> Result<Fetch<'_>> {
        let path = self.path(key)?;
        let opts = GetOptions {
            version: version.map(str::to_owned),
            if_match: if_match.map(str::to_owned),
            ..GetOptions::default()
        };
        match self.runtime.block_on(self.store.get_opts(&path, opts)) {
            Ok(r) => {
                let meta = info(&r.meta);
                Ok(Fetch::Found(ObjectReader::new(&self.runtime, r), meta))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(Fetch::Missing),
            Err(object_store::Error::Precondition { .. }) => Ok(Fetch::Changed),
            Err(e) => Err(self.error(key, &e)),
        }
    }
}

/// An object's bytes as a blocking [`std::io::Read`], pulled from the response one chunk at
/// a time so a large object never sits whole in memory.
pub struct ObjectReader<'a> {
    runtime: &'a tokio::runtime::Runtime,
    stream: BoxStream<'static, object_store::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    /// How much of `chunk` has been read.
    at: usize,
}

impl<'a> ObjectReader<'a> {
    pub(super) fn new(
        runtime: &'a tokio::runtime::Runtime,
        result: object_store::GetResult,
    ) -> Self {
        // Each chunk is copied out once: the `bytes` crate stays object_store's business.
        let stream = result.into_stream().map(|c| c.map(|b| b.to_vec())).boxed();
        ObjectReader {
            runtime,
            stream,
            chunk: Vec::new(),
            at: 0,
        }
    }
}

impl std::io::Read for ObjectReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.runtime.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Some(Err(e)) => {
                    return Err(std::io::Error::other(first_line(&error_text(&e))));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
