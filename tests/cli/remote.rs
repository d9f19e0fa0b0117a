//! Remotes: `art remote`, `art push`, eviction by `gc --max` and checkout reading evicted
//! blobs back, against a directory remote and a real S3 server (s3s-fs on 127.0.0.1).

use crate::s3::{ACCESS_KEY, S3Server, SECRET_KEY};
use crate::util::{Env, noise};
use std::collections::BTreeMap;

/// Two versions of `m`: a 3 MiB file (chunked) and small ones; returns their trees.
fn two_versions(env: &Env) -> Vec<BTreeMap<String, Vec<u8>>> {
    env.write("d/model.bin", noise(3 << 20, 1));
    env.write("d/config.json", "{\"lr\": 0.1}\n");
    env.ok(&["log", "m", "d"]);
    let v0 = env.read_tree("d");
    env.write("d/config.json", "{\"lr\": 0.01}\n");
    env.write("d/notes.txt", "second\n".repeat(100));
    env.ok(&["log", "m", "d"]);
    vec![v0, env.read_tree("d")]
}

/// Every version restores byte for byte, reading evicted blobs from the remote.
fn check_restores(env: &Env, trees: &[BTreeMap<String, Vec<u8>>]) -> u64 {
    let mut fetched = 0;
    for (i, tree) in trees.iter().enumerate() {
        let dest = format!("out-v{i}");
        let out = env.json(&["checkout", &format!("m:v{i}"), &dest]);
        fetched += out["fetched_bytes"].as_u64().expect("fetched_bytes");
        assert_eq!(&env.read_tree(&dest), tree, "m:v{i}");
    }
    fetched
}

#[test]
fn push_evict_and_read_back_from_a_directory_remote() {
    let env = Env::init();
    let trees = two_versions(&env);
    let stored = env.pack_bytes();
    // Relative to the cwd, kept absolute so the store works from anywhere.
    let added = env.json(&["remote", "add", "origin", "sub/../shared-remote/./art"]);
    let url = added["url"].as_str().expect("url");
    assert!(
        url.starts_with('/') && url.ends_with("/shared-remote/art"),
        "{url}"
    );

    // Before a push nothing is evictable: the cap cannot be met.
    let out = env.art().args(["gc", "--max", "0"]).output().expect("run");
    assert_eq!(out.status.code(), Some(3));

    // A directory remote is made on the first push only inside an existing directory (a
    // share that is not mounted must not become a local directory).
    let err = env.fails(&["push"], 1);
    assert!(err.contains("shared-remote` does not exist"), "{err}");
    std::fs::create_dir(env.path("shared-remote")).expect("mkdir");
    let first = env.json(&["push"]);
    assert_eq!(first["remote"], "origin");
    assert!(first["packs_uploaded"].as_u64() >= Some(1), "{first}");
    assert_eq!(first["bytes_uploaded"], stored);
    let again = env.ok(&["push", "origin"]);
    assert!(again.starts_with("origin: up to date"), "{again}");
    let listed = env.ok(&["remote", "ls"]);
    assert!(
        listed.contains("origin") && listed.contains(url),
        "{listed}"
    );

    let gc = env.json(&["gc", "--max", "0"]);
    assert_eq!(gc["cap_met"], true, "{gc}");
    assert_eq!(gc["size_after"], 0);
    assert_eq!(env.pack_bytes(), 0, "every pack left the store");
    let du = env.json(&["du"]);
    assert_eq!(du["pinned"], 0);
    assert!(du["remote_only"].as_u64() > Some(3 << 20), "{du}");
    assert_eq!(du["remotes"][0]["name"], "origin");
    assert_eq!(du["remotes"][0]["bytes"], stored);
    assert_eq!(du["remotes"][0]["evicted"], stored, "{du}");
    let text = env.ok(&["du"]);
    assert!(text.contains("REMOTE  PACKS  HOLDS"), "{text}");

    let fetched = check_restores(&env, &trees);
    assert!(fetched >= 3 << 20, "read back from the remote: {fetched}");
    assert!(env.ok(&["fsck"]).contains(": ok"));

    // The remote is the only copy now: forgetting it is refused.
    let err = env.fails(&["remote", "rm", "origin"], 3);
    assert!(err.contains("only copy"), "{err}");
    // New content is pinned until pushed again.
    env.write("d/extra.bin", noise(100_000, 9));
    env.ok(&["log", "m", "d"]);
    let out = env.art().args(["gc", "--max", "0"]).output().expect("run");
    assert_eq!(out.status.code(), Some(3));
    env.ok(&["push"]);
    assert_eq!(env.json(&["gc", "--max", "0"])["cap_met"], true);
}

