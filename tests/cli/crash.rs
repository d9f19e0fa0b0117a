//! Crash safety: `art log` and `art checkout` killed with SIGKILL at points spread over their
//! run time (measured at run time, not hard-coded) leave a store that fsck accepts, versions
//! that are complete, and destinations without partial files under final names.

use crate::util::xof_bytes as bytes;
use crate::util::{Env, read_tree};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIG_FILES: usize = 40;
const BIG_SIZE: usize = 3 << 19; // 1.5 MiB: chunked
const SMALL_FILES: usize = 300;
/// Where the kills land, as fractions of a measured full run.
const FRACTIONS: [f64; 8] = [0.0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0];
const SIGKILL: i32 = 9;

/// Writes variant `k` of the tree into `data/` (from scratch, so every file is new to the stat
/// cache and a log reads everything): all big files differ between variants, some small files
/// differ, a tenth are missing, one extra file, executable bits and a symlink.
fn write_variant(env: &Env, k: usize) {
    use std::os::unix::fs::PermissionsExt;
    let data = env.path("data");
    if data.exists() {
        std::fs::remove_dir_all(&data).expect("clear data");
    }
    for i in 0..BIG_FILES {
        env.write(
            &format!("data/big/{i:02}.bin"),
            bytes(BIG_SIZE, &format!("big {k} {i}")),
        );
    }
    for j in 0..SMALL_FILES {
        if k > 0 && j % 10 == k % 10 {
            continue;
        }
        let text = if j % 3 == 0 {
            format!("variant {k} file {j}\n")
        } else {
            format!("stable file {j}\n")
        };
        let rel = format!("data/small/{:02}/{j:03}.txt", j / 25);
        env.write(&rel, text.repeat(j + 1));
        if j % 7 == 0 {
            std::fs::set_permissions(env.path(&rel), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
    }
    env.write(&format!("data/extra/{k}.txt"), format!("extra {k}\n"));
    std::os::unix::fs::symlink("big/00.bin", env.path("data/first")).expect("symlink");
}

/// Per path (with read_tree's markers), the BLAKE3 of the content: cheap to keep around.
fn hashes(tree: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, String> {
    tree.into_iter()
        .map(|(k, v)| (k, blake3::hash(&v).to_hex().to_string()))
        .collect()
}

/// `art` as a child process, with the same clean environment as the harness.
fn spawn_art(env: &Env, args: &[&str]) -> std::process::Child {
    env.std_command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn art")
}

/// Runs `args`, SIGKILLs it after `delay` (if still running); true when the kill landed.
fn kill_after(env: &Env, args: &[&str], delay: Duration) -> bool {
    let mut child = spawn_art(env, args);
    std::thread::sleep(delay);
    // On an exited child this only reaps; `wait` reports how it ended either way.
    let _ = child.kill();
    let status: ExitStatus = child.wait().expect("wait for art");
    if status.signal() == Some(SIGKILL) {
        return true;
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    assert!(
        status.success(),
        "art {args:?} ended with {status:?} without being killed:\n{stderr}"
    );
    false
}

/// Asserts that fsck (reading every blob) finds no problem; notes are allowed.
fn assert_fsck_ok(env: &Env, when: &str) {
    let out = env.json(&["fsck", "--read-data"]);
    let problems = out["problems"].as_array().expect("problems");
    assert!(problems.is_empty(), "{when}: fsck problems: {problems:?}");
}

fn version_numbers(env: &Env) -> Vec<u64> {
    env.json(&["versions", "p"])
        .as_array()
        .expect("versions list")
        .iter()
        .map(|v| v["version"].as_u64().expect("version number"))
        .collect()
}

/// Checks out `reference` into a fresh directory and returns its per-file hashes.
fn checkout_fresh(env: &Env, reference: &str, dir: &str) -> BTreeMap<String, String> {
    env.ok(&["checkout", reference, dir]);
    let got = hashes(env.read_tree(dir));
    std::fs::remove_dir_all(env.path(dir)).expect("remove checkout");
    got
}

#[test]
fn killed_log_leaves_a_consistent_store() {
    let env = Env::init();
    write_variant(&env, 0);
    let mut variants = vec![hashes(env.read_tree("data"))];
    let started = Instant::now();
    env.ok(&["log", "p", "data"]);
    let full = started.elapsed();
    // Version number → the variant it holds; each later version must hold a later variant.
    let mut seen: BTreeMap<u64, usize> = BTreeMap::from([(0, 0)]);
    let mut killed = 0;
    for (n, fraction) in FRACTIONS.iter().enumerate() {
        let k = n + 1;
        write_variant(&env, k);
        variants.push(hashes(env.read_tree("data")));
        let delay = full.mul_f64(*fraction);
        if kill_after(&env, &["log", "p", "data"], delay) {
            killed += 1;
        }
        let when = format!("after a kill at {delay:?} of {full:?}");
        assert_fsck_ok(&env, &when);
        assert!(
            checkout_fresh(&env, "p:v0", &format!("check/v0-{k}")) == variants[0],
            "{when}: p:v0 no longer checks out as logged"
        );
        for v in version_numbers(&env) {
            if seen.contains_key(&v) {
                continue;
            }
            let got = checkout_fresh(&env, &format!("p:v{v}"), &format!("check/v{v}"));
            let which = variants
                .iter()
                .position(|t| *t == got)
                .unwrap_or_else(|| panic!("{when}: p:v{v} matches no tree that was logged"));
            let (last_v, last_k) = seen.last_key_value().map(|(a, b)| (*a, *b)).expect("v0");
            assert!(
                which > last_k,
                "{when}: p:v{v} holds variant {which}, not newer than p:v{last_v} (variant {last_k})"
            );
            seen.insert(v, which);
        }
    }
    assert!(killed > 0, "no run of `art log` was killed before it ended");
    eprintln!(
        "{killed} of {} logs killed; versions hold variants {seen:?}",
        FRACTIONS.len()
    );

    // A normal log afterwards records the current tree, and the store stays sound.
    let out = env.json(&["log", "p", "data"]);
    let reference = out["reference"].as_str().expect("reference").to_owned();
    assert_eq!(
        checkout_fresh(&env, &reference, "check/final"),
        variants[FRACTIONS.len()]
    );
    assert_fsck_ok(&env, "after the final log");
}

/// Files under their final names in `dir` (temp files aside) each hold one of the versions'
/// content for that path; returns how many temp files were found.
fn assert_no_partial_files(
    dir: &Path,
    v0: &BTreeMap<String, String>,
    v1: &BTreeMap<String, String>,
    when: &str,
) -> usize {
    let mut temps = 0;
    for (path, hash) in hashes(read_tree(dir)) {
        let name = path.rsplit('/').next().expect("file name");
        if name.starts_with(".art-tmp-") {
            temps += 1;
            continue;
        }
        assert!(
            v0.get(&path) == Some(&hash) || v1.get(&path) == Some(&hash),
            "{when}: `{path}` holds neither version's content"
        );
    }
    temps
}

#[test]
fn killed_checkout_leaves_no_partial_files_and_reruns() {
    let env = Env::init();
    write_variant(&env, 0);
    let v0 = hashes(env.read_tree("data"));
    env.ok(&["log", "p", "data"]);
    write_variant(&env, 1);
    let v1 = hashes(env.read_tree("data"));
    env.ok(&["log", "p", "data"]);

    env.ok(&["checkout", "p:v0", "out"]);
    assert_eq!(hashes(env.read_tree("out")), v0);
    let started = Instant::now();
    env.ok(&["checkout", "p:v1", "out"]);
    let full = started.elapsed();
    assert_eq!(hashes(env.read_tree("out")), v1);
    env.ok(&["checkout", "p:v0", "out"]);

    let mut killed = 0;
    let mut temps_seen = 0;
    let mut refusals = 0;
    for (n, fraction) in FRACTIONS.iter().enumerate() {
        let delay = full.mul_f64(*fraction);
        if kill_after(&env, &["checkout", "p:v1", "out"], delay) {
            killed += 1;
        }
        let when = format!("after a kill at {delay:?} of {full:?}");
        temps_seen += assert_no_partial_files(&env.path("out"), &v0, &v1, &when);
        if n % 2 == 0 {
            // Running the same checkout again finishes the job (leftover temp files included)
            // without --force: everything in `out` was written by art.
            env.ok(&["checkout", "p:v1", "out"]);
            assert!(
                hashes(env.read_tree("out")) == v1,
                "{when}: re-run did not leave exactly p:v1"
            );
        } else {
            // Going back instead: the killed run never recorded what it wrote, so art may
            // refuse to overwrite those files; it must then name only files holding p:v1
            // content, and --force goes through.
            let out = env
                .art()
                .args(["checkout", "p:v0", "out"])
                .output()
                .expect("run art");
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(3), "{when}: {stderr}");
                refusals += 1;
                let now = hashes(env.read_tree("out"));
                for listed in stderr.lines().filter_map(|l| l.strip_prefix("  ")) {
                    if listed.starts_with('…') {
                        continue;
                    }
                    let holds_v1 = [listed.to_owned(), format!("{listed}*")]
                        .iter()
                        .any(|k| now.get(k).is_some_and(|h| v1.get(k) == Some(h)));
                    assert!(holds_v1, "{when}: refused over `{listed}`\n{stderr}");
                }
                env.ok(&["checkout", "--force", "p:v0", "out"]);
            }
        }
        env.ok(&["checkout", "p:v0", "out"]);
        assert!(
            hashes(env.read_tree("out")) == v0,
            "{when}: checking p:v0 out again did not leave exactly p:v0"
        );
        assert_fsck_ok(&env, &when);
    }
    assert!(
        killed > 0,
        "no run of `art checkout` was killed before it ended"
    );
    eprintln!(
        "{killed} checkouts killed, {temps_seen} temp files left behind, \
         {refusals} refusals to go back"
    );
}

/// What a killed checkout leaves, made by hand: temporary files (and a temporary symlink) are
/// neither logged nor conflicts, and the next checkout removes them.
#[test]
fn leftover_temp_files_are_ignored_and_cleaned() {
    let env = Env::init();
    env.tree(&[("data/a.txt", b"a\n"), ("data/sub/b.txt", b"b\n")]);
    env.write("data/.art-tmp-Xy12Zq", "half a file");
    let out = env.json(&["log", "p", "data"]);
    assert_eq!(out["files"], 2, "{out}");

    env.ok(&["checkout", "p:v0", "out"]);
    env.write("out/sub/.art-tmp-AbC123", "half a file");
    env.write("out/gone/.art-tmp-QwErTy", "in a directory of its own");
    std::os::unix::fs::symlink("a.txt", env.path("out/.art-tmp-link-1-0")).expect("symlink");
    env.ok(&["checkout", "p:v0", "out"]);
    assert_eq!(
        env.read_tree("out"),
        env.read_tree("data")
            .into_iter()
            .filter(|(k, _)| !k.contains(".art-tmp-"))
            .collect()
    );
    assert!(!env.path("out/gone").exists(), "emptied directory pruned");
}
