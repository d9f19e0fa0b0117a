//! References to bucket objects (issue 15): `art log --ref s3://…` pins an object by ETag,
//! size and, in a versioned bucket, its version id; a prefix expands to its objects; checkout
//! fetches the pinned object or names what changed. Against s3s-fs in process and moto (whose
//! buckets keep versions); URIs of schemes art cannot read are recorded only by URI.

use crate::s3::{ACCESS_KEY, MotoServer, S3Server, SECRET_KEY};
use crate::util::Env;

/// A store whose `art` runs reach the S3 server at `endpoint`, as a user configures it.
fn on_server(endpoint: &str, key: &str, secret: &str) -> Env {
    let env = Env::init();
    env.set_var("AWS_ACCESS_KEY_ID", key);
    env.set_var("AWS_SECRET_ACCESS_KEY", secret);
    env.set_var("AWS_ENDPOINT_URL", endpoint);
    env.set_var("AWS_ALLOW_HTTP", "true");
    env
}

/// `(path, uri, pin)` of each entry of `ls REF --json`.
fn listed(env: &Env, reference: &str) -> Vec<(String, String, String)> {
    env.json(&["ls", reference])
        .as_array()
        .expect("array")
        .iter()
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (text("path"), text("uri"), text("pin"))
        })
        .collect()
}