#[test]
fn push_to_s3_evict_and_read_back() {
    let server = S3Server::start("team-bucket");
    let env = Env::init();
    env.set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
    env.set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    let trees = two_versions(&env);
    env.ok(&[
        "remote",
        "add",
        "origin",
        "s3://team-bucket/projects/art",
        "--endpoint",
        &server.endpoint(),
        "--allow-http",
    ]);
    let config = std::fs::read_to_string(env.path(".artifacts/config.toml")).expect("config");
    assert!(!config.contains(SECRET_KEY) && !config.contains(ACCESS_KEY));

    let pushed = env.json(&["push"]);
    let uploaded = pushed["packs_uploaded"].as_u64().expect("count");
    // The remote holds the same bytes as the local packs.
    for (rel, _) in env
        .store_snapshot()
        .iter()
        .filter(|(k, _)| k.starts_with("packs/"))
    {
        let local = std::fs::read(env.path(&format!(".artifacts/{rel}"))).expect("local pack");
        let remote = std::fs::read(server.object_path(&format!("projects/art/{rel}")))
            .expect("pack on the server");
        assert!(local == remote, "{rel} differs");
    }
    assert!(server.object_path("projects/art/art-remote.json").is_file());
    assert!(uploaded >= 1);
    assert_eq!(env.json(&["push"])["packs_uploaded"], 0);

    // A clone elsewhere sees both versions and reads them from the bucket.
    let other = Env::new();
    other.set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
    other.set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    let cloned = other.json(&[
        "clone",
        "s3://team-bucket/projects/art",
        "--endpoint",
        &server.endpoint(),
        "--allow-http",
    ]);
    assert_eq!(cloned["versions"], serde_json::json!(["m:v0", "m:v1"]));
    assert_eq!(
        other.json(&["versions", "m"]),
        env.json(&["versions", "m"]),
        "the clone has the same versions"
    );
    check_restores(&other, &trees);

    let stored = env.pack_bytes();
    env.ok(&["gc", "--max", "0"]);
    let fetched = check_restores(&env, &trees);
    // Ranged reads fetch the blobs each checkout needs, not whole packs over and over.
    assert!(
        fetched <= 2 * stored,
        "fetched {fetched} for {stored} stored"
    );
    assert!(env.ok(&["fsck"]).contains(": ok"));
}

#[test]
fn a_corrupt_remote_pack_is_refused() {
    let env = Env::init();
    env.write("d/big.bin", noise(600_000, 3));
    env.write("d/small.bin", noise(5_000, 4));
    env.ok(&["log", "m", "d"]);
    std::fs::remove_file(env.path("d/big.bin")).expect("rm");
    env.ok(&["log", "m", "d"]);
    env.ok(&["remote", "add", "origin", "remote-dir"]);
    env.ok(&["push"]);
    env.ok(&["gc", "--max", "0"]);
    // Damage every blob of the pack holding the files (v1's manifest is in another one).
    let data_pack = crate::util::files_in(&env.path("remote-dir/packs"))
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).expect("pack").len())
        .expect("packs on the remote");
    let mut bytes = std::fs::read(&data_pack).expect("pack");
    for i in (200..bytes.len() - 4_000).step_by(1_000) {
        bytes[i] ^= 0xff;
    }
    std::fs::write(&data_pack, bytes).expect("corrupt pack");

    // v0 needs most of the pack: it is downloaded whole and refused by its checksum.
    let err = env.fails(&["checkout", "m:v0", "out0"], 1);
    assert!(
        err.contains("remote `origin`: `packs/") && err.contains("is invalid (its bytes hash to"),
        "{err}"
    );
    // v1 needs one small blob of it: read by range and refused by the blob's hash.
    let err = env.fails(&["checkout", "m:v1", "out1"], 1);
    assert!(
        err.contains("is corrupt") && err.contains("origin:packs/"),
        "{err}"
    );
    for file in ["out0/big.bin", "out0/small.bin", "out1/small.bin"] {
        assert!(!env.path(file).exists(), "{file} written from bad bytes");
    }
    assert!(
        env.ok(&["fsck"]).contains(": ok"),
        "the local store is intact"
    );
}

