//! The test harness: a fresh directory per test, the `art` binary with a clean environment,
//! tree builders and readers, and insta filters for digests, times and temp paths.
#![allow(dead_code)]

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A temporary work tree in which `art` runs.
pub struct Env {
    pub dir: assert_fs::TempDir,
    /// Variables every `art` run here gets (credentials of a test server, say).
    vars: std::cell::RefCell<Vec<(String, String)>>,
}

impl Env {
    /// An empty directory, no store.
    pub fn new() -> Self {
        Self::in_dir(assert_fs::TempDir::new().expect("create temp dir"))
    }

    /// A work tree in `dir`.
    pub fn in_dir(dir: assert_fs::TempDir) -> Self {
        Env {
            dir,
            vars: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Sets a variable for every later `art` run in this work tree.
    pub fn set_var(&self, key: &str, value: &str) {
        self.vars
            .borrow_mut()
            .push((key.to_owned(), value.to_owned()));
    }

    /// A directory with a store (`art init` run).
    pub fn init() -> Self {
        let env = Self::new();
        env.ok(&["init"]);
        env
    }

    /// The root of the work tree.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// An absolute path inside the work tree.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating parents).
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("create parents");
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    /// Writes several files.
    pub fn tree(&self, files: &[(&str, &[u8])]) {
        for (rel, content) in files {
            self.write(rel, content);
        }
    }

    /// The `art` binary with the cwd set to the work tree and no inherited art variables.
    pub fn art(&self) -> Command {
        Command::from_std(self.std_command())
    }

    /// [`Env::art`] as a plain `std::process::Command`, for runs to spawn and kill.
    pub fn std_command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("art"));
        cmd.current_dir(self.root())
            .env_remove("ART_STORE")
            .env_remove("ART_RUN")
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .envs(self.vars.borrow().iter().cloned());
        cmd
    }

    /// Runs art, asserting success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.art().args(args).output().expect("run art");
        assert!(
            out.status.success(),
            "art {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs art, asserting exit code `code`; returns stderr (stdout appended after a marker).
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.art().args(args).output().expect("run art");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "art {args:?}: expected exit {code}\nstdout:\n{}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    /// Runs art with `--json`, asserting success; returns the parsed value.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        serde_json::from_str(&self.ok(&full)).expect("valid JSON on stdout")
    }

    /// Every file under `rel` (relative path → content), symlinks as `-> target`.
    pub fn read_tree(&self, rel: &str) -> BTreeMap<String, Vec<u8>> {
        read_tree(&self.path(rel))
    }

    /// A listing of the whole store directory: path → size, for "store unchanged" checks.
    pub fn store_snapshot(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        let store = self.path(".artifacts");
        for e in walk(&store) {
            let rel = e
                .strip_prefix(&store)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            // The WAL and shm files change with every open; the database content is compared by queries.
            if rel.starts_with("index.db") {
                continue;
            }
            out.insert(rel, std::fs::symlink_metadata(&e).map_or(0, |m| m.len()));
        }
        out
    }
}

impl Env {
    /// Bytes of the store's pack files.
    pub fn pack_bytes(&self) -> u64 {
        self.store_snapshot()
            .iter()
            .filter(|(k, _)| k.starts_with("packs/"))
            .map(|(_, v)| v)
            .sum()
    }
}

/// Every file under `dir`, recursively (directories themselves are not listed).
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        let ft = e.file_type().expect("file type");
        if ft.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every file under `dir` (relative path → content), symlinks as `-> target`, with `*` appended
/// to the path of executable files; `.artifacts` is skipped.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    for p in walk(dir) {
        let rel = p
            .strip_prefix(dir)
            .expect("inside")
            .to_string_lossy()
            .into_owned();
        if rel.starts_with(".artifacts") {
            continue;
        }
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&p).expect("readlink");
            out.insert(rel, format!("-> {}", target.display()).into_bytes());
        } else {
            let exec = meta.permissions().mode() & 0o100 != 0;
            let key = if exec { format!("{rel}*") } else { rel };
            out.insert(key, std::fs::read(&p).expect("read"));
        }
    }
    out
}

