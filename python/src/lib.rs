//! `art_store._native`: the Python binding of `art`, a thin layer over [`art::Store`].
//!
//! Every method opens no files of its own and decides nothing: it parses its arguments into
//! art's model types, calls one `Store` method with the GIL released, and returns the
//! outcome as JSON text (the same JSON the CLI prints with `--json`). The `art_store`
//! package turns that into Python objects. art's errors become the exception classes below,
//! carrying art's own message.
#![deny(unsafe_code)]

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

create_exception!(
    art_store,
    ArtError,
    PyException,
    "Any failure of an art operation; the message is art's own."
);
create_exception!(
    art_store,
    NotFoundError,
    ArtError,
    "No such artifact, version, alias, run or remote."
);
create_exception!(
    art_store,
    NotAStoreError,
    NotFoundError,
    "No art store at that path or above it."
);
create_exception!(
    art_store,
    RefusedError,
    ArtError,
    "art refused, to protect data (the CLI's exit status 3): nothing was changed."
);
create_exception!(
    art_store,
    InvalidInputError,
    ArtError,
    "A name, reference, metadata value, sort key or option art does not accept."
);

/// Maps an art error to the exception class of its kind, keeping art's message.
// `impl From<art::Error> for PyErr` is not allowed here (orphan rule): map by hand.
fn to_py(e: art::Error) -> PyErr {
    let msg = e.to_string();
    if e.is_interrupted() {
        return PyKeyboardInterrupt::new_err(msg);
    }
    if e.kind() == art::ErrorKind::Refused {
        return RefusedError::new_err(msg);
    }
    match e {
        art::Error::NoStore(_) | art::Error::NotAStore(_) => NotAStoreError::new_err(msg),
        art::Error::UnknownArtifact { .. }
        | art::Error::UnknownVersion { .. }
        | art::Error::UnknownRun(_)
        | art::Error::UnknownNode(_)
        | art::Error::UnknownPath { .. }
        | art::Error::UnknownRemote { .. }
        | art::Error::Deleted { .. }
        | art::Error::NoPendingVersion { .. }
        | art::Error::PartsTaken { .. }
        | art::Error::NoRuns(_) => NotFoundError::new_err(msg),
        art::Error::Model(_)
        | art::Error::InvalidMetadata(_)
        | art::Error::InvalidConfig(_)
        | art::Error::TypeMismatch { .. }
        | art::Error::AmbiguousRef { .. }
        | art::Error::AmbiguousRun { .. }
        | art::Error::NoMetric { .. }
        | art::Error::InvalidPatch(_)
        | art::Error::InvalidDistributedId(_)
        | art::Error::RemoveMatchesNothing { .. }
        | art::Error::EntryClash { .. } => InvalidInputError::new_err(msg),
        // art::Error is #[non_exhaustive].
        _ => ArtError::new_err(msg),
    }
}

fn invalid(msg: impl Into<String>) -> PyErr {
    InvalidInputError::new_err(msg.into())
}

/// Parses a model value (`Ref`, `ArtifactName`, …), mapping a refusal to `InvalidInputError`.
fn parse<T>(s: &str) -> PyResult<T>
where
    T: std::str::FromStr<Err = art::model::Error>,
{
    s.parse::<T>().map_err(|e| to_py(e.into()))
}

/// Parses a JSON object handed over by the Python side.
fn object(what: &str, text: Option<&str>) -> PyResult<serde_json::Map<String, serde_json::Value>> {
    match text {
        None => Ok(serde_json::Map::new()),
        Some(t) => match serde_json::from_str::<serde_json::Value>(t) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            Ok(_) => Err(invalid(format!("{what} must be a JSON object (a dict)"))),
            Err(e) => Err(invalid(format!("{what} is not valid JSON: {e}"))),
        },
    }
}

fn json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| ArtError::new_err(e.to_string()))
}

