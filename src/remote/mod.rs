//! Remotes: object stores reached through `object_store` (a local directory or `file://`
//! URL, S3 and S3-compatible servers, Azure Blob Storage, Google Cloud Storage). This is the only module with async code: each
//! [`Remote`] owns a small tokio runtime and offers blocking calls, so the rest of art stays
//! synchronous. A remote holds the same immutable objects as a store: packs under
//! `packs/xx/<hash>.pack` (the same bytes, so blob offsets stay valid for ranged reads) and
//! `art-remote.json` naming the layout format.

mod bucket;
mod error;
mod url;

pub use bucket::{BUCKET_SCHEMES, Bucket, Fetch, ObjectReader, is_bucket_url};
pub use error::{Error, Result};
pub use url::{ObjectInfo, UrlObject};

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The remote layout this build writes; remotes with a higher number are refused.
pub const REMOTE_FORMAT: u32 = 1;

/// The object that names a remote's layout format.
pub const FORMAT_KEY: &str = "art-remote.json";

/// Files above this size are uploaded in parts.
const MULTIPART_ABOVE: u64 = 16 << 20;

/// Part size of multipart uploads (S3 needs at least 5 MiB).
const PART_SIZE: usize = 8 << 20;

/// Uploads and downloads in flight at once.
const CONCURRENCY: usize = 8;

/// Where a remote is and how to reach it, as `config.toml` keeps it. Credentials are never
/// part of it: they come from the environment or the provider's usual files.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteSpec {
    /// `s3://BUCKET/PREFIX`, `az://CONTAINER/PREFIX`, `gs://BUCKET/PREFIX`, `file:///PATH`
    /// or an absolute directory path.
    pub url: String,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`), for MinIO, Ceph, R2 and others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The region (default: `AWS_REGION`, else `us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Allow plain HTTP endpoints.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_http: bool,
}

/// What a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Location {
    /// A directory on this machine.
    Dir(PathBuf),
    /// An S3 bucket and a key prefix (without slashes at either end).
    S3 { bucket: String, prefix: String },
    /// An Azure Blob Storage container and a key prefix.
    Azure { container: String, prefix: String },
    /// A Google Cloud Storage bucket and a key prefix.
    Gcs { bucket: String, prefix: String },
}

/// `BUCKET[/PREFIX]` split, the prefix without slashes at either end.
fn bucket_and_prefix(rest: &str) -> (String, String) {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (bucket.to_owned(), prefix.trim_matches('/').to_owned())
}

fn parse_url(url: &str) -> Result<Location> {
    let bad = |reason: &str| Error::BadUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    for (scheme, what) in [
        ("s3://", "bucket"),
        ("gs://", "bucket"),
        ("az://", "container"),
    ] {
        let Some(rest) = url.strip_prefix(scheme) else {
            continue;
        };
        let (bucket, prefix) = bucket_and_prefix(rest);
        if bucket.is_empty() {
            return Err(bad(&format!("no {what}")));
        }
        return Ok(match scheme {
            "s3://" => Location::S3 { bucket, prefix },
            "gs://" => Location::Gcs { bucket, prefix },
            _ => Location::Azure {
                container: bucket,
                prefix,
            },
        });
    }
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(bad(
                "a file:// URL needs an absolute path (file:///data/art)",
            ));
        }
        return Ok(Location::Dir(PathBuf::from(path)));
    }
    if let Some((scheme, _)) = url.split_once("://") {
        return Err(bad(&format!("art does not support `{scheme}://` remotes")));
    }
    let path = Path::new(url);
    if !path.is_absolute() {
        return Err(bad("a directory remote needs an absolute path"));
    }
    Ok(Location::Dir(path.to_owned()))
}

/// Checks a remote URL (scheme, bucket, absolute path) without contacting it.
///
/// # Errors
/// [`Error::BadUrl`].
pub fn check_url(url: &str) -> Result<()> {
    parse_url(url).map(|_| ())
}