/// Insta settings that replace digests, times and temp paths with placeholders.
pub fn insta_settings(env: &Env) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    let root = env.root().canonicalize().expect("canonical root");
    s.add_filter(&regex_escape(&root.to_string_lossy()), "[tmp]");
    s.add_filter(&regex_escape(&env.root().to_string_lossy()), "[tmp]");
    s.add_filter(r"\b[0-9a-f]{64}\b", "[digest]");
    s.add_filter(r"\b[0-9a-f]{12}\b", "[short]");
    s.add_filter(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}Z)?", "[time]");
    s.set_prepend_module_to_snapshot(false);
    s
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Deterministic pseudo-random bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
        | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24).to_le_bytes()[0]
        })
        .collect()
}

/// [`insta_settings`] plus run ids (26-character ULIDs) as `[run]`.
pub fn run_settings(env: &Env) -> insta::Settings {
    let mut s = insta_settings(env);
    s.add_filter(r"\b[0-7][0-9A-HJKMNP-TV-Z]{25}\b", "[run]");
    s
}

/// `PATH` with the directory of the `art` binary first, for scripts that call `art`.
pub fn path_with_art() -> std::ffi::OsString {
    let art = assert_cmd::cargo::cargo_bin("art");
    let dir = art.parent().expect("art has a directory").to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&rest)))
        .expect("valid PATH")
}

/// Asserts that a finished command succeeded (showing its stderr if not) and returns its output.
pub fn succeeded(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "exit {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Objects an [`HttpServer`] serves: path → (ETag, body).
type Objects = std::sync::Arc<std::sync::Mutex<BTreeMap<String, (String, Vec<u8>)>>>;

/// A tiny HTTP/1.1 server on 127.0.0.1 for `http://` references: GET and HEAD of the objects
/// in its table (with ETag and Content-Length), 404 for anything else, one request per
/// connection. It lives as long as the test process.
pub struct HttpServer {
    addr: std::net::SocketAddr,
    objects: Objects,
}

impl HttpServer {
    /// Binds a free port and serves from a thread.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let objects = Objects::default();
        let served = std::sync::Arc::clone(&objects);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                // A client that hangs up mid-request is its own problem.
                let _ = serve_one(stream, &served);
            }
        });
        HttpServer { addr, objects }
    }

    /// The URL of `path` (`/x.bin`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves `body` at `path` with `etag`.
    pub fn put(&self, path: &str, etag: &str, body: &[u8]) {
        self.objects
            .lock()
            .expect("objects")
            .insert(path.to_owned(), (etag.to_owned(), body.to_vec()));
    }

    /// Stops serving `path` (404 from now on).
    pub fn remove(&self, path: &str) {
        self.objects.lock().expect("objects").remove(path);
    }
}

fn serve_one(stream: std::net::TcpStream, objects: &Objects) -> std::io::Result<()> {
    use std::io::{BufRead, Write};
    let mut reader = std::io::BufReader::new(stream.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let found = objects.lock().expect("objects").get(path).cloned();
    let mut out = stream;
    match found {
        Some((etag, body)) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: \"{etag}\"\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            if method == "GET" {
                out.write_all(&body)?;
            }
        }
        None => write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
    }
    out.flush()
}

/// A seeded generator (xorshift), so a failing trial can be replayed.
pub struct Rng(pub u64);

impl Rng {
    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Incompressible bytes, fast even in a debug build (BLAKE3's XOF; dependencies are optimised).
pub fn xof_bytes(len: usize, seed: &str) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// A tmpfs of `mib` MiB mounted at `dir` for the test's life: a real full disk. Mounting
/// needs root (CI runs as root); elsewhere the test says it was skipped.
pub struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    pub fn mount(dir: &Path, mib: u32) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).expect("mount point");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(SmallDisk(dir.to_owned()))
        } else {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            None
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Names of the files under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().expect("type").is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

/// Fills the file system holding `path` with one file there until a write fails (no space
/// left); returns the bytes written. Removing the file frees them again.
pub fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("create filler");
    let chunk = vec![0x5a_u8; 64 << 10];
    let mut written = 0;
    loop {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = f.sync_all();
    written
}