/// Runs `work` on a scoped thread while this thread waits with the GIL released, checking
/// for Ctrl-C every 50 ms. On `KeyboardInterrupt` it sets the flag art polls between files,
/// waits for the work to stop and raises.
fn run_interruptible<T: Send>(
    py: Python<'_>,
    flag: &AtomicBool,
    work: impl FnOnce() -> art::Result<T> + Send,
) -> PyResult<T> {
    flag.store(false, Ordering::Relaxed);
    std::thread::scope(|s| {
        let waiter = std::thread::current();
        let handle = s.spawn(move || {
            let out = work();
            waiter.unpark();
            out
        });
        loop {
            py.detach(|| std::thread::park_timeout(Duration::from_millis(50)));
            if handle.is_finished() {
                break;
            }
            if let Err(interrupt) = py.check_signals() {
                flag.store(true, Ordering::Relaxed);
                let _ = py.detach(|| handle.join());
                return Err(interrupt);
            }
        }
        match handle.join() {
            Ok(out) => out.map_err(to_py),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Progress bars on stderr (hidden when stderr is not a terminal), as the CLI draws them.
#[derive(Default)]
struct Bars {
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Bars {
    fn bar(&self) -> MutexGuard<'_, Option<indicatif::ProgressBar>> {
        self.bar.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl art::Progress for Bars {
    fn start(&self, phase: &str, total: u64) {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix:>8} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(phase.to_owned());
        *self.bar() = Some(bar);
    }
    fn advance(&self, n: u64) {
        if let Some(b) = self.bar().as_ref() {
            b.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(b) = self.bar().take() {
            b.finish_and_clear();
        }
    }
}

/// An open art store (a `.artifacts` directory). Prefer `art_store.Store`, which wraps this.
#[pyclass(frozen, module = "art_store._native")]
struct Store {
    // art::Store holds a rusqlite Connection (Send, not Sync); #[pyclass] must be Sync.
    inner: Mutex<art::Store>,
    interrupt: Arc<AtomicBool>,
}

impl Store {
    fn wrap(mut store: art::Store, progress: bool) -> Self {
        let interrupt = Arc::new(AtomicBool::new(false));
        store.set_interrupt(interrupt.clone());
        if progress {
            store.set_progress(Arc::new(Bars::default()));
        }
        Store {
            inner: Mutex::new(store),
            interrupt,
        }
    }

    // Taken only with the GIL released, so a thread holding it never waits for the GIL.
    fn lock(&self) -> MutexGuard<'_, art::Store> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a quick read with the GIL released.
    fn read<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut art::Store) -> art::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| f(&mut self.lock())).map_err(to_py)
    }

    /// Runs a long operation with the GIL released, honouring Ctrl-C.
    fn long<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut art::Store) -> art::Result<T> + Send,
    ) -> PyResult<T> {
        run_interruptible(py, &self.interrupt, || f(&mut self.lock()))
    }
}

#[pymethods]
impl Store {
    /// Opens the store at `path` (a `.artifacts` directory or one holding it); without a
    /// path, the store named by `ART_STORE`, else the nearest `.artifacts` at or above the
    /// current directory. `progress=True` draws progress bars on stderr (when it is a
    /// terminal) during long operations.
    #[new]
    #[pyo3(signature = (path=None, progress=false))]
    fn new(py: Python<'_>, path: Option<PathBuf>, progress: bool) -> PyResult<Self> {
        let path = path.or_else(|| std::env::var_os("ART_STORE").map(PathBuf::from));
        py.detach(|| {
            if let Some(p) = path {
                return art::Store::open(&p);
            }
            let cwd = std::env::current_dir().map_err(|e| art::Error::Io {
                action: "read the current directory",
                path: PathBuf::from("."),
                source: e,
            })?;
            art::Store::discover(&cwd)
        })
        .map(|s| Store::wrap(s, progress))
        .map_err(to_py)
    }

    /// Creates a store in `path` (`path/.artifacts`), or opens the one already there.
    #[staticmethod]
    #[pyo3(signature = (path, progress=false))]
    fn init(py: Python<'_>, path: PathBuf, progress: bool) -> PyResult<Self> {
        py.detach(|| art::Store::init(&path))
            .map(|o| Store::wrap(o.store, progress))
            .map_err(to_py)
    }

    /// The `.artifacts` directory.
    #[getter]
    fn dir(&self, py: Python<'_>) -> PathBuf {
        py.detach(|| self.lock().dir().to_path_buf())
    }

    /// The directory holding `.artifacts`; recorded source paths are relative to it.
    #[getter]
    fn root(&self, py: Python<'_>) -> PathBuf {
        py.detach(|| self.lock().root().to_path_buf())
    }

    /// Logs `paths` (one directory, or files and directories) as a new version of `name`;
    /// returns the log outcome as JSON. `record_source=False` leaves the source path unset
    /// (for staging directories deleted after the log).
    /// `references` are `URI[=NAME]` objects recorded where they live (hashed, or with
    /// `checksum=False` pinned by size and mtime or ETag).
    #[pyo3(signature = (name, paths, kind=None, aliases=Vec::new(), description=None, metadata=None, run=None, record_source=true, references=Vec::new(), checksum=true, max_objects=None))]
    #[allow(clippy::too_many_arguments)]
    fn log(
        &self,
        py: Python<'_>,
        name: &str,
        paths: Vec<PathBuf>,
        kind: Option<&str>,
        aliases: Vec<String>,
        description: Option<String>,
        metadata: Option<&str>,
        run: Option<String>,
        record_source: bool,
        references: Vec<String>,
        checksum: bool,
        max_objects: Option<u64>,
    ) -> PyResult<String> {
        let mut opts = art::LogOptions::new(parse(name)?, paths);
        opts.record_source = record_source;
        opts.references = references;
        opts.checksum = checksum;
        if let Some(max) = max_objects {
            opts.max_objects = max;
        }
        opts.kind = kind.map(parse).transpose()?;
        opts.aliases = aliases.iter().map(|a| parse(a)).collect::<PyResult<_>>()?;
        opts.description = description;
        opts.metadata = object("metadata", metadata)?;
        opts.run = run;
        let out = self.long(py, |s| s.log(opts))?;
        json(&out)
    }

    /// One version (deleted ones included), as JSON.
    fn show(&self, py: Python<'_>, reference: &str) -> PyResult<String> {
        let r: art::model::Ref = parse(reference)?;
        json(&self.read(py, |s| s.show(&r))?)
    }

    /// The versions of `name`, oldest first, as JSON.
    #[pyo3(signature = (name, include_deleted=false))]
    fn versions(&self, py: Python<'_>, name: &str, include_deleted: bool) -> PyResult<String> {
        json(&self.read(py, |s| s.versions(name, include_deleted))?)
    }

    /// Every artifact with its version count, latest version and size, as JSON.
    fn list_artifacts(&self, py: Python<'_>) -> PyResult<String> {
        json(&self.read(py, |s| s.list_artifacts())?)
    }

    /// The manifest of a version, as JSON.
    fn files(&self, py: Python<'_>, reference: &str) -> PyResult<String> {
        let r: art::model::Ref = parse(reference)?;
        json(&self.read(py, |s| s.files(&r))?)
    }

    /// The content of the file `path` of a version, read from the store (no checkout).
    fn read_file<'py>(
        &self,
        py: Python<'py>,
        reference: &str,
        path: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let r: art::model::Ref = parse(reference)?;
        let mut out = Vec::new();
        self.long(py, |s| s.read_file(&r, path, &mut out))?;
        Ok(PyBytes::new(py, &out))
    }

    /// Opens the file `path` of a version for streaming reads (no checkout).
    fn open_file(&self, py: Python<'_>, reference: &str, path: &str) -> PyResult<FileStream> {
        let r: art::model::Ref = parse(reference)?;
        let reader = self.read(py, |s| s.open_file(&r, path))?;
        Ok(FileStream {
            inner: Mutex::new(reader),
        })
    }

    /// Streams the file `path` of a version to the file `dest` (written beside it, then
    /// renamed into place); returns its length.
    fn copy_file(
        &self,
        py: Python<'_>,
        reference: &str,
        path: &str,
        dest: PathBuf,
    ) -> PyResult<u64> {
        let r: art::model::Ref = parse(reference)?;
        let io = |action: &'static str, p: &std::path::Path| {
            let p = p.to_path_buf();
            move |source| art::Error::Io {
                action,
                path: p,
                source,
            }
        };
        self.long(py, |s| {
            let dir = match dest.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            std::fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
            let mut tmp =
                tempfile::NamedTempFile::new_in(&dir).map_err(io("create a file in", &dir))?;
            let mut out = std::io::BufWriter::new(tmp.as_file_mut());
            let len = s.read_file(&r, path, &mut out)?;
            std::io::Write::flush(&mut out).map_err(io("write", &dest))?;
            drop(out);
            tmp.persist(&dest).map_err(|e| art::Error::Io {
                action: "write",
                path: dest.clone(),
                source: e.error,
            })?;
            Ok(len)
        })
    }

    /// Writes a version into `dest`: exactly (removing files it lacks) or, with `download`,
    /// adding its files and keeping others. Returns the outcome as JSON.
    #[pyo3(signature = (reference, dest=None, force=false, download=false))]
    fn checkout(
        &self,
        py: Python<'_>,
        reference: &str,
        dest: Option<PathBuf>,
        force: bool,
        download: bool,
    ) -> PyResult<String> {
        let mut opts = art::CheckoutOptions::new(parse(reference)?);
        opts.dest = dest;
        opts.force = force;
        if download {
            opts.mode = art::CheckoutMode::Download;
        }
        json(&self.long(py, |s| s.checkout(&opts))?)
    }

    /// Checks a version's stored content, or a directory against it, as JSON.
    #[pyo3(signature = (reference, dir=None))]
    fn verify(&self, py: Python<'_>, reference: &str, dir: Option<PathBuf>) -> PyResult<String> {
        let r: art::model::Ref = parse(reference)?;
        json(&self.long(py, |s| s.verify(&r, dir.as_deref()))?)
    }

    /// Points `alias` at the version `reference`, as JSON.
    fn set_alias(&self, py: Python<'_>, reference: &str, alias: &str) -> PyResult<String> {
        let r: art::model::Ref = parse(reference)?;
        let a: art::model::AliasName = parse(alias)?;
        json(&self.read(py, |s| s.set_alias(&r, &a))?)
    }

    /// Removes `alias` from the artifact `name`, as JSON.
    fn remove_alias(&self, py: Python<'_>, name: &str, alias: &str) -> PyResult<String> {
        let n: art::model::ArtifactName = parse(name)?;
        let a: art::model::AliasName = parse(alias)?;
        json(&self.read(py, |s| s.remove_alias(&n, &a))?)
    }

    /// Replaces the description and/or the metadata (a JSON object) of a version; returns
    /// the version as JSON.
    #[pyo3(signature = (reference, description=None, metadata=None))]
    fn set_meta(
        &self,
        py: Python<'_>,
        reference: &str,
        description: Option<String>,
        metadata: Option<&str>,
    ) -> PyResult<String> {
        let r: art::model::Ref = parse(reference)?;
        let mut opts = art::MetaOptions::default();
        opts.description = description;
        opts.metadata = metadata.map(|m| object("metadata", Some(m))).transpose()?;
        json(&self.read(py, |s| s.set_meta(&r, opts))?)
    }

    /// Deletes versions; refused while one has aliases other than `latest` unless
    /// `delete_aliases`. Returns the outcome as JSON.
    #[pyo3(signature = (references, delete_aliases=false))]
    fn remove(
        &self,
        py: Python<'_>,
        references: Vec<String>,
        delete_aliases: bool,
    ) -> PyResult<String> {
        let refs = references
            .iter()
            .map(|r| parse(r))
            .collect::<PyResult<Vec<art::model::Ref>>>()?;
        json(&self.read(py, |s| s.remove(&refs, delete_aliases))?)
    }

    /// Deletes the versions of `names` that have no alias, by rule; returns the outcome as JSON.
    #[pyo3(signature = (names, unaliased=false, keep_last=None, dry_run=false))]
    fn prune(
        &self,
        py: Python<'_>,
        names: Vec<String>,
        unaliased: bool,
        keep_last: Option<u64>,
        dry_run: bool,
    ) -> PyResult<String> {
        let names = names
            .iter()
            .map(|n| parse(n))
            .collect::<PyResult<Vec<art::model::ArtifactName>>>()?;
        let mut opts = art::PruneOptions::default();
        opts.unaliased = unaliased;
        opts.keep_last = keep_last;
        opts.dry_run = dry_run;
        json(&self.read(py, |s| s.prune(&names, &opts))?)
    }

    /// Frees the space of deleted versions (and, with `max` such as `"10GB"`, evicts pushed
    /// packs down to that size); returns the outcome as JSON.
    #[pyo3(signature = (max=None, grace=None, dry_run=false))]
    fn gc(
        &self,
        py: Python<'_>,
        max: Option<&str>,
        grace: Option<&str>,
        dry_run: bool,
    ) -> PyResult<String> {
        let mut opts = art::GcOptions::default();
        opts.max = max.map(parse::<art::model::Size>).transpose()?.map(|s| s.0);
        opts.grace = grace.map(parse::<art::model::Span>).transpose()?;
        opts.dry_run = dry_run;
        json(&self.long(py, |s| s.gc(&opts))?)
    }

    /// Bytes the store's packs take on disk.
    fn store_size(&self, py: Python<'_>) -> PyResult<u64> {
        self.read(py, |s| s.store_size())
    }

    /// Starts a run (`config` a JSON object); returns it as JSON.
    #[pyo3(signature = (name=None, group=None, job_type=None, config=None))]
    fn start_run(
        &self,
        py: Python<'_>,
        name: Option<String>,
        group: Option<String>,
        job_type: Option<String>,
        config: Option<&str>,
    ) -> PyResult<String> {
        let mut opts = art::RunOptions::default();
        opts.name = name;
        opts.group = group;
        opts.job_type = job_type;
        opts.config = object("config", config)?;
        json(&self.read(py, |s| s.start_run(opts))?)
    }

    /// One run, by id or unambiguous prefix, as JSON.
    fn run(&self, py: Python<'_>, id: &str) -> PyResult<String> {
        json(&self.read(py, |s| s.run(id))?)
    }

    /// Reopens a finished run; returns it as JSON.
    fn resume_run(&self, py: Python<'_>, id: &str) -> PyResult<String> {
        json(&self.read(py, |s| s.resume_run(id))?)
    }

    /// Finishes a running run as `ok` or `failed`, merging `summary` (a JSON object).
    #[pyo3(signature = (id, status="ok", summary=None, exit_code=None))]
    fn finish_run(
        &self,
        py: Python<'_>,
        id: &str,
        status: &str,
        summary: Option<&str>,
        exit_code: Option<i32>,
    ) -> PyResult<String> {
        let mut opts = art::FinishOptions::new(id);
        opts.status = parse(status)?;
        opts.summary = object("summary", summary)?;
        opts.exit_code = exit_code;
        json(&self.read(py, |s| s.finish_run(opts))?)
    }

    /// Merges metrics (a JSON object) into a run's summary; returns the run as JSON.
    fn update_summary(&self, py: Python<'_>, id: &str, summary: &str) -> PyResult<String> {
        let summary = object("summary", Some(summary))?;
        json(&self.read(py, |s| s.update_summary(id, summary))?)
    }

    /// Records that run `run` uses `reference`, checking it out into `dest` if given.
    #[pyo3(signature = (reference, run, dest=None, force=false))]
    fn use_version(
        &self,
        py: Python<'_>,
        reference: &str,
        run: &str,
        dest: Option<PathBuf>,
        force: bool,
    ) -> PyResult<String> {
        let mut opts = art::UseOptions::new(parse(reference)?, run);
        opts.checkout = dest;
        opts.force = force;
        json(&self.long(py, |s| s.use_version(opts))?)
    }

    /// Runs, filtered and sorted (`"-summary.acc"`, `"started"`, …), as JSON.
    #[pyo3(signature = (group=None, job_type=None, sort=None, limit=None))]
    fn runs(
        &self,
        py: Python<'_>,
        group: Option<String>,
        job_type: Option<String>,
        sort: Option<&str>,
        limit: Option<usize>,
    ) -> PyResult<String> {
        let mut opts = art::RunsOptions::default();
        opts.group = group;
        opts.job_type = job_type;
        opts.sort = sort.map(parse).transpose()?;
        opts.limit = limit;
        json(&self.read(py, |s| s.runs(&opts))?)
    }

    /// The run with the best `metric` (largest unless `minimize`), as JSON.
    #[pyo3(signature = (metric, group=None, job_type=None, minimize=false))]
    fn best_run(
        &self,
        py: Python<'_>,
        metric: &str,
        group: Option<String>,
        job_type: Option<String>,
        minimize: bool,
    ) -> PyResult<String> {
        let mut opts = art::BestRunOptions::new(metric);
        opts.group = group;
        opts.job_type = job_type;
        opts.minimize = minimize;
        json(&self.read(py, |s| s.best_run(&opts))?)
    }

    /// The lineage of a version or run: `direction` is `"up"`, `"down"` or `"both"`.
    #[pyo3(signature = (target, direction="both", depth=None))]
    fn lineage(
        &self,
        py: Python<'_>,
        target: &str,
        direction: &str,
        depth: Option<u32>,
    ) -> PyResult<String> {
        let mut opts = art::LineageOptions::new(target);
        opts.direction = match direction {
            "up" => art::model::Direction::Up,
            "down" => art::model::Direction::Down,
            "both" => art::model::Direction::Both,
            other => {
                return Err(invalid(format!(
                    "direction `{other}` is not one of `up`, `down`, `both`"
                )));
            }
        };
        opts.depth = depth;
        json(&self.read(py, |s| s.lineage(&opts))?)
    }

    /// The configured remotes, as JSON.
    fn remotes(&self, py: Python<'_>) -> PyResult<String> {
        json(&self.read(py, |s| s.remotes())?)
    }

    /// Uploads to a remote the packs it lacks (all, or those of `references`), as JSON.
    #[pyo3(signature = (remote=None, references=Vec::new()))]
    fn push(
        &self,
        py: Python<'_>,
        remote: Option<&str>,
        references: Vec<String>,
    ) -> PyResult<String> {
        let refs = references
            .iter()
            .map(|r| parse(r))
            .collect::<PyResult<Vec<art::model::Ref>>>()?;
        json(&self.long(py, |s| s.push(remote, &refs))?)
    }

    /// Brings in what a remote recorded (merging this store's unpushed changes after it),
    /// and with `data` the packs of live versions (of `names`, or all), as JSON.
    #[pyo3(signature = (remote=None, data=false, names=Vec::new()))]
    fn pull(
        &self,
        py: Python<'_>,
        remote: Option<&str>,
        data: bool,
        names: Vec<String>,
    ) -> PyResult<String> {
        let (records, fetched) = self.long(py, |s| {
            let records = s.pull(remote)?;
            let fetched = if data {
                Some(s.fetch_data(&names)?)
            } else {
                None
            };
            Ok((records, fetched))
        })?;
        let mut value = serde_json::to_value(&records).map_err(|e| invalid(e.to_string()))?;
        if let (Some(f), Some(map)) = (fetched, value.as_object_mut()) {
            map.insert(
                "data".into(),
                serde_json::to_value(f).map_err(|e| invalid(e.to_string()))?,
            );
        }
        json(&value)
    }

    /// Adds a remote (a directory, `s3://`, `az://` or `gs://` URL), as JSON.
    #[pyo3(signature = (name, url, endpoint=None, region=None, allow_http=false))]
    fn remote_add(
        &self,
        py: Python<'_>,
        name: &str,
        url: &str,
        endpoint: Option<String>,
        region: Option<String>,
        allow_http: bool,
    ) -> PyResult<String> {
        let (spec, cwd) = remote_spec(url, endpoint, region, allow_http)?;
        json(&self.read(py, |s| s.remote_add(name, spec, &cwd))?)
    }

    /// Makes a new store in `path` from a remote (init, `origin`, pull); it holds no data.
    #[staticmethod]
    #[pyo3(signature = (url, path, endpoint=None, region=None, allow_http=false, progress=false))]
    fn clone(
        py: Python<'_>,
        url: &str,
        path: PathBuf,
        endpoint: Option<String>,
        region: Option<String>,
        allow_http: bool,
        progress: bool,
    ) -> PyResult<Self> {
        let (spec, cwd) = remote_spec(url, endpoint, region, allow_http)?;
        py.detach(|| art::Store::clone_from(&path, spec, &cwd))
            .map(|(s, _)| Store::wrap(s, progress))
            .map_err(to_py)
    }

    /// Links a version into a collection and points `aliases` at the link, as JSON.
    #[pyo3(signature = (reference, collection, aliases=Vec::new(), force=false))]
    fn link(
        &self,
        py: Python<'_>,
        reference: &str,
        collection: &str,
        aliases: Vec<String>,
        force: bool,
    ) -> PyResult<String> {
        let r = parse(reference)?;
        let c: art::model::ArtifactName = parse(collection)?;
        let aliases = aliases
            .iter()
            .map(|a| parse(a))
            .collect::<PyResult<Vec<art::model::AliasName>>>()?;
        json(&self.read(py, |s| s.link(&r, &c, &aliases, force))?)
    }

    /// Removes a link from its collection; returns `COLLECTION:vN`.
    #[pyo3(signature = (reference, force=false))]
    fn unlink(&self, py: Python<'_>, reference: &str, force: bool) -> PyResult<String> {
        let r = parse(reference)?;
        self.read(py, |s| s.unlink(&r, force))
    }

    /// Protects (or unprotects) an alias of an artifact or collection.
    fn protect_alias(&self, py: Python<'_>, name: &str, alias: &str, on: bool) -> PyResult<()> {
        let n: art::model::ArtifactName = parse(name)?;
        let a: art::model::AliasName = parse(alias)?;
        self.read(py, |s| s.protect_alias(&n, &a, on))
    }

    /// Adds (or removes) tags of a version, as JSON.
    fn tag(
        &self,
        py: Python<'_>,
        reference: &str,
        tags: Vec<String>,
        on: bool,
    ) -> PyResult<String> {
        let r = parse(reference)?;
        json(&self.read(py, |s| s.tag(&r, &tags, on))?)
    }

    /// Adds `paths` as a part of the pending collaborative version `distributed_id` of
    /// `name` (created by its first part); returns the part outcome as JSON.
    #[pyo3(signature = (name, paths, distributed_id, kind=None, run=None, references=Vec::new(), checksum=true))]
    #[allow(clippy::too_many_arguments)]
    fn log_part(
        &self,
        py: Python<'_>,
        name: &str,
        paths: Vec<PathBuf>,
        distributed_id: String,
        kind: Option<&str>,
        run: Option<String>,
        references: Vec<String>,
        checksum: bool,
    ) -> PyResult<String> {
        let mut opts = art::LogOptions::new(parse(name)?, paths);
        opts.kind = kind.map(parse).transpose()?;
        opts.run = run;
        opts.references = references;
        opts.checksum = checksum;
        let out = self.long(py, |s| s.log_part(opts, &distributed_id))?;
        json(&out)
    }

    /// Commits the pending version `distributed_id` of `name` (plus `paths`, added last);
    /// `prefer` is `"first"`, `"last"` or None (a path written twice differently is refused).
    #[pyo3(signature = (name, distributed_id, paths=Vec::new(), aliases=Vec::new(), description=None, metadata=None, run=None, prefer=None))]
    #[allow(clippy::too_many_arguments)]
    fn finish_pending(
        &self,
        py: Python<'_>,
        name: &str,
        distributed_id: String,
        paths: Vec<PathBuf>,
        aliases: Vec<String>,
        description: Option<String>,
        metadata: Option<&str>,
        run: Option<String>,
        prefer: Option<&str>,
    ) -> PyResult<String> {
        let mut opts = art::FinishPendingOptions::new(parse(name)?, distributed_id);
        opts.paths = paths;
        opts.aliases = aliases.iter().map(|a| parse(a)).collect::<PyResult<_>>()?;
        opts.description = description;
        opts.metadata = object("metadata", metadata)?;
        opts.run = run;
        opts.prefer = match prefer {
            None => None,
            Some("first") => Some(art::model::Prefer::First),
            Some("last") => Some(art::model::Prefer::Last),
            Some(other) => {
                return Err(invalid(format!(
                    "prefer must be \"first\", \"last\" or None, not {other:?}"
                )));
            }
        };
        json(&self.long(py, |s| s.finish_pending(opts))?)
    }

    /// The pending collaborative versions of `name` (or of every artifact), as JSON.
    #[pyo3(signature = (name=None))]
    fn pending(&self, py: Python<'_>, name: Option<&str>) -> PyResult<String> {
        json(&self.read(py, |s| s.pending(name))?)
    }

    /// Abandons a pending collaborative version, as JSON.
    fn drop_pending(&self, py: Python<'_>, name: &str, distributed_id: &str) -> PyResult<String> {
        json(&self.read(py, |s| s.drop_pending(name, distributed_id))?)
    }

    /// The next version of `reference`'s artifact: its manifest minus the entries `remove`
    /// selects, plus `add` (`(path, name in the artifact)`), as JSON.
    #[pyo3(signature = (reference, add=Vec::new(), remove=Vec::new(), description=None, aliases=Vec::new(), run=None, onto_latest=false, metadata=None))]
    #[allow(clippy::too_many_arguments)]
    fn patch(
        &self,
        py: Python<'_>,
        reference: &str,
        add: Vec<(PathBuf, Option<String>)>,
        remove: Vec<String>,
        description: Option<String>,
        aliases: Vec<String>,
        run: Option<String>,
        onto_latest: bool,
        metadata: Option<&str>,
    ) -> PyResult<String> {
        let mut opts = art::PatchOptions::new(parse(reference)?);
        opts.metadata = metadata.map(|m| object("metadata", Some(m))).transpose()?;
        opts.add = add;
        opts.remove = remove;
        opts.description = description;
        opts.aliases = aliases.iter().map(|a| parse(a)).collect::<PyResult<_>>()?;
        opts.run = run;
        opts.onto_latest = onto_latest;
        json(&self.long(py, |s| s.patch(&opts))?)
    }

    /// Sets a version's time to live (`"30d"`, or None for never).
    #[pyo3(signature = (reference, ttl=None))]
    fn set_ttl(&self, py: Python<'_>, reference: &str, ttl: Option<&str>) -> PyResult<Option<i64>> {
        let r = parse(reference)?;
        let ttl = ttl.map(parse::<art::model::Span>).transpose()?;
        self.read(py, |s| s.set_ttl(&r, ttl))
    }
}