/// Runs `art` expecting exit 1; its stdout (which must be empty) is checked, stderr returned.
fn fails_silently(env: &Env, args: &[&str]) -> String {
    let out = env.art().args(args).output().expect("run art");
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    assert!(out.stdout.is_empty(), "nothing printed: {:?}", out.stdout);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn s3_references_pin_expand_restore_and_name_changes() {
    let server = S3Server::start("lake");
    let put = |key: &str, bytes: &[u8]| {
        let path = server.object_path(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("put object");
    };
    put("data/imgs/1.png", b"one");
    put("data/imgs/2.png", b"two");
    put("data/w.bin", b"weights");
    let env = on_server(&server.endpoint(), ACCESS_KEY, SECRET_KEY);
    env.write("d/local.txt", "local");
    let log = [
        "log",
        "ds",
        "d",
        "--ref",
        "s3://lake/data/imgs/",
        "--ref",
        "s3://lake/data/w.bin=model/w.bin",
    ];
    let out = env.json(&log);
    assert_eq!(
        (out["files"].as_u64(), out["size"].as_u64()),
        (Some(4), Some(18))
    );
    assert!(env.ok(&log).contains("unchanged, still v0"));
    let entries = listed(&env, "ds");
    let paths: Vec<(&str, &str)> = entries
        .iter()
        .map(|(p, u, _)| (p.as_str(), u.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("imgs/1.png", "s3://lake/data/imgs/1.png"),
            ("imgs/2.png", "s3://lake/data/imgs/2.png"),
            ("local.txt", ""),
            ("model/w.bin", "s3://lake/data/w.bin"),
        ]
    );
    assert!(
        entries[3].2.starts_with("etag:\"") && !entries[3].2.contains("version:"),
        "{entries:?}"
    );
    assert_eq!(env.json(&["du"])["artifacts"][0]["referenced"], 13);

    let out = env.json(&["checkout", "ds", "out"]);
    assert_eq!(out["references"], 3, "{out}");
    let tree = env.read_tree("out");
    assert_eq!(
        (
            &tree["imgs/1.png"][..],
            &tree["imgs/2.png"][..],
            &tree["model/w.bin"][..]
        ),
        (&b"one"[..], &b"two"[..], &b"weights"[..])
    );
    // What checkout wrote is art's: a second one sees no conflict (a pinned object has no
    // content digest in the manifest, so it is fetched again).
    let again = env.json(&["checkout", "ds", "out"]);
    assert_eq!(
        (again["written"].as_u64(), again["unchanged"].as_u64()),
        (Some(3), Some(1))
    );
    env.ok(&["verify", "ds"]);
    assert_eq!(env.ok(&["cat", "ds", "model/w.bin"]), "weights");

    // Too many objects or none: one line, the store unchanged.
    let before = env.store_snapshot();
    let err = env.fails(
        &["log", "x", "--ref", "s3://lake/data/", "--max-objects", "2"],
        1,
    );
    assert!(
        err.contains(
            "reference `s3://lake/data/` holds at least 3 objects, more than --max-objects 2"
        ),
        "{err}"
    );
    let err = env.fails(&["log", "x", "--ref", "s3://lake/nope"], 1);
    assert!(err.contains("no such object"), "{err}");
    let out = env
        .art()
        .args(["log", "x", "--ref", "s3://lake/data/w.bin"])
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: cannot read `s3://lake/data/w.bin`: ")
            && err.trim_end().ends_with("check the credentials, endpoint and region in the environment (AWS_*, AZURE_STORAGE_*, GOOGLE_*)")
            && err.trim_end().lines().count() == 1,
        "{err}"
    );
    assert_eq!(env.store_snapshot(), before);

    // One object rewritten (same size), one deleted: both named, nothing written.
    put("data/imgs/2.png", b"TWO");
    std::fs::remove_file(server.object_path("data/w.bin")).expect("delete object");
    let err = fails_silently(&env, &["checkout", "ds:v0", "fresh"]);
    assert!(
        err.contains("2 reference(s) changed or vanished")
            && err.contains("`imgs/2.png` (s3://lake/data/imgs/2.png): changed (now etag:")
            && err.contains("`model/w.bin` (s3://lake/data/w.bin): vanished (no such object)"),
        "{err}"
    );
    assert!(!env.path("fresh").exists(), "nothing written");
    let verified = env.art().args(["verify", "ds:v0"]).output().expect("run");
    let text = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(verified.status.code(), Some(1), "{text}");
    assert!(
        text.contains("reference `imgs/2.png`") && text.contains("reference `model/w.bin`"),
        "{text}"
    );
    // cat reads without a HEAD first: the fetched object's ETag is checked before a byte is out.
    let err = fails_silently(&env, &["cat", "ds:v0", "imgs/2.png"]);
    assert!(err.contains("changed (now etag:"), "{err}");

    // The bucket as it is now is a new version.
    let out = env.json(&["log", "ds", "d", "--ref", "s3://lake/data/imgs/"]);
    assert_eq!(out["version"], 1);
    env.ok(&["checkout", "ds:v1", "out", "--force"]);
    assert_eq!(env.read_tree("out")["imgs/2.png"], b"TWO");
}

#[test]
fn s3_versioned_bucket_restores_the_pinned_version_through_moto() {
    let Some(moto) = MotoServer::start("versioned") else {
        return;
    };
    moto.boto(
        "s3.put_bucket_versioning(Bucket='versioned', VersioningConfiguration={'Status': 'Enabled'})\n\
         s3.create_bucket(Bucket='plain')\n\
         s3.put_object(Bucket='versioned', Key='model/w.bin', Body=b'weights v1')\n\
         s3.put_object(Bucket='versioned', Key='model/notes.txt', Body=b'notes')\n\
         s3.put_object(Bucket='versioned', Key='model/', Body=b'')\n\
         s3.put_object(Bucket='versioned', Key='model/empty/', Body=b'')\n\
         s3.put_object(Bucket='versioned', Key='model/_SUCCESS', Body=b'')\n\
         s3.put_object(Bucket='plain', Key='cfg.json', Body=b'{\"a\":1}')",
    );
    let env = on_server(&moto.endpoint, "moto", "moto");
    let log = [
        "log",
        "m",
        "--ref",
        "s3://versioned/model/",
        "--ref",
        "s3://plain/cfg.json",
    ];
    env.ok(&log);
    assert!(env.ok(&log).contains("unchanged, still v0"));
    // The console's folder markers `model/` and `model/empty/` are no files; an empty
    // object is.
    let entries = listed(&env, "m");
    let pins: Vec<(&str, bool)> = entries
        .iter()
        .map(|(p, _, pin)| (p.as_str(), pin.contains(" version:")))
        .collect();
    assert_eq!(
        pins,
        [
            ("cfg.json", false),
            ("model/_SUCCESS", true),
            ("model/notes.txt", true),
            ("model/w.bin", true)
        ]
    );

    // A key that names no object but prefixes some expands too, under the name given (moto
    // answers its HEAD with 404 as S3 does; s3s-fs, which keeps keys as files, with 500).
    env.ok(&["log", "weights", "--ref", "s3://versioned/model=w"]);
    let names: Vec<String> = listed(&env, "weights").into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["w/_SUCCESS", "w/notes.txt", "w/w.bin"]);

    // Overwritten (another size) and deleted in the versioned bucket: v0 still restores
    // exactly what was logged, from the pinned versions.
    moto.boto(
        "s3.put_object(Bucket='versioned', Key='model/w.bin', Body=b'weights v2, longer')\n\
         s3.delete_object(Bucket='versioned', Key='model/notes.txt')",
    );
    env.ok(&["verify", "m:v0"]);
    env.ok(&["checkout", "m:v0", "out"]);
    let tree = env.read_tree("out");
    assert_eq!(tree["model/w.bin"], b"weights v1");
    assert_eq!(tree["model/notes.txt"], b"notes");
    assert_eq!(env.ok(&["cat", "m:v0", "model/w.bin"]), "weights v1");
    let out = env.json(&log);
    assert_eq!(out["version"], 1, "the changed bucket is a new version");
    env.ok(&["checkout", "m:v1", "out2"]);
    let tree = env.read_tree("out2");
    assert_eq!(tree["model/w.bin"], b"weights v2, longer");
    assert!(!tree.contains_key("model/notes.txt"));

    // The unversioned bucket keeps no old bytes: an overwrite (same size) is named and
    // nothing is written; cat's GET is refused by If-Match; a deleted object is named.
    moto.boto("s3.put_object(Bucket='plain', Key='cfg.json', Body=b'{\"b\":2}')");
    let err = fails_silently(&env, &["checkout", "m:v1", "fresh"]);
    assert!(
        err.contains("`cfg.json` (s3://plain/cfg.json): changed (now etag:"),
        "{err}"
    );
    assert!(!env.path("fresh").exists(), "nothing written");
    let err = fails_silently(&env, &["cat", "m:v1", "cfg.json"]);
    assert!(err.contains("changed (its ETag is no longer \""), "{err}");
    moto.boto("s3.delete_object(Bucket='plain', Key='cfg.json')");
    let err = fails_silently(&env, &["download", "m:v1", "fresh"]);
    assert!(
        err.contains("`cfg.json` (s3://plain/cfg.json): vanished (no such object)"),
        "{err}"
    );
    assert!(!env.path("fresh").exists(), "nothing written");
}

