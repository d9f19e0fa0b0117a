//! `art ui`: the JSON API against the CLI's `--json`, the refusals (non-loopback bind, path
//! traversal, writes, foreign Host), and the pages in headless Chromium.

use crate::util::Env;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

/// A running `art ui`, killed when dropped.
struct Ui {
    child: Child,
    port: u16,
}

impl Ui {
    /// Starts `art ui --bind 127.0.0.1:0` and reads the URL it prints.
    fn start(env: &Env) -> Ui {
        let mut child = env
            .std_command()
            .args(["ui", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start art ui");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the first line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in `{line}`"));
        let port = url
            .trim_start_matches("http://127.0.0.1:")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|_| panic!("no port in `{url}`"));
        Ui { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// One raw request; returns status, content type and body.
    fn request(&self, method: &str, path: &str, host: &str) -> (u16, String, Vec<u8>) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        )
        .expect("send");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read answer");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .expect("status")
            .parse()
            .expect("code");
        let ctype = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type: ")
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        (status, ctype, raw[split + 4..].to_vec())
    }

    fn get(&self, path: &str) -> (u16, String, Vec<u8>) {
        self.request("GET", path, &format!("127.0.0.1:{}", self.port))
    }

    /// GET that must succeed with JSON.
    fn json(&self, path: &str) -> Value {
        let (status, ctype, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        assert_eq!(ctype, "application/json", "{path}");
        serde_json::from_slice(&body).expect("JSON body")
    }

    /// GET that must fail with `status`; returns the error message.
    fn error(&self, path: &str, status: u16) -> String {
        let (got, _, body) = self.get(path);
        let text = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(got, status, "{path}: {text}");
        let v: Value = serde_json::from_str(&text).expect("JSON error");
        v["error"].as_str().expect("error message").to_owned()
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 1×1 red PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A store with a dataset, two training runs of a sweep logging model versions, an alias,
/// metadata and a deleted version. Returns the env and the two run ids.
fn sweep_store() -> (Env, String, String) {
    let env = Env::init();
    env.tree(&[
        ("data/train.csv", b"x,y\n1,2\n3,4\n"),
        ("data/meta/labels.txt", b"cat\ndog\n"),
    ]);
    env.ok(&[
        "log", "dataset", "data", "--type", "dataset", "-m", "raw data",
    ]);
    let mut runs = Vec::new();
    for (lr, acc, weights) in [("0.1", "0.81", "w-one"), ("0.01", "0.93", "w-two")] {
        let run = env
            .ok(&[
                "run",
                "start",
                "--name",
                &format!("train-{lr}"),
                "--group",
                "sweep",
                "--job-type",
                "train",
                "--config",
                &format!("lr={lr}"),
            ])
            .trim()
            .to_owned();
        env.ok(&["use", "dataset", "--run", &run]);
        env.tree(&[
            ("model/weights.bin", weights.as_bytes()),
            ("model/plot.png", PNG),
        ]);
        env.ok(&[
            "log",
            "model",
            "model",
            "--type",
            "model",
            "--run",
            &run,
            "--metadata",
            &format!("{{\"acc\": {acc}, \"lr\": {lr}}}"),
        ]);
        env.ok(&["run", "finish", &run, "--summary", &format!("acc={acc}")]);
        runs.push(run);
    }
    env.ok(&["run", "start", "--name", "eval", "--job-type", "eval"]);
    env.ok(&["alias", "set", "model:v1", "best"]);
    // A third model version from the second run, then deleted: the graph marks it.
    env.write("model/weights.bin", b"w-three");
    env.ok(&["run", "resume", &runs[1]]);
    env.ok(&["log", "model", "model", "--run", &runs[1]]);
    env.ok(&["run", "finish", &runs[1]]);
    env.ok(&["rm", "model:v2", "--delete-aliases"]);
    let second = runs.pop().expect("two runs");
    let first = runs.pop().expect("two runs");
    (env, first, second)
}

#[test]
fn every_api_route_answers_what_the_cli_prints_with_json() {
    let (env, first, second) = sweep_store();
    let ui = Ui::start(&env);
    let same = |route: &str, cli: &[&str]| {
        assert_eq!(
            ui.json(route),
            env.json(cli),
            "/api route {route} vs art {cli:?}"
        );
    };
    same("/api/ls", &["ls"]);
    same("/api/ls/model:v1", &["ls", "model:v1"]);
    same("/api/versions/model", &["versions", "model"]);
    same("/api/versions/model?all=1", &["versions", "model", "--all"]);
    same("/api/show/model:best", &["show", "model:best"]);
    same("/api/show/model:v2", &["show", "model:v2"]);
    same("/api/runs", &["runs"]);
    same(
        "/api/runs?group=sweep&sort=-summary.acc",
        &["runs", "--group", "sweep", "--sort", "-summary.acc"],
    );
    same("/api/runs?job_type=eval", &["runs", "--job-type", "eval"]);
    same(&format!("/api/run/{first}"), &["run", "show", &first]);
    same("/api/lineage/model:v1", &["lineage", "model:v1"]);
    same(
        &format!("/api/lineage/{second}?direction=down&depth=1"),
        &["lineage", &second, "--down", "--depth", "1"],
    );
    // `art diff` exits 1 when the versions differ, so its JSON is read by hand.
    let out = env
        .art()
        .args(["--json", "diff", "model:v0", "model:v1"])
        .output()
        .expect("run art diff");
    assert_eq!(out.status.code(), Some(1));
    let cli: Value = serde_json::from_slice(&out.stdout).expect("diff JSON");
    assert_eq!(ui.json("/api/diff/model:v0?to=model:v1"), cli);
    assert_eq!(cli["changes"][0]["path"], "weights.bin");

    // A sanity check on the values themselves, not only their equality with the CLI.
    let runs = ui.json("/api/runs?group=sweep&sort=-summary.acc");
    assert_eq!(runs[0]["id"], second.as_str());
    assert_eq!(runs[0]["summary"]["acc"], 0.93);
    let deleted = ui.json("/api/show/model:v2");
    assert_eq!(deleted["state"], "deleted");

    // File content: the bytes as logged, images typed as images, text as plain text.
    let (status, ctype, body) = ui.get("/api/file/model:v1?path=plot.png");
    assert_eq!(
        (status, ctype.as_str(), body.as_slice()),
        (200, "image/png", PNG)
    );
    let (status, ctype, body) = ui.get("/api/file/dataset?path=meta%2Flabels.txt");
    assert_eq!(status, 200);
    assert_eq!(ctype, "text/plain; charset=utf-8");
    assert_eq!(body, b"cat\ndog\n");

    // Errors are JSON with the library's message and a fitting status.
    let msg = ui.error("/api/versions/modle", 404);
    assert!(msg.contains("modle") && msg.contains("model"), "{msg}");
    let msg = ui.error("/api/file/model:v1?path=nope.txt", 404);
    assert!(msg.contains("has no file `nope.txt`"), "{msg}");
    ui.error("/api/ls/model:v2", 404);
    ui.error("/api/runs?sort=bogus", 400);
    ui.error("/api/runs?limit=many", 400);
    ui.error("/api/lineage/model:v1?depth=-1", 400);
    ui.error("/api/lineage/model:v1?direction=sideways", 400);
    ui.error("/api/diff/model:v0", 400);
    ui.error("/api/nothing", 404);

    // The page polls the log sequence: a change made by the CLI moves it.
    let before = ui.json("/api/seq")["seq"].as_u64().expect("seq");
    env.ok(&["alias", "set", "model:v0", "prod"]);
    let after = ui.json("/api/seq")["seq"].as_u64().expect("seq");
    assert!(after > before, "seq {before} -> {after}");
    assert_eq!(ui.json("/api/show/model:prod")["version"], 0);

    // The page itself and its assets are served from the binary.
    let (status, ctype, body) = ui.get("/");
    assert_eq!((status, ctype.as_str()), (200, "text/html; charset=utf-8"));
    assert!(String::from_utf8_lossy(&body).contains("/app.js"));
    assert_eq!(ui.get("/app.js").0, 200);
    assert_eq!(ui.get("/app.css").0, 200);
}

#[test]
fn a_non_loopback_bind_is_refused_without_allow_remote() {
    let env = Env::init();
    let before = env.store_snapshot();
    let err = env.fails(&["ui", "--bind", "0.0.0.0:0"], 1);
    assert!(err.contains("refusing to serve on `0.0.0.0:0`"), "{err}");
    assert!(err.contains("not a loopback address"), "{err}");
    assert!(err.contains("--allow-remote"), "{err}");
    assert_eq!(env.store_snapshot(), before);
    // With the flag it serves, and warns on stderr.
    let mut child = env
        .std_command()
        .args(["ui", "--bind", "0.0.0.0:0", "--allow-remote"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start art ui");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read URL");
    let mut warning = String::new();
    BufReader::new(child.stderr.take().expect("stderr"))
        .read_line(&mut warning)
        .expect("read warning");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("http://0.0.0.0:"), "{line}");
    assert!(
        warning.contains("reachable from other machines"),
        "{warning}"
    );
    // Outside a store it says so before binding anything.
    let bare = Env::new();
    let err = bare.fails(&["ui", "--bind", "127.0.0.1:0"], 1);
    assert!(err.contains("art init"), "{err}");
}

#[test]
fn file_routes_refuse_traversal_and_the_server_refuses_writes() {
    let (env, _, _) = sweep_store();
    std::fs::write(env.path("secret.txt"), b"do not serve").expect("write");
    let before = env.store_snapshot();
    let ui = Ui::start(&env);
    for path in [
        "../secret.txt",
        "..%2F..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "meta/../../secret.txt",
        ".artifacts%2Fconfig.toml",
    ] {
        let msg = ui.error(&format!("/api/file/dataset?path={path}"), 400);
        assert!(msg.starts_with("refusing path"), "{path}: {msg}");
    }
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/app.js/../../secret.txt",
        "/secret.txt",
    ] {
        let (status, _, body) = ui.get(path);
        assert_eq!(status, 404, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains("do not serve"));
    }
    for method in ["POST", "PUT", "DELETE"] {
        let (status, _, body) = ui.request(method, "/api/ls", &format!("127.0.0.1:{}", ui.port));
        assert_eq!(status, 405, "{method}");
        assert!(String::from_utf8_lossy(&body).contains("read-only"));
    }
    // DNS rebinding: a foreign site's name in Host is refused.
    let (status, _, _) = ui.request("GET", "/api/ls", &format!("evil.example:{}", ui.port));
    assert_eq!(status, 403);
    let (status, _, _) = ui.request("GET", "/api/ls", &format!("localhost:{}", ui.port));
    assert_eq!(status, 200);
    drop(ui);
    assert_eq!(env.store_snapshot(), before);
}

/// The system Chromium, if installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
}