#[test]
fn remote_errors_are_one_clear_line_and_change_nothing() {
    let server = S3Server::start("real-bucket");
    let env = Env::init();
    env.set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
    env.write("d/a.txt", "a\n");
    env.ok(&["log", "m", "d"]);
    let endpoint = server.endpoint();
    let add = |name: &str, url: &str, endpoint: &str| {
        env.ok(&[
            "remote",
            "add",
            name,
            url,
            "--endpoint",
            endpoint,
            "--allow-http",
        ]);
    };
    // A port nothing listens on.
    add("dead", "s3://b", "http://127.0.0.1:9");
    add("nobucket", "s3://missing-bucket", &endpoint);
    add("wrongkey", "s3://real-bucket", &endpoint);
    let before = env.store_snapshot();
    let cases: [(&str, &str, &[(&str, &str)]); 3] = [
        ("dead", "cannot reach remote `dead`", &[]),
        (
            "nobucket",
            "bucket of `s3://missing-bucket` does not exist",
            &[],
        ),
        (
            "wrongkey",
            "refused access",
            &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
        ),
    ];
    for (remote, want, vars) in cases {
        let mut cmd = env.art();
        cmd.args(["push", remote]);
        if vars.is_empty() {
            cmd.env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{remote}: {err}");
        assert!(err.contains(want), "{remote}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{remote}: {err}");
        assert_eq!(env.store_snapshot(), before, "{remote} changed the store");
    }

    for (args, want) in [
        (
            &["push", "nope"][..],
            "no remote named `nope` (remotes: dead, nobucket, wrongkey)",
        ),
        (
            &["remote", "add", "x", "ftp://host/dir"],
            "art does not support `ftp://` remotes",
        ),
        (&["remote", "add", "x", "s3://"], "no bucket"),
        (
            &["remote", "add", "dead", "/tmp/x"],
            "remote `dead` already exists",
        ),
        (
            &["remote", "add", "bad/name", "/tmp/x"],
            "invalid remote name",
        ),
        (&["remote", "rm", "nope"], "no remote named `nope`"),
    ] {
        let err = env.fails(args, 1);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let none = Env::init();
    let err = none.fails(&["push"], 1);
    assert!(
        err.contains("add one with `art remote add NAME URL`"),
        "{err}"
    );
}

/// The S3 test server with a store whose remote `origin` is a bucket on it.
fn store_on_s3(bucket: &str) -> (S3Server, Env) {
    let server = S3Server::start(bucket);
    let env = Env::init();
    env.set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
    env.set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    env.ok(&[
        "remote",
        "add",
        "origin",
        &format!("s3://{bucket}"),
        "--endpoint",
        &server.endpoint(),
        "--allow-http",
    ]);
    (server, env)
}

/// Local packs whose bytes the server holds identically, and the number of local packs.
fn packs_on_server(env: &Env, server: &S3Server) -> (usize, usize) {
    let snapshot = env.store_snapshot();
    let local: Vec<&String> = snapshot
        .keys()
        .filter(|k| k.starts_with("packs/"))
        .collect();
    let same = local
        .iter()
        .filter(|rel| {
            let here = std::fs::read(env.path(&format!(".artifacts/{rel}"))).expect("local pack");
            std::fs::read(server.object_path(rel)).is_ok_and(|there| there == here)
        })
        .count();
    (same, local.len())
}

#[test]
fn a_pack_over_16_mib_goes_up_in_parts() {
    let (server, env) = store_on_s3("large-packs");
    env.write("d/weights.bin", noise(20 << 20, 4));
    env.ok(&["log", "m", "d"]);
    let tree = env.read_tree("d");
    let pushed = env.json(&["push"]);
    assert!(
        pushed["bytes_uploaded"].as_u64() > Some(16 << 20),
        "{pushed}"
    );
    let (same, total) = packs_on_server(&env, &server);
    assert_eq!((same, total), (1, 1));
    env.ok(&["gc", "--max", "0"]);
    env.ok(&["checkout", "m", "out"]);
    assert_eq!(env.read_tree("out"), tree);
}

#[test]
fn a_killed_push_is_completed_by_the_next_one() {
    let (server, env) = store_on_s3("killed-push");
    env.ok(&["config", "set", "store.pack_size", "1MiB"]);
    for i in 0..48u64 {
        env.write(&format!("d/f{i:02}.bin"), noise(700_000, i));
    }
    env.ok(&["log", "m", "d"]);
    let tree = env.read_tree("d");
    let mut landed = 0;
    for trial in 0..10 {
        let mut child = env
            .std_command()
            .args(["push"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn push");
        // Kill once the first packs are on the server.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while packs_on_server(&env, &server).0 == 0 && std::time::Instant::now() < deadline {
            if child.try_wait().expect("poll").is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let _ = child.kill();
        let status = child.wait().expect("wait");
        // An upload the client finished sending may still land on the (in-process) server:
        // count once the number has settled.
        let mut counted = packs_on_server(&env, &server);
        loop {
            std::thread::sleep(std::time::Duration::from_millis(100));
            let now = packs_on_server(&env, &server);
            if now == counted {
                break;
            }
            counted = now;
        }
        let (there, total) = counted;
        if status.code().is_none() && there < total {
            landed += 1;
            // The next push uploads exactly what is missing.
            let done = env.json(&["push"]);
            assert_eq!(done["packs_present"], there, "trial {trial}: {done}");
            assert_eq!(
                done["packs_uploaded"].as_u64(),
                Some((total - there) as u64),
                "trial {trial}: {done}"
            );
            assert_eq!(packs_on_server(&env, &server), (total, total));
            break;
        }
        // The kill came too late: start again from an empty bucket.
        std::fs::remove_dir_all(server.object_path("packs")).ok();
        let db = rusqlite::Connection::open(env.path(".artifacts/index.db")).expect("index");
        db.execute_batch("DELETE FROM remote_packs; UPDATE packs SET remote_state = NULL;")
            .expect("forget the push");
    }
    assert_eq!(landed, 1, "no push was killed half-way in 10 trials");
    assert!(env.ok(&["fsck"]).contains(": ok"));
    env.ok(&["gc", "--max", "0"]);
    env.ok(&["checkout", "m", "out"]);
    assert_eq!(env.read_tree("out"), tree);
}

#[test]
fn push_evict_and_checkout_through_moto() {
    let Some(moto) = crate::s3::MotoServer::start("moto-bucket") else {
        return;
    };
    let env = Env::init();
    env.set_var("AWS_ACCESS_KEY_ID", "moto");
    env.set_var("AWS_SECRET_ACCESS_KEY", "moto");
    let trees = two_versions(&env);
    for (name, bucket) in [("origin", "moto-bucket"), ("missing", "no-such-bucket")] {
        env.ok(&[
            "remote",
            "add",
            name,
            &format!("s3://{bucket}/art"),
            "--endpoint",
            &moto.endpoint,
            "--allow-http",
        ]);
    }
    let err = env.fails(&["push", "missing"], 1);
    assert!(err.contains("does not exist"), "{err}");
    let pushed = env.json(&["push", "origin"]);
    assert!(pushed["packs_uploaded"].as_u64() >= Some(1), "{pushed}");
    assert_eq!(env.json(&["push", "origin"])["up_to_date"], true);
    env.ok(&["gc", "--max", "0"]);
    check_restores(&env, &trees);
    assert!(env.ok(&["fsck"]).contains(": ok"));
}

#[test]
fn fsck_of_a_remote_finds_missing_and_corrupt_packs() {
    let env = Env::init();
    two_versions(&env);
    env.ok(&["remote", "add", "origin", "remote-dir"]);
    env.ok(&["push"]);
    let out = env.ok(&["fsck", "--remote", "origin", "--read-data"]);
    assert!(out.ends_with(": ok\n"), "{out}");
    env.ok(&["gc", "--max", "0"]);
    let mut packs = crate::util::files_in(&env.path("remote-dir/packs"));
    packs.sort();
    assert!(packs.len() >= 2, "{packs:?}");
    // One pack damaged, one gone: a size check finds the loss, a read finds both.
    let mut bytes = std::fs::read(&packs[0]).expect("pack");
    bytes[20] ^= 1;
    std::fs::write(&packs[0], bytes).expect("damage");
    std::fs::remove_file(&packs[1]).expect("lose");
    let report = |args: &[&str]| {
        let out = env.art().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let sizes_only = report(&["fsck", "--remote", "origin"]);
    assert!(
        sizes_only.contains("is missing on `origin`"),
        "{sizes_only}"
    );
    assert!(sizes_only.contains("1 problem(s)"), "{sizes_only}");
    let text = report(&["fsck", "--remote", "origin", "--read-data"]);
    assert!(
        text.contains("is missing on `origin` (the only copy: evicted here)"),
        "{text}"
    );
    assert!(text.contains("is corrupt: its bytes hash to"), "{text}");
    assert!(text.contains("2 problem(s)"), "{text}");
}

#[test]
fn push_evict_and_checkout_through_azurite() {
    let Some(azurite) = crate::s3::Azurite::start("models") else {
        return;
    };
    let env = Env::init();
    env.set_var("AZURE_STORAGE_ACCOUNT_NAME", crate::s3::AZURITE_ACCOUNT);
    env.set_var("AZURE_STORAGE_ACCOUNT_KEY", crate::s3::AZURITE_KEY);
    let trees = two_versions(&env);
    env.ok(&[
        "remote",
        "add",
        "origin",
        "az://models/team/art",
        "--endpoint",
        &azurite.endpoint,
        "--allow-http",
    ]);
    let pushed = env.json(&["push"]);
    assert!(pushed["packs_uploaded"].as_u64() >= Some(1), "{pushed}");
    assert_eq!(env.json(&["push"])["up_to_date"], true);
    env.ok(&["gc", "--max", "0"]);
    check_restores(&env, &trees);
    assert!(
        env.ok(&["fsck", "--remote", "origin", "--read-data"])
            .ends_with(": ok\n")
    );
    // A wrong key is refused by the server, in one line.
    let out = env
        .art()
        .args(["push"])
        .env("AZURE_STORAGE_ACCOUNT_KEY", "d3Jvbmc=")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("refused access"), "{err}");
}

/// `ds` (with a 2 MiB file, alias `best`) used by a finished run that logged `model`.
fn shared_history(env: &Env) {
    env.write("d/big.bin", noise(2 << 20, 11));
    env.write("d/labels.csv", "x,y\n1,2\n");
    env.ok(&["log", "ds", "d", "-a", "best", "-m", "first cut"]);
    let run = env.ok(&["run", "start", "--name", "train", "--group", "sweep1"]);
    let run = run.trim();
    env.ok(&["use", "ds:best", "--run", run]);
    env.write("m/model.bin", noise(300_000, 12));
    env.ok(&["log", "model", "m", "-t", "model", "--run", run]);
    env.ok(&["run", "finish", run, "--summary", "acc=0.93"]);
    env.ok(&["meta", "set", "ds:v0", "--set", "rows=1"]);
}

/// What a user compares between two stores sharing a history.
fn recorded_state(env: &Env) -> Vec<serde_json::Value> {
    vec![
        env.json(&["versions", "ds", "--all"]),
        env.json(&["versions", "model", "--all"]),
        env.json(&["show", "ds:best"]),
        env.json(&["runs"]),
        env.json(&["lineage", "model", "--format", "json"]),
    ]
}

#[test]
fn clone_pull_and_push_share_versions_runs_and_lineage() {
    let a = Env::init();
    shared_history(&a);
    let remote = a.path("shared").to_string_lossy().into_owned();
    a.ok(&["remote", "add", "origin", &remote]);
    let pushed = a.json(&["push"]);
    assert_eq!(pushed["batches_uploaded"], 6, "{pushed}");
    assert_eq!(a.json(&["push"])["up_to_date"], true);

    let b = Env::new();
    let cloned = b.json(&["clone", &remote, "b"]);
    assert_eq!(cloned["versions"], serde_json::json!(["ds:v0", "model:v0"]));
    let b = Env::in_dir(assert_fs::TempDir::new().expect("dir"));
    b.ok(&["clone", &remote, "."]);
    assert_eq!(
        recorded_state(&b),
        recorded_state(&a),
        "a clone shows the same history"
    );
    assert_eq!(b.pack_bytes(), 0, "a clone holds no data");
    let out = b.json(&["checkout", "ds:best", "restored"]);
    assert!(out["fetched_bytes"].as_u64() > Some(2 << 20), "{out}");
    assert_eq!(b.read_tree("restored"), a.read_tree("d"));

    // B adds a version and pushes; A pulls it and reads it from the remote.
    b.write("restored/extra.txt", "from b\n");
    b.ok(&["log", "ds", "restored"]);
    assert_eq!(b.json(&["push"])["batches_uploaded"], 1);
    let pulled = a.json(&["pull"]);
    assert_eq!(pulled["versions"], serde_json::json!(["ds:v1"]));
    assert_eq!(recorded_state(&a), recorded_state(&b));
    a.ok(&["checkout", "ds:v1", "from-b"]);
    assert_eq!(a.read_tree("from-b"), b.read_tree("restored"));
    assert!(a.ok(&["pull"]).contains("up to date"));

    // Both log without pulling: the later push is refused, nothing is lost on either side.
    a.write("d/a-only.txt", "a\n");
    a.ok(&["log", "ds", "d"]);
    b.write("restored/b-only.txt", "b\n");
    b.ok(&["log", "ds", "restored"]);
    b.ok(&["push"]);
    let err = a.fails(&["push"], 3);
    assert!(err.contains("run `art pull origin` first"), "{err}");
    // Pulling merges: A's version follows B's, then A's push goes through.
    let pulled = a.ok(&["pull"]);
    assert!(pulled.contains("ds:v2 -> ds:v3"), "{pulled}");
    assert_eq!(
        a.json(&["versions", "ds"]).as_array().map(Vec::len),
        Some(4)
    );
    assert!(a.ok(&["fsck"]).contains(": ok"));
    a.ok(&["push"]);
    b.ok(&["pull"]);
    assert_eq!(recorded_state(&a), recorded_state(&b));
}

/// Numbers in `versions --json` order, with each version's digest.
fn numbered(env: &Env, name: &str) -> Vec<(u64, String)> {
    env.json(&["versions", name, "--all"])
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().expect("version"),
                v["digest"].as_str().expect("digest").to_owned(),
            )
        })
        .collect()
}

/// Two stores log to one artifact and move one alias without pulling: the second to pull
/// gets its unpushed versions renumbered after the remote's, the remote's alias move stands,
/// every version of both restores, and the stores agree after one more push and pull.
#[test]
fn a_pull_merges_diverged_histories_renumbering_unpushed_versions() {
    let a = Env::init();
    a.write("d/base.txt", "base\n");
    a.ok(&["log", "ds", "d"]);
    let remote = a.path("shared").to_string_lossy().into_owned();
    a.ok(&["remote", "add", "origin", &remote]);
    a.ok(&["push"]);
    let b = Env::in_dir(assert_fs::TempDir::new().expect("dir"));
    b.ok(&["clone", &remote, "."]);
    b.ok(&["checkout", "ds", "d"]);

    a.write("d/a.bin", noise(200_000, 21));
    a.ok(&["log", "ds", "d", "-a", "best"]);
    a.ok(&["push"]);
    let a_v1 = a.read_tree("d");

    b.write("d/b.bin", noise(150_000, 22));
    b.ok(&["log", "ds", "d", "-a", "best", "-a", "mine"]);
    b.write("d/b2.txt", "more\n");
    b.ok(&["log", "ds", "d"]);
    b.write("m/w.bin", noise(50_000, 23));
    b.ok(&["log", "model", "m", "-t", "model"]);
    let b_tree = b.read_tree("d");
    let before: Vec<String> = numbered(&b, "ds").into_iter().map(|v| v.1).collect();

    let err = b.fails(&["push"], 3);
    assert!(err.contains("run `art pull origin` first"), "{err}");
    let out = b.json(&["pull"]);
    assert_eq!(out["versions"], serde_json::json!(["ds:v1"]), "{out}");
    assert_eq!(
        out["renumbered"],
        serde_json::json!([
            {"artifact": "ds", "from": 1, "to": 2},
            {"artifact": "ds", "from": 2, "to": 3}
        ]),
        "{out}"
    );
    assert_eq!(
        out["dropped"],
        serde_json::json!([{"target": "ds:best", "change": "alias set to ds:v2"}]),
        "{out}"
    );
    // Same contents, new numbers: v1 is A's, v2 and v3 are B's.
    let after = numbered(&b, "ds");
    assert_eq!(after.iter().map(|v| v.0).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(after[2].1, before[1]);
    assert_eq!(after[3].1, before[2]);
    assert_eq!(
        b.json(&["show", "ds:best"])["version"],
        1,
        "the remote's move stands"
    );
    assert_eq!(b.json(&["show", "ds:mine"])["version"], 2);
    assert_eq!(
        b.json(&["show", "ds"])["version"],
        3,
        "latest is the newest"
    );
    assert!(b.ok(&["fsck"]).contains(": ok"));
    b.ok(&["checkout", "ds:v1", "from-a"]);
    assert_eq!(b.read_tree("from-a"), a_v1);
    // The work tree B logged from is still known: checkout back and forth needs no --force.
    b.ok(&["checkout", "ds:v3"]);
    assert_eq!(b.read_tree("d"), b_tree);

    // The rewritten log is what a rebuild replays.
    let state = recorded_state_of(&b, &["ds", "model"]);
    b.ok(&["index", "rebuild"]);
    assert_eq!(recorded_state_of(&b, &["ds", "model"]), state);

    let pushed = b.json(&["push"]);
    assert_eq!(pushed["batches_uploaded"], 3, "{pushed}");
    a.ok(&["pull"]);
    assert_eq!(
        recorded_state_of(&a, &["ds", "model"]),
        recorded_state_of(&b, &["ds", "model"])
    );
    a.ok(&["checkout", "ds:v3", "from-b"]);
    assert_eq!(a.read_tree("from-b"), b_tree);
}

fn recorded_state_of(env: &Env, names: &[&str]) -> Vec<serde_json::Value> {
    names
        .iter()
        .map(|n| env.json(&["versions", n, "--all"]))
        .chain([env.json(&["ls"])])
        .collect()
}

/// A merge killed while swapping the log directory is finished by the next command; one
/// killed while writing the new log is undone.
#[test]
fn an_interrupted_log_rewrite_is_finished_or_undone() {
    let a = Env::init();
    a.write("d/x.txt", "x\n");
    a.ok(&["log", "ds", "d"]);
    a.write("d/y.txt", "y\n");
    a.ok(&["log", "ds", "d", "-a", "best"]);
    let state = recorded_state_of(&a, &["ds"]);
    let store = a.path(".artifacts");
    let copy = |from: &str, to: &str| {
        std::fs::create_dir(store.join(to)).expect("mkdir");
        for f in crate::util::files_in(&store.join(from)) {
            std::fs::copy(&f, store.join(to).join(f.file_name().expect("name"))).expect("copy");
        }
    };
    // Killed after the commit point: `log` renamed away, the new log complete beside it.
    copy("log", "log.new");
    std::fs::write(store.join("log.new/rewritten.json"), "{}").expect("marker");
    std::fs::rename(store.join("log"), store.join("log.old")).expect("rename");
    assert_eq!(recorded_state_of(&a, &["ds"]), state);
    assert!(store.join("log").is_dir() && !store.join("log.old").exists());
    assert!(
        !store.join("log/rewritten.json").exists(),
        "the index was rebuilt"
    );
    // Killed while drafting: the draft goes, the log stays.
    copy("log", "log.new");
    std::fs::write(store.join("log.new/00000000000000000003.json"), "garbage").expect("draft");
    a.write("d/z.txt", "z\n");
    a.ok(&["log", "ds", "d"]);
    assert!(!store.join("log.new").exists());
    assert_eq!(numbered(&a, "ds").len(), 3);
    assert!(a.ok(&["fsck"]).contains(": ok"));
}

#[test]
fn a_malformed_remote_log_is_refused_and_the_clone_removed() {
    let a = Env::init();
    shared_history(&a);
    a.ok(&["remote", "add", "origin", "shared"]);
    a.ok(&["push"]);
    // A gap in the numbers (a far-future batch number).
    std::fs::rename(
        a.path("shared/log/00000000000000000002.json"),
        a.path("shared/log/00000000000000000099.json"),
    )
    .expect("renumber");
    let remote = a.path("shared").to_string_lossy().into_owned();
    let err = a.fails(&["clone", &remote, "gap"], 1);
    assert!(err.contains("expected batch 2 here"), "{err}");
    assert!(
        !a.path("gap/.artifacts").exists(),
        "the failed clone is removed"
    );
    // A batch naming a pack the remote does not hold.
    std::fs::rename(
        a.path("shared/log/00000000000000000099.json"),
        a.path("shared/log/00000000000000000002.json"),
    )
    .expect("renumber back");
    for pack in crate::util::files_in(&a.path("shared/packs")) {
        std::fs::remove_file(pack).expect("drop pack");
    }
    let err = a.fails(&["clone", &remote, "nopacks"], 1);
    assert!(err.contains("which the remote lacks"), "{err}");
    assert!(!a.path("nopacks/.artifacts").exists());
}

/// A pull killed between writing a batch to the log and committing the index: the next
/// command applies the batch, reading its packs' trailers from the remote, so the pulled
/// version restores.
#[test]
fn a_pulled_batch_the_index_missed_is_applied_from_the_remote() {
    let a = Env::init();
    shared_history(&a);
    let remote = a.path("shared").to_string_lossy().into_owned();
    a.ok(&["remote", "add", "origin", &remote]);
    a.ok(&["push"]);
    let b = Env::new();
    b.ok(&["clone", &remote, "."]);
    a.write("d/more.bin", noise(400_000, 13));
    a.ok(&["log", "ds", "d"]);
    a.ok(&["push"]);
    // What the killed pull left: the remote's batch 7 in b's log, the index unaware.
    let next = crate::util::files_in(&b.path(".artifacts/log"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.to_string_lossy().contains("checkpoint"))
        .count()
        + 1;
    std::fs::copy(
        a.path("shared/log/00000000000000000007.json"),
        b.path(&format!(".artifacts/log/{next:020}.json")),
    )
    .expect("place the batch");
    let versions = b.json(&["versions", "ds"]);
    assert_eq!(versions.as_array().map(Vec::len), Some(2), "{versions}");
    b.ok(&["checkout", "ds:v1", "restored"]);
    assert_eq!(b.read_tree("restored"), a.read_tree("d"));
    assert!(b.ok(&["pull"]).contains("up to date"));
    assert!(b.ok(&["fsck"]).contains(": ok"));
}

/// `pull --data` brings the data of live versions home: afterwards the remote can vanish
/// and checkouts still work, fetching nothing.
#[test]
fn pull_data_makes_checkouts_work_offline() {
    let a = Env::init();
    let trees = two_versions(&a);
    a.write("other/o.bin", noise(100_000, 31));
    a.ok(&["log", "other", "other"]);
    let remote = a.path("shared").to_string_lossy().into_owned();
    a.ok(&["remote", "add", "origin", &remote]);
    a.ok(&["push"]);
    let b = Env::in_dir(assert_fs::TempDir::new().expect("dir"));
    b.ok(&["clone", &remote, "."]);
    assert_eq!(b.pack_bytes(), 0);
    let err = b.fails(&["pull", "origin", "--data", "nope"], 1);
    assert!(err.contains("nope"), "{err}");
    let out = b.json(&["pull", "origin", "--data", "m"]);
    assert!(out["data"]["packs"].as_u64() > Some(0), "{out}");
    assert_eq!(
        b.pack_bytes(),
        out["data"]["bytes"].as_u64().expect("bytes")
    );
    assert_eq!(
        b.json(&["pull", "origin", "--data", "m"])["data"]["packs"],
        0,
        "nothing twice"
    );
    std::fs::rename(a.path("shared"), a.path("gone")).expect("take the remote away");
    assert_eq!(check_restores(&b, &trees), 0, "nothing fetched");
    let err = b.fails(&["checkout", "other", "o"], 1);
    assert!(
        err.contains("remote `origin`: directory") && err.contains("shared` does not exist"),
        "{err}"
    );
    assert!(b.ok(&["fsck", "--read-data"]).contains(": ok"));
}

/// Two stores log and push to one remote in turns without coordinating, pulling (and so
/// merging) whenever a push is refused; afterwards every version either reported pushed is
/// on the remote with the content it was logged with.
#[test]
fn racing_pushers_lose_nothing() {
    let remote_env = Env::new();
    let remote = remote_env.path("shared").to_string_lossy().into_owned();
    let a = Env::init();
    a.ok(&["remote", "add", "origin", &remote]);
    let b = Env::init();
    b.ok(&["remote", "add", "origin", &remote]);
    let mut logged: Vec<(String, BTreeMap<String, Vec<u8>>)> = Vec::new();
    for round in 0..6u64 {
        for (who, env) in [("a", &a), ("b", &b)] {
            env.write(
                &format!("d/{who}-{round}.bin"),
                noise(20_000, round * 2 + u64::from(who == "b")),
            );
            let out = env.json(&["log", "ds", "d"]);
            let digest = out["digest"].as_str().expect("digest").to_owned();
            logged.push((digest, env.read_tree("d")));
        }
        // Push both at once: one wins each log number, the other is refused and merges.
        let pushes: Vec<_> = [&a, &b]
            .iter()
            .map(|env| {
                env.std_command()
                    .args(["push", "--quiet"])
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let statuses: Vec<_> = pushes
            .into_iter()
            .map(|mut child| child.wait().expect("wait"))
            .collect();
        for (status, env) in statuses.into_iter().zip([&a, &b]) {
            if !status.success() {
                assert_eq!(status.code(), Some(3), "a refused push exits 3");
                env.ok(&["pull"]);
                env.ok(&["push"]);
            }
        }
    }
    a.ok(&["pull"]);
    b.ok(&["pull"]);
    let c = Env::in_dir(assert_fs::TempDir::new().expect("dir"));
    c.ok(&["clone", &remote, "."]);
    let versions = c.json(&["versions", "ds"]);
    let versions = versions.as_array().expect("versions");
    assert_eq!(
        versions.len(),
        logged.len(),
        "every version logged is there once"
    );
    for (digest, tree) in &logged {
        let dest = format!("out-{}", &digest[..12]);
        c.ok(&["checkout", &format!("ds@{}", &digest[..12]), &dest]);
        assert_eq!(&c.read_tree(&dest), tree);
    }
    assert_eq!(
        recorded_state_of(&a, &["ds"]),
        recorded_state_of(&c, &["ds"])
    );
    assert!(c.ok(&["fsck", "--remote", "origin"]).contains(": ok"));
}

/// A log of more than 1,000 batches (past the first page of an S3 listing) pushes, clones
/// and pulls whole; the batches read from the remote are cached, and a cached copy whose
/// size no longer matches the listing is read again.
#[test]
fn a_log_past_one_listing_page_clones_and_is_cached() {
    let (server, a) = store_on_s3("long-log");
    a.write("d/x.txt", "x\n");
    let logged = a.json(&["log", "ds", "d"]);
    // 1,020 metadata changes written straight into the log; the next command applies them.
    let log = a.path(".artifacts/log");
    let batch: serde_json::Value =
        serde_json::from_slice(&std::fs::read(log.join(format!("{:020}.json", 1))).expect("read"))
            .expect("batch");
    let record = batch["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["op"] == "version")
        .expect("the version record")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let first = crate::util::files_in(&log).len() as u64 + 1;
    for i in 0..1020i64 {
        let batch = serde_json::json!({
            "format": 1,
            "id": format!("01JAAAAAAAAAAAAAAAA{i:07}"),
            "time": 1_700_000_000_000_i64 + i,
            "entries": [{"op": "meta", "version": record, "description": format!("step {i}"), "metadata": {}}],
        });
        std::fs::write(
            log.join(format!("{:020}.json", first + i.unsigned_abs())),
            batch.to_string(),
        )
        .expect("write batch");
    }
    assert_eq!(a.json(&["show", "ds"])["description"], "step 1019");
    assert_eq!(a.json(&["push"])["batches_uploaded"], 1021);
    let listed = server.object_path("log");
    assert_eq!(crate::util::files_in(&listed).len(), 1021);

    let b = Env::new();
    b.set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
    b.set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    b.ok(&[
        "clone",
        "s3://long-log",
        "--endpoint",
        &server.endpoint(),
        "--allow-http",
    ]);
    assert_eq!(b.json(&["show", "ds"])["description"], "step 1019");
    assert_eq!(b.json(&["show", "ds"])["digest"], logged["digest"]);
    let cached: Vec<_> = crate::util::files_in(&b.path(".artifacts/remotes"));
    assert_eq!(cached.len(), 1021, "every batch read is cached");
    // A cached copy that disagrees with the listing is fetched again.
    std::fs::write(&cached[0], b"{}").expect("damage the cache");
    assert!(b.ok(&["pull"]).contains("up to date"));
    assert_ne!(std::fs::read(&cached[0]).expect("read"), b"{}");
    a.ok(&["meta", "set", "ds", "-m", "last"]);
    a.ok(&["push"]);
    assert_eq!(b.json(&["pull"])["batches"], 1);
    assert_eq!(b.json(&["show", "ds"])["description"], "last");
    assert!(b.ok(&["fsck"]).contains(": ok"));
}

/// A remote batch recording a version whose manifest no pack holds (crafted, or a push that
/// lost its packs) is refused by a clone and by a pull that would merge, before anything is
/// applied.
#[test]
fn a_remote_version_without_content_is_refused() {
    let a = Env::init();
    a.write("d/x.txt", "x\n");
    a.ok(&["log", "ds", "d"]);
    a.ok(&["remote", "add", "origin", "shared"]);
    a.ok(&["push"]);
    let b = Env::in_dir(assert_fs::TempDir::new().expect("dir"));
    let remote = a.path("shared").to_string_lossy().into_owned();
    b.ok(&["clone", &remote, "."]);
    b.write("d/y.txt", "y\n");
    b.ok(&["log", "ds", "d"]);
    // What the store holds (the cache of the remote's batches aside).
    let snapshot = |env: &Env| {
        let mut s = env.store_snapshot();
        s.retain(|k, _| !k.starts_with("remotes/"));
        s
    };
    let before = snapshot(&b);

    // The crafted batch: A's version record again, as ds:v1, naming a manifest nobody has.
    let first = a.path("shared/log/00000000000000000001.json");
    let mut batch: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first).expect("read")).expect("batch");
    batch["id"] = "01JZZZZZZZZZZZZZZZZZZZZZZZ".into();
    let entries = batch["entries"].as_array_mut().expect("entries");
    entries.retain(|e| e["op"] == "version");
    entries[0]["id"] = "01JZZZZZZZZZZZZZZZZZZZZZZY".into();
    entries[0]["number"] = 1.into();
    entries[0]["digest"] = "ab".repeat(32).into();
    std::fs::write(
        a.path("shared/log/00000000000000000002.json"),
        batch.to_string(),
    )
    .expect("write");

    let err = a.fails(&["clone", &remote, "c"], 1);
    assert!(err.contains("which no pack holds"), "{err}");
    assert!(!a.path("c/.artifacts").exists());
    let err = b.fails(&["pull"], 1);
    assert!(
        err.contains("records ds:v1 with manifest abababab"),
        "{err}"
    );
    assert_eq!(snapshot(&b), before, "nothing changed");
    assert!(b.ok(&["fsck"]).contains(": ok"));
}

/// A second remote gets everything, the packs evicted here too (copied from the first),
/// so a clone of it restores every version.
#[test]
fn pushing_to_a_second_remote_copies_evicted_packs_through() {
    let env = Env::init();
    let trees = two_versions(&env);
    let stored = env.pack_bytes();
    std::fs::create_dir(env.path("r1")).expect("mkdir");
    std::fs::create_dir(env.path("r2")).expect("mkdir");
    env.ok(&["remote", "add", "first", "r1/art"]);
    env.ok(&["remote", "add", "second", "r2/art"]);
    env.ok(&["push", "first"]);
    env.ok(&["gc", "--max", "0"]);
    assert_eq!(env.pack_bytes(), 0);
    let out = env.json(&["push", "second"]);
    assert_eq!(out["bytes_uploaded"], stored, "{out}");
    assert_eq!(
        env.pack_bytes(),
        0,
        "nothing came back to the store on the way"
    );
    let du = env.json(&["du"]);
    assert_eq!(du["remotes"][1]["bytes"], stored, "{du}");
    std::fs::rename(env.path("r1"), env.path("r1-gone")).expect("take the first away");
    let clone = Env::in_dir(assert_fs::TempDir::new().expect("dir"));
    clone.ok(&["clone", &env.path("r2/art").to_string_lossy()]);
    check_restores(&clone, &trees);
    assert!(
        env.ok(&["fsck", "--remote", "second", "--read-data"])
            .contains(": ok")
    );
}