#[test]
fn unknown_schemes_are_recorded_by_uri_only_and_never_fetched() {
    let env = Env::init();
    env.write("d/x.txt", "stored");
    let uri = "hdfs://nn/warehouse/t.parquet";
    let err = env.fails(&["log", "ds", "d", "--ref", uri], 1);
    assert!(
        err.contains("reference `hdfs://nn/warehouse/t.parquet`: scheme `hdfs` is not supported")
            && err.contains("--no-checksum records it by its URI alone"),
        "{err}"
    );
    let log = ["log", "ds", "d", "--ref", uri, "--no-checksum"];
    env.ok(&log);
    assert!(env.ok(&log).contains("unchanged, still v0"));
    assert!(
        env.ok(&["ls", "ds"])
            .contains("t.parquet <- hdfs://nn/warehouse/t.parquet (URI only)")
    );
    assert_eq!(
        listed(&env, "ds")[0],
        ("t.parquet".to_owned(), uri.to_owned(), "uri".to_owned())
    );
    // Another URI is another identity.
    let other = [
        "log",
        "ds",
        "d",
        "--ref",
        "hdfs://nn/warehouse/u.parquet",
        "--no-checksum",
    ];
    assert_eq!(env.json(&other)["version"], 1);
    env.ok(&["verify", "ds:v0"]);

    let err = fails_silently(&env, &["checkout", "ds:v0", "out"]);
    assert!(
        err.contains("1 reference(s) cannot be fetched")
            && err.contains("`t.parquet` (hdfs://nn/warehouse/t.parquet): recorded by URI alone"),
        "{err}"
    );
    assert!(!env.path("out").exists(), "nothing written");
    let out = env.json(&["checkout", "ds:v0", "out", "--skip-references"]);
    assert_eq!(
        (out["written"].as_u64(), out["not_selected"].as_u64()),
        (Some(1), Some(1))
    );
    let err = fails_silently(&env, &["cat", "ds:v0", "t.parquet"]);
    assert!(err.contains("cannot be fetched"), "{err}");
    let err = env.fails(&["log", "ds", "--ref", "hdfs://nn", "--no-checksum"], 1);
    assert!(
        err.contains("names no file; name it with URI=NAME"),
        "{err}"
    );
}

/// `az://` references against Azurite: the objects are the packs a push put there, so the
/// checkout must restore them byte for byte.
#[test]
fn az_references_through_azurite() {
    let Some(azurite) = crate::s3::Azurite::start("lake") else {
        return;
    };
    let env = Env::init();
    env.set_var("AZURE_STORAGE_ACCOUNT_NAME", crate::s3::AZURITE_ACCOUNT);
    env.set_var("AZURE_STORAGE_ACCOUNT_KEY", crate::s3::AZURITE_KEY);
    env.set_var("AZURE_STORAGE_ENDPOINT", &azurite.endpoint);
    env.set_var("AZURE_ALLOW_HTTP", "true");
    env.write("d/a.bin", crate::util::noise(300_000, 7));
    env.write("d/b.txt", "text");
    env.ok(&["log", "ds", "d"]);
    env.ok(&["remote", "add", "origin", "az://lake/team", "--allow-http"]);
    env.ok(&["push"]);
    let packs = env.read_tree(".artifacts/packs");
    assert!(!packs.is_empty());

    let log = ["log", "refs", "--ref", "az://lake/team/packs/"];
    env.ok(&log);
    assert!(env.ok(&log).contains("unchanged, still v0"));
    let out = env.json(&["checkout", "refs", "out"]);
    assert_eq!(out["references"].as_u64(), Some(packs.len() as u64));
    let restored: std::collections::BTreeMap<String, Vec<u8>> = env
        .read_tree("out")
        .into_iter()
        .map(|(k, v)| (k.trim_start_matches("packs/").to_owned(), v))
        .collect();
    assert_eq!(restored, packs);
    env.ok(&["verify", "refs"]);
    env.ok(&[
        "log",
        "fmt",
        "--ref",
        "az://lake/team/art-remote.json=f.json",
    ]);
    assert!(env.ok(&["cat", "fmt", "f.json"]).contains("\"format\""));
    let err = env.fails(&["log", "x", "--ref", "az://lake/none/"], 1);
    assert!(err.contains("no object under this prefix"), "{err}");
}