/// Loads `url` in headless Chromium: the DOM after scripts ran, and a screenshot.
fn browse(chrome: &Path, url: &str, shot: &Path) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let common = |cmd: &mut std::process::Command| {
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1280,860",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .stderr(Stdio::null());
    };
    let mut dump = std::process::Command::new(chrome);
    common(&mut dump);
    let out = dump
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium --dump-dom {url}: {:?}",
        out.status
    );
    let mut snap = std::process::Command::new(chrome);
    common(&mut snap);
    let status = snap
        .arg(format!("--screenshot={}", shot.display()))
        .arg(url)
        .stdout(Stdio::null())
        .status()
        .expect("run chromium");
    assert!(
        status.success() && shot.is_file(),
        "chromium --screenshot {url}"
    );
    String::from_utf8(out.stdout).expect("utf-8 DOM")
}

/// How many times `needle` occurs in `hay`.
fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[test]
fn pages_render_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        assert!(
            std::env::var_os("ART_TEST_REQUIRE_CHROMIUM").is_none(),
            "ART_TEST_REQUIRE_CHROMIUM is set but no chromium is in PATH"
        );
        eprintln!("skipped: chromium not found (apt-get install chromium; scripts/test.sh does)");
        return;
    };
    let (env, first, second) = sweep_store();
    let ui = Ui::start(&env);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("ui-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let pages = [
        ("artifacts", "/#/".to_owned()),
        ("versions", "/#/artifact/model".to_owned()),
        (
            "version",
            "/#/version/model%3Av1?diff=model%3Av0".to_owned(),
        ),
        ("tree", "/#/version/dataset".to_owned()),
        ("file", "/#/file/dataset%3Av0/train.csv".to_owned()),
        ("image", "/#/file/model%3Av1/plot.png".to_owned()),
        ("runs", "/#/runs?group=sweep&sort=-summary.acc".to_owned()),
        ("run", format!("/#/run/{second}")),
        ("lineage", "/#/lineage/dataset%3Av0".to_owned()),
    ];
    // Two browsers at a time: the server answers one request at a time anyway.
    let doms: Vec<(String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = pages
            .chunks(4)
            .map(|chunk| {
                let (chrome, shots, ui) = (&chrome, &shots, &ui);
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(name, path)| {
                            let dom =
                                browse(chrome, &ui.url(path), &shots.join(format!("{name}.png")));
                            ((*name).to_owned(), dom)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("browser thread"))
            .collect()
    });
    let dom =
        |name: &str| -> &str { &doms.iter().find(|(n, _)| n == name).expect("page loaded").1 };

    let artifacts = dom("artifacts");
    assert!(
        artifacts.contains(r##"<a href="#/artifact/dataset">dataset</a>"##),
        "{artifacts}"
    );
    assert!(artifacts.contains(r##"<a href="#/artifact/model">model</a>"##));
    assert!(artifacts.contains("2 artifacts"));

    let versions = dom("versions");
    assert_eq!(count(versions, "<tr class=\"deleted\">"), 1, "{versions}");
    assert!(versions.contains(">best<"));

    let version = dom("version");
    assert!(version.contains("<h1>model:v1"), "{version}");
    assert!(version.contains(r#"data-path="plot.png""#));
    assert!(version.contains(r#"data-path="weights.bin""#));
    assert!(version.contains("changes from model:v0 to model:v1"));
    assert!(version.contains(r#"<tr class="change modified">"#));
    assert!(
        version.contains(">lr<") && version.contains(">0.01<"),
        "metadata table"
    );

    let tree = dom("tree");
    assert!(tree.contains("▸ meta/"), "{tree}");
    assert!(tree.contains(r#"data-path="meta/labels.txt">labels.txt<"#));

    let image = dom("image");
    assert!(
        image.contains(r#"<img class="content" src="/api/file/model%3Av1?path=plot.png""#),
        "{image}"
    );
    assert!(
        image.contains(r#"data-loaded="1x1""#),
        "the PNG decoded: {image}"
    );

    let file = dom("file");
    assert!(file.contains("x,y\n1,2\n3,4"), "{file}");

    let runs = dom("runs");
    let order = [runs.find("train-0.01"), runs.find("train-0.1<")];
    assert!(
        matches!(order, [Some(a), Some(b)] if a < b),
        "sorted by -acc: {runs}"
    );
    assert!(runs.contains("2 of 3 runs"), "filtered to the sweep group");
    assert!(runs.contains("acc ▼"), "sorted on the summary column");

    let run = dom("run");
    assert!(run.contains("train-0.01"));
    assert!(run.contains(r##"href="#/version/dataset%3Av0""##), "{run}");
    assert!(run.contains(r##"href="#/version/model%3Av1""##));

    let lineage = dom("lineage");
    // dataset:v0 → both runs → model:v0, model:v1 and the deleted model:v2.
    assert_eq!(count(lineage, r#"class="node "#), 6, "{lineage}");
    assert_eq!(count(lineage, "data-kind=\"run\""), 2);
    assert!(lineage.contains(r#"class="node version deleted" data-id="model:v2""#));
    assert!(lineage.contains(r#"class="node version root" data-id="dataset:v0""#));
    assert!(lineage.contains(&format!(r#"data-from="{second}" data-to="model:v1""#)));
    assert!(lineage.contains(&format!(r#"data-from="dataset:v0" data-to="{first}""#)));
    assert!(lineage.contains(">train-0.01<"));
}

#[test]
fn ctrl_c_stops_the_server_cleanly() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let env = Env::init();
    let before = env.store_snapshot();
    let mut ui = Ui::start(&env);
    assert_eq!(ui.json("/api/ls"), serde_json::json!([]));
    let pid = Pid::from_raw(i32::try_from(ui.child.id()).expect("pid"));
    kill(pid, Signal::SIGINT).expect("send SIGINT");
    // A guard against a hang, not a timing assertion: the loop wakes every 200 ms.
    let status = (0..300)
        .find_map(|_| {
            let s = ui.child.try_wait().expect("wait");
            if s.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            s
        })
        .expect("art ui did not stop on SIGINT");
    assert!(status.success(), "{status:?}");
    assert!(
        TcpStream::connect(("127.0.0.1", ui.port)).is_err(),
        "port still open"
    );
    assert_eq!(env.store_snapshot(), before);
}