/// Bytes and requests a [`Remote`] has moved, for reports and tests.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Bytes received.
    pub down: AtomicU64,
    /// Bytes sent.
    pub up: AtomicU64,
    /// Requests made.
    pub requests: AtomicU64,
}

/// A connected remote.
pub struct Remote {
    name: String,
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: tokio::runtime::Runtime,
    traffic: Arc<Traffic>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// Connects to the remote `name` described by `spec` to write to it: as [`Remote::connect`],
    /// but a directory remote that does not exist yet is created (its parent must exist, so a
    /// share that is not mounted is not silently replaced by a local directory).
    ///
    /// # Errors
    /// As [`Remote::connect`]; a directory that cannot be created.
    pub fn connect_for_push(name: &str, spec: &RemoteSpec) -> Result<Remote> {
        if let Location::Dir(path) = parse_url(&spec.url)?
            && !path.is_dir()
        {
            match std::fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::NoDirectory {
                        remote: name.to_owned(),
                        path: path.parent().map(Path::to_path_buf).unwrap_or(path),
                    });
                }
                Err(e) => return Err(Error::Local { path, source: e }),
            }
        }
        Remote::connect(name, spec)
    }

    /// Connects to the remote `name` described by `spec` (no request is made yet).
    ///
    /// # Errors
    /// [`Error::BadUrl`]; [`Error::NoDirectory`] for a directory remote that does not exist;
    /// a client that cannot be built.
    pub fn connect(name: &str, spec: &RemoteSpec) -> Result<Remote> {
        let other = |message: String| Error::Other {
            remote: name.to_owned(),
            url: spec.url.clone(),
            message,
        };
        let location = parse_url(&spec.url)?;
        let (store, prefix): (Arc<dyn ObjectStore>, String) = match &location {
            Location::Dir(path) => {
                if !path.is_dir() {
                    return Err(Error::NoDirectory {
                        remote: name.to_owned(),
                        path: path.clone(),
                    });
                }
                let fs = object_store::local::LocalFileSystem::new_with_prefix(path)
                    .map_err(|e| other(e.to_string()))?;
                (Arc::new(fs), String::new())
            }
            Location::Azure { prefix, .. }
            | Location::Gcs { prefix, .. }
            | Location::S3 { prefix, .. } => {
                (bucket_store(&location, spec, &other)?, prefix.clone())
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("art-remote")
            .enable_all()
            .build()
            .map_err(|e| other(format!("cannot start the I/O runtime: {e}")))?;
        Ok(Remote {
            name: name.to_owned(),
            url: spec.url.clone(),
            store,
            prefix,
            runtime,
            traffic: Arc::new(Traffic::default()),
        })
    }

    /// The remote's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What this remote has moved so far.
    #[must_use]
    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    fn path(&self, key: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Maps an object_store failure to a message a user can act on.
    fn error(&self, key: &str, e: object_store::Error) -> Error {
        let text = error_text(&e);
        let lower = text.to_lowercase();
        let (remote, url, message) = (self.name.clone(), self.url.clone(), first_line(&text));
        let any = |words: &[&str]| words.iter().any(|w| lower.contains(w));
        if any(&["nosuchbucket", "bucket does not exist"]) {
            Error::NoBucket { remote, url }
        } else if matches!(e, object_store::Error::NotFound { .. }) {
            Error::NotFound {
                remote,
                key: key.to_owned(),
            }
        } else if any(&[
            "accessdenied",
            "signaturedoesnotmatch",
            "invalidaccesskeyid",
            "403 forbidden",
        ]) {
            Error::AccessDenied {
                remote,
                url,
                message,
            }
        } else if any(&[
            "error sending request",
            "connection refused",
            "dns error",
            "timed out",
            "connect",
        ]) {
            Error::Unreachable {
                remote,
                url,
                message,
            }
        } else {
            Error::Other {
                remote,
                url,
                message,
            }
        }
    }

    fn count(&self, down: u64, up: u64) {
        self.traffic.requests.fetch_add(1, Ordering::Relaxed);
        self.traffic.down.fetch_add(down, Ordering::Relaxed);
        self.traffic.up.fetch_add(up, Ordering::Relaxed);
    }

    /// Checks that the remote is reachable and in a format this build knows, writing the
    /// format object on first use.
    ///
    /// # Errors
    /// Unreachable, denied, missing bucket; [`Error::NewerFormat`]; a malformed format object.
    pub fn prepare(&self) -> Result<()> {
        let body = format!("{{\"format\":{REMOTE_FORMAT}}}\n").into_bytes();
        // A listing first: servers that would create a missing bucket on write (s3s-fs) or
        // answer a GET with NoSuchKey still report NoSuchBucket to a list.
        self.list(FORMAT_KEY)?;
        let found = match self.get(FORMAT_KEY) {
            Ok(bytes) => bytes,
            Err(Error::NotFound { .. }) => {
                self.put_if_absent(FORMAT_KEY, body)?;
                self.get(FORMAT_KEY)?
            }
            Err(e) => return Err(e),
        };
        let format = serde_json::from_slice::<serde_json::Value>(&found)
            .ok()
            .and_then(|v| v.get("format").and_then(serde_json::Value::as_u64))
            .ok_or_else(|| Error::Corrupt {
                remote: self.name.clone(),
                key: FORMAT_KEY.to_owned(),
                reason: "not a format object".into(),
            })?;
        if format > u64::from(REMOTE_FORMAT) {
            return Err(Error::NewerFormat {
                remote: self.name.clone(),
                found: u32::try_from(format).unwrap_or(u32::MAX),
                supported: REMOTE_FORMAT,
            });
        }
        Ok(())
    }

    /// Writes `bytes` at `key` unless an object is already there (create-only, as Delta Lake
    /// commits its log). Returns whether this call created it.
    ///
    /// # Errors
    /// Transport and server errors.
    pub fn put_if_absent(&self, key: &str, bytes: Vec<u8>) -> Result<bool> {
        let len = bytes.len() as u64;
        let path = self.path(key);
        let opts = PutOptions::from(PutMode::Create);
        let result =
            self.runtime
                .block_on(self.store.put_opts(&path, PutPayload::from(bytes), opts));
        self.count(0, len);
        match result {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.error(key, e)),
        }
    }

    /// The whole object at `key`.
    ///
    /// # Errors
    /// [`Error::NotFound`], transport and server errors.
    pub fn get(&self, key: &str) -> Result<Vec<u8>> {
        let path = self.path(key);
        let bytes = self
            .runtime
            .block_on(async { self.store.get(&path).await?.bytes().await })
            .map_err(|e| self.error(key, e))?;
        self.count(bytes.len() as u64, 0);
        Ok(bytes.to_vec())
    }

    /// The whole objects at `keys`, in order, several requests at a time.
    ///
    /// # Errors
    /// The first failure, as [`Remote::get`].
    pub fn get_many(&self, keys: &[String]) -> Result<Vec<Vec<u8>>> {
        self.runtime.block_on(async {
            futures::stream::iter(keys.iter().map(|key| async move {
                let path = self.path(key);
                let bytes = async { self.store.get(&path).await?.bytes().await }
                    .await
                    .map_err(|e| self.error(key, e))?;
                self.count(bytes.len() as u64, 0);
                Ok::<_, Error>(bytes.to_vec())
            }))
            .buffered(CONCURRENCY)
            .try_collect()
            .await
        })
    }

    /// The bytes `range` of the object at `key`; a short answer is an error.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Corrupt`] for a short object, transport errors.
    pub fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>> {
        let path = self.path(key);
        let want = range.end - range.start;
        let bytes = self
            .runtime
            .block_on(self.store.get_range(&path, range))
            .map_err(|e| self.error(key, e))?;
        self.count(bytes.len() as u64, 0);
        if bytes.len() as u64 != want {
            return Err(Error::Corrupt {
                remote: self.name.clone(),
                key: key.to_owned(),
                reason: format!("{} bytes where {want} were asked for", bytes.len()),
            });
        }
        Ok(bytes.to_vec())
    }

    /// Every object under `prefix` (a key prefix ending in `/`), as `(key, size)` relative to
    /// the remote's root; paging is followed.
    ///
    /// # Errors
    /// Transport and server errors.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let path = self.path(prefix.trim_end_matches('/'));
        let root = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let metas: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.store.list(Some(&path)).try_collect())
            .map_err(|e| self.error(prefix, e))?;
        self.count(0, 0);
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let key = m.location.to_string();
                key.strip_prefix(&root).map(|k| (k.to_owned(), m.size))
            })
            .collect())
    }

    /// Uploads local files to their keys, several at a time, large ones in parts; `done` is
    /// called with each file's size as it completes and `stop` is checked between files.
    ///
    /// # Errors
    /// The first failure (files already uploaded stay: they are immutable and named by
    /// content, so a later run skips them).
    pub fn upload_files(
        &self,
        files: &[(String, PathBuf)],
        done: &(dyn Fn(u64) + Sync),
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<()> {
        self.runtime.block_on(async {
            futures::stream::iter(files.iter().map(|(key, path)| async move {
                if stop.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                let size = self.upload_file(key, path).await?;
                crate::failpoint::hit("push.between-packs").map_err(|e| Error::Local {
                    path: path.clone(),
                    source: e,
                })?;
                done(size);
                Ok(())
            }))
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await
        })?;
        Ok(())
    }

    async fn upload_file(&self, key: &str, path: &Path) -> Result<u64> {
        let local = |e| Error::Local {
            path: path.to_owned(),
            source: e,
        };
        let bytes = tokio::task::block_in_place(|| std::fs::read(path)).map_err(local)?;
        let len = bytes.len() as u64;
        let location = self.path(key);
        if len <= MULTIPART_ABOVE {
            self.store
                .put(&location, PutPayload::from(bytes))
                .await
                .map_err(|e| self.error(key, e))?;
        } else {
            let upload = self
                .store
                .put_multipart(&location)
                .await
                .map_err(|e| self.error(key, e))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            for part in bytes.chunks(PART_SIZE) {
                writer
                    .wait_for_capacity(4)
                    .await
                    .map_err(|e| self.error(key, e))?;
                writer.write(part);
            }
            writer.finish().await.map_err(|e| self.error(key, e))?;
        }
        self.count(0, len);
        Ok(len)
    }
}

