//! A real S3 server on 127.0.0.1 for the remote tests: s3s-fs in-process (SigV4 checked),
//! one server and bucket per test on port 0. Mutating requests go through one lock, since
//! s3s-fs checks create-only preconditions and then writes (not atomic on its own; see
//! shared/research/s3-test-server.md).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

pub const ACCESS_KEY: &str = "art-test-key";
pub const SECRET_KEY: &str = "art-test-secret-0123456789";

/// A running server; it stops when dropped.
pub struct S3Server {
    pub addr: SocketAddr,
    pub bucket: String,
    /// The directory s3s-fs stores objects in (`<root>/<bucket>/<key>`).
    pub root: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
}

impl S3Server {
    /// Starts a server with one bucket named `bucket`.
    pub fn start(bucket: &str) -> S3Server {
        let root = tempfile::tempdir().expect("server dir");
        std::fs::create_dir(root.path().join(bucket)).expect("bucket dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("s3s-fs");
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let writes = Arc::new(tokio::sync::Mutex::new(()));
        runtime.spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let service = service.clone();
                let writes = Arc::clone(&writes);
                tokio::spawn(async move {
                    let handler = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
                            let service = service.clone();
                            let writes = Arc::clone(&writes);
                            async move {
                                let mutating = !matches!(
                                    *req.method(),
                                    http::Method::GET | http::Method::HEAD
                                );
                                let _guard = if mutating {
                                    Some(writes.lock().await)
                                } else {
                                    None
                                };
                                service.call(req.map(s3s::Body::from)).await
                            }
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), handler)
                    .await;
                });
            }
        });
        S3Server {
            addr,
            bucket: bucket.to_owned(),
            root,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the server keeps the object `key` of its bucket.
    pub fn object_path(&self, key: &str) -> std::path::PathBuf {
        self.root.path().join(&self.bucket).join(key)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// moto's S3 server (PyPI `moto[s3]`), an implementation independent of s3s-fs, in its own
/// process on a free port; killed when dropped. `scripts/test.sh` installs it in a venv and
/// names the program in `ART_TEST_MOTO`.
pub struct MotoServer {
    pub endpoint: String,
    child: std::process::Child,
}

impl MotoServer {
    /// Starts moto and creates `bucket`; `None` (with a note) when moto is not installed.
    pub fn start(bucket: &str) -> Option<MotoServer> {
        use std::io::{BufRead, Read, Write};
        let Some(program) = std::env::var_os("ART_TEST_MOTO") else {
            eprintln!("skipped: ART_TEST_MOTO is not set (scripts/test.sh installs moto)");
            return None;
        };
        let mut child = std::process::Command::new(program)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let stderr = child.stderr.take().expect("moto stderr");
        let mut lines = std::io::BufReader::new(stderr).lines();
        let endpoint = loop {
            let line = lines
                .next()
                .expect("moto_server printed its address")
                .expect("read moto stderr");
            if let Some(at) = line.find("Running on http://") {
                break line[at + "Running on ".len()..].trim().to_owned();
            }
        };
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let host = endpoint.trim_start_matches("http://");
        let mut conn = std::net::TcpStream::connect(host).expect("connect to moto");
        write!(
            conn,
            "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("create bucket");
        let mut reply = String::new();
        conn.read_to_string(&mut reply).expect("moto reply");
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "bucket creation: {reply}"
        );
        Some(MotoServer { endpoint, child })
    }
}

impl MotoServer {
    /// Runs Python statements against this server with moto's own interpreter, where `s3`
    /// is a boto3 client (bucket versioning, overwrites and deletes, as another tool would).
    pub fn boto(&self, code: &str) {
        let program = std::env::var_os("ART_TEST_MOTO").expect("ART_TEST_MOTO");
        let python = std::path::Path::new(&program).with_file_name("python");
        let script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='moto', \
             aws_secret_access_key='moto', region_name='us-east-1')\n{code}",
            self.endpoint
        );
        let out = std::process::Command::new(python)
            .args(["-c", &script])
            .output()
            .expect("run moto's python");
        assert!(
            out.status.success(),
            "boto3 script failed:\n{code}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Azurite (npm `azurite`, Azure Blob Storage's emulator) in its own process on a free
/// port, in memory, with one container; killed when dropped. `scripts/test.sh` installs it
/// and names the program in `ART_TEST_AZURITE`.
pub struct Azurite {
    /// `http://127.0.0.1:PORT/devstoreaccount1`.
    pub endpoint: String,
    child: std::process::Child,
}

/// The emulator's well-known account and key (public, the same in every Azurite).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl Azurite {
    /// Starts Azurite and creates `container`; `None` (with a note) when it is not installed.
    pub fn start(container: &str) -> Option<Azurite> {
        use std::io::BufRead;
        let Some(program) = std::env::var_os("ART_TEST_AZURITE") else {
            eprintln!("skipped: ART_TEST_AZURITE is not set (scripts/test.sh installs Azurite)");
            return None;
        };
        let mut child = std::process::Command::new(program)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--inMemoryPersistence",
                "--silent",
                "--skipApiVersionCheck",
                "--disableTelemetry",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start azurite-blob");
        let stdout = child.stdout.take().expect("azurite stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("azurite printed its address")
                .expect("read azurite stdout");
            if let Some(at) = line.find("http://127.0.0.1:") {
                break line[at..].trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        // A container is made by one SharedKey-signed request; Python's stdlib signs it.
        let script = format!(
            r#"
import base64, hashlib, hmac, urllib.request
from email.utils import formatdate
account, key, name, version = "{AZURITE_ACCOUNT}", "{AZURITE_KEY}", "{container}", "2023-11-03"
date = formatdate(usegmt=True)
sts = ("PUT\n" + "\n" * 4 + "application/octet-stream\n" + "\n" * 6
       + f"x-ms-date:{{date}}\nx-ms-version:{{version}}\n/{{account}}/{{account}}/{{name}}\nrestype:container")
sig = base64.b64encode(hmac.new(base64.b64decode(key), sts.encode(), hashlib.sha256).digest()).decode()
req = urllib.request.Request("{base}/" + account + "/" + name + "?restype=container", method="PUT", data=b"",
    headers={{"Content-Type": "application/octet-stream", "x-ms-date": date, "x-ms-version": version,
             "Authorization": f"SharedKey {{account}}:{{sig}}"}})
assert urllib.request.urlopen(req).status == 201
"#
        );
        let made = std::process::Command::new("python3")
            .args(["-c", &script])
            .status()
            .expect("run python3");
        assert!(made.success(), "container creation failed");
        Some(Azurite {
            endpoint: format!("{base}/{AZURITE_ACCOUNT}"),
            child,
        })
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