/// Where a remote is, and the directory a relative one is taken against.
fn remote_spec(
    url: &str,
    endpoint: Option<String>,
    region: Option<String>,
    allow_http: bool,
) -> PyResult<(art::remote::RemoteSpec, PathBuf)> {
    let spec = art::remote::RemoteSpec {
        url: url.to_owned(),
        endpoint,
        region,
        allow_http,
    };
    let cwd = std::env::current_dir().map_err(|e| invalid(e.to_string()))?;
    Ok((spec, cwd))
}

/// A file of a version streamed from the store (`Store.open_file`): `read(n)` returns up to
/// `n` bytes (all that is left with `n < 0`), one stored blob in memory at a time.
#[pyclass(module = "art_store._native")]
pub struct FileStream {
    inner: Mutex<art::FileReader>,
}

#[pymethods]
impl FileStream {
    /// The file's length in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Up to `n` bytes (all that is left when `n` is negative); empty at the end.
    #[pyo3(signature = (n=-1))]
    fn read<'py>(&self, py: Python<'py>, n: i64) -> PyResult<Bound<'py, PyBytes>> {
        let data = py
            .detach(|| {
                let mut reader = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
                let mut out = Vec::new();
                match usize::try_from(n) {
                    Ok(n) => {
                        out.resize(n, 0);
                        let mut filled = 0;
                        while filled < n {
                            let got = std::io::Read::read(&mut *reader, &mut out[filled..])?;
                            if got == 0 {
                                break;
                            }
                            filled += got;
                        }
                        out.truncate(filled);
                    }
                    Err(_) => {
                        std::io::Read::read_to_end(&mut *reader, &mut out)?;
                    }
                }
                Ok::<_, std::io::Error>(out)
            })
            .map_err(|e| ArtError::new_err(e.to_string()))?;
        Ok(PyBytes::new(py, &data))
    }
}

/// The native half of `art_store`.
#[pymodule]
mod _native {
    #[pymodule_export]
    use super::{
        ArtError, FileStream, InvalidInputError, NotAStoreError, NotFoundError, RefusedError, Store,
    };
}