/// The object store of a bucket or container, configured from `spec` and the environment as
/// remotes and references are: credentials only from the environment, `endpoint`, `region`
/// and `allow_http` from `spec`; `other` words a builder's failure.
///
/// # Errors
/// [`Error::BadUrl`] for `--endpoint` on a `gs://` URL; a client that cannot be built.
fn bucket_store(
    location: &Location,
    spec: &RemoteSpec,
    other: &dyn Fn(String) -> Error,
) -> Result<Arc<dyn ObjectStore>> {
    Ok(match location {
        Location::Dir(_) => return Err(other("not a bucket".into())),
        Location::Azure { container, .. } => {
            // Account and key from AZURE_STORAGE_ACCOUNT_NAME / _KEY (or a SAS, or
            // AZURE_STORAGE_USE_EMULATOR for Azurite); --endpoint for emulators and clouds.
            let mut builder = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_container_name(container)
                .with_allow_http(spec.allow_http)
                .with_client_options(client_options(spec.allow_http))
                .with_retry(retry_config());
            if let Some(endpoint) = &spec.endpoint {
                builder = builder.with_endpoint(endpoint.clone());
            }
            Arc::new(builder.build().map_err(|e| other(e.to_string()))?)
        }
        Location::Gcs { bucket, .. } => {
            if spec.endpoint.is_some() {
                return Err(Error::BadUrl {
                    url: spec.url.clone(),
                    reason: "--endpoint is not used for gs:// remotes; name another server \
                             as `gcs_base_url` in the service account file \
                             (GOOGLE_SERVICE_ACCOUNT)"
                        .into(),
                });
            }
            // Credentials from GOOGLE_SERVICE_ACCOUNT / GOOGLE_APPLICATION_CREDENTIALS.
            let builder = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket)
                .with_client_options(client_options(spec.allow_http))
                .with_retry(retry_config());
            Arc::new(builder.build().map_err(|e| other(e.to_string()))?)
        }
        Location::S3 { bucket, .. } => {
            let region = spec
                .region
                .clone()
                .or_else(|| std::env::var("AWS_REGION").ok())
                .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                .unwrap_or_else(|| "us-east-1".to_owned());
            let mut builder = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_region(region)
                .with_allow_http(spec.allow_http)
                .with_client_options(client_options(spec.allow_http))
                .with_retry(retry_config());
            if let Some(endpoint) = &spec.endpoint {
                builder = builder
                    .with_endpoint(endpoint.clone())
                    .with_virtual_hosted_style_request(false);
            }
            Arc::new(builder.build().map_err(|e| other(e.to_string()))?)
        }
    })
}

/// Timeouts that surface a dead endpoint in seconds; plain HTTP only when asked for.
fn client_options(allow_http: bool) -> object_store::ClientOptions {
    object_store::ClientOptions::new()
        .with_allow_http(allow_http)
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_mins(2))
}

/// Retries that give up quickly: a user waiting on an unreachable endpoint should read a
/// message within seconds, not after object_store's default of ten attempts.
fn retry_config() -> object_store::RetryConfig {
    let retries = std::env::var("ART_REMOTE_RETRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: retries,
        retry_timeout: Duration::from_secs(30),
    }
}

/// The error and its sources on one line, each once.
fn error_text(e: &object_store::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

/// The key of a pack on a remote.
#[must_use]
pub fn pack_key(hash: &crate::model::Digest) -> String {
    let hex = hash.to_hex();
    format!("packs/{}/{hex}.pack", &hex[..2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("s3://bucket/team/art/").unwrap(),
            Location::S3 {
                bucket: "bucket".into(),
                prefix: "team/art".into()
            }
        );
        assert_eq!(
            parse_url("s3://bucket").unwrap(),
            Location::S3 {
                bucket: "bucket".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            parse_url("file:///srv/art").unwrap(),
            Location::Dir("/srv/art".into())
        );
        assert_eq!(
            parse_url("/srv/art").unwrap(),
            Location::Dir("/srv/art".into())
        );
        assert_eq!(
            parse_url("az://models/team").unwrap(),
            Location::Azure {
                container: "models".into(),
                prefix: "team".into()
            }
        );
        assert_eq!(
            parse_url("gs://b/p/q").unwrap(),
            Location::Gcs {
                bucket: "b".into(),
                prefix: "p/q".into()
            }
        );
        for bad in [
            "s3://",
            "az:///x",
            "gs://",
            "file://rel",
            "ftp://x/y",
            "relative/dir",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn directory_remote_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let spec = RemoteSpec {
            url: dir.path().join("r").to_string_lossy().into_owned(),
            endpoint: None,
            region: None,
            allow_http: false,
        };
        let remote = Remote::connect_for_push("origin", &spec).unwrap();
        remote.prepare().unwrap();
        remote.prepare().unwrap();
        assert!(remote.put_if_absent("log/1", b"one".to_vec()).unwrap());
        assert!(!remote.put_if_absent("log/1", b"two".to_vec()).unwrap());
        assert_eq!(remote.get("log/1").unwrap(), b"one");
        assert_eq!(remote.get_range("log/1", 1..3).unwrap(), b"ne");
        assert!(remote.get_range("log/1", 1..9).is_err());
        let keys: Vec<String> = remote
            .list("log/")
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["log/1"]);
        assert!(matches!(remote.get("nope"), Err(Error::NotFound { .. })));
    }
}
