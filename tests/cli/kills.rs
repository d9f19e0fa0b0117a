//! Kill -9 at seeded random moments (issue 13): `log`, `checkout`, `gc` with repack, `push`
//! and `pull`, 50 trials each, on trees large enough that most kills land mid-operation.
//! A kill "lands mid-operation" when it ends the process after its start-up (the time a
//! no-op command takes on the same store) and before it finished; each test asserts that most
//! do and reports the count. After each kill: fsck is clean (it compares the index with a
//! replay of the log), and the command runs again to completion. Versions committed by then
//! restore as logged, and at the end the index answers as a rebuild does.

use crate::records::{assert_same, rebuilt_state, state};
use crate::reliability::{Report, hashes, restored};
use crate::util::{Env, Rng, xof_bytes as bytes};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

const TRIALS: usize = 50;

/// `files` files of `size` bytes under `dir`: file `i` holds generation `gens[i]`.
fn write_files(env: &Env, dir: &str, size: usize, gens: &[u64]) {
    for (i, g) in gens.iter().enumerate() {
        env.write(
            &format!("{dir}/{i:03}.bin"),
            bytes(size, &format!("{i} {g}")),
        );
    }
    env.write(&format!("{dir}/gens.txt"), format!("{gens:?}"));
}

/// How one killed run ended.
struct Kill {
    /// Killed after start-up, before it finished.
    mid: bool,
    /// It ended before the kill.
    finished: bool,
}

/// Runs `args` in `env`, SIGKILLs it after `delay` unless it ended.
fn kill_after(env: &Env, args: &[&str], delay: Duration, startup: Duration) -> Kill {
    let mut child = env
        .std_command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn art");
    std::thread::sleep(delay);
    let _ = child.kill();
    let status = child.wait().expect("wait for art");
    if status.signal() == Some(9) {
        return Kill {
            mid: delay >= startup,
            finished: false,
        };
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    assert!(
        status.success(),
        "art {args:?} ended with {status:?} without being killed:\n{stderr}"
    );
    Kill {
        mid: false,
        finished: true,
    }
}

/// How long `args` takes to run to completion (it must succeed).
fn timed(env: &Env, args: &[&str]) -> Duration {
    let started = Instant::now();
    env.ok(args);
    started.elapsed()
}

/// A random delay between start-up and 90% of the measured run: the window in which the
/// command does its work (a run may be a little faster than the measured one).
fn delay(rng: &mut Rng, full: Duration, startup: Duration) -> Duration {
    let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    let end = micros(full.mul_f64(0.9)).max(micros(startup) + 1);
    Duration::from_micros(micros(startup) + rng.below(end - micros(startup)))
}

/// The measured run time, shortened when a run ended before its kill: on a loaded machine
/// the first measure may be slow, and the kill window follows the runs seen since.
fn shorter(full: Duration, k: &Kill, delay: Duration) -> Duration {
    if k.finished { full.min(delay) } else { full }
}

fn fsck_clean(env: &Env, read_data: bool, when: &str) {
    let args: &[&str] = if read_data {
        &["fsck", "--read-data"]
    } else {
        &["fsck"]
    };
    let out = env.json(args);
    let problems = out["problems"].as_array().expect("problems");
    assert!(problems.is_empty(), "{when}: fsck problems: {problems:?}");
}

fn version_count(env: &Env) -> usize {
    env.json(&["versions", "m"])
        .as_array()
        .expect("versions")
        .len()
}

/// A no-op command's time on this store: kills before it land in start-up.
fn startup(env: &Env) -> Duration {
    (0..3)
        .map(|_| timed(env, &["ls", "-q"]))
        .min()
        .expect("three runs")
}

/// The end of every scenario: the index equals a rebuild, and the report is written after
/// asserting that most kills landed mid-operation.
fn finish(env: &Env, report: Report, label: &str) {
    assert_same(
        &state(env, &env.path(".artifacts")),
        &rebuilt_state(env, "rebuilt-copy"),
        label,
    );
    fsck_clean(env, true, label);
    assert!(
        report.landed() * 2 > TRIALS as u64,
        "{label}: only {} of {TRIALS} kills landed mid-operation",
        report.landed()
    );
    report.finish();
}

const BIG: usize = 1 << 20;
const FILES: usize = 24;

#[test]
fn kills_during_log() {
    let env = Env::init();
    let mut gens = vec![0u64; FILES];
    write_files(&env, "d", BIG, &gens);
    env.ok(&["log", "m", "d", "-q"]);
    let mut trees = vec![hashes(env.read_tree("d"))];
    let startup = startup(&env);
    let mut rng = Rng(0x5eed_1065);
    let mut report = Report::new("kill -9: log (24 MiB, all files new)");
    let mut full = Duration::ZERO;
    for t in 1..=TRIALS + 1 {
        gens.fill(t as u64);
        write_files(&env, "d", BIG, &gens);
        trees.push(hashes(env.read_tree("d")));
        if t == 1 {
            // The first run is measured, not killed.
            full = timed(&env, &["log", "m", "d", "-q"]);
            continue;
        }
        let before = version_count(&env);
        let d = delay(&mut rng, full, startup);
        let k = kill_after(&env, &["log", "m", "d", "-q"], d, startup);
        full = shorter(full, &k, d);
        report.trial(k.mid);
        let when = format!("log killed after {d:?} of {full:?} (trial {t})");
        fsck_clean(&env, t % 10 == 0, &when);
        let after = version_count(&env);
        assert!(
            after == before || after == before + 1,
            "{when}: {before} -> {after}"
        );
        if after > before {
            // Committed before the kill: it holds this trial's tree.
            assert!(
                restored(&env, "m:latest") == trees[t],
                "{when}: the new version is not the tree logged"
            );
        }
        // Running it again records the tree (or finds it unchanged).
        env.ok(&["log", "m", "d", "-q"]);
        if t % 10 == 0 {
            assert!(
                restored(&env, "m:latest") == trees[t],
                "{when}: after the re-run"
            );
            assert!(restored(&env, "m:v0") == trees[0], "{when}: m:v0");
        }
    }
    finish(&env, report, "log");
}

#[test]
fn kills_during_checkout() {
    let env = Env::init();
    write_files(&env, "d", BIG, &[0; FILES]);
    env.ok(&["log", "m", "d", "-q"]);
    let v0 = hashes(env.read_tree("d"));
    write_files(&env, "d", BIG, &[1; FILES]);
    env.ok(&["log", "m", "d", "-q"]);
    let v1 = hashes(env.read_tree("d"));
    env.ok(&["checkout", "m:v0", "out", "-q"]);
    let mut full = timed(&env, &["checkout", "m:v1", "out", "-q"]);
    let startup = startup(&env);
    let mut rng = Rng(0x000c_4ec0_u64);
    let mut report = Report::new("kill -9: checkout (24 MiB, every file differs)");
    let mut temps = 0;
    for t in 1..=TRIALS + 1 {
        let (target, want) = if t % 2 == 0 {
            ("m:v1", &v1)
        } else {
            ("m:v0", &v0)
        };
        let d = delay(&mut rng, full, startup);
        let k = kill_after(&env, &["checkout", target, "out", "-q"], d, startup);
        full = shorter(full, &k, d);
        report.trial(k.mid);
        let when = format!("checkout {target} killed after {d:?} of {full:?} (trial {t})");
        for (path, hash) in hashes(env.read_tree("out")) {
            if path
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(".art-tmp-"))
            {
                temps += 1;
                continue;
            }
            assert!(
                v0.get(&path) == Some(&hash) || v1.get(&path) == Some(&hash),
                "{when}: `out/{path}` holds neither version"
            );
        }
        // Everything in `out` was written by art: the same checkout finishes without --force.
        env.ok(&["checkout", target, "out", "-q"]);
        assert!(hashes(env.read_tree("out")) == *want, "{when}: re-run");
        if t % 10 == 0 {
            fsck_clean(&env, false, &when);
        }
    }
    report.note(format!(
        "{temps} temporary files left, removed by the re-run"
    ));
    finish(&env, report, "checkout");
}

#[test]
fn kills_during_gc_repack() {
    const SIZE: usize = 400_000;
    let env = Env::init();
    env.ok(&["config", "set", "store.pack_size", "1MiB"]);
    // Any pack holding a dead blob is repacked.
    env.ok(&["config", "set", "gc.repack_threshold", "1"]);
    let mut gens = vec![0u64; 40];
    write_files(&env, "d", SIZE, &gens);
    env.ok(&["log", "m", "d", "-q"]);
    let startup = startup(&env);
    let mut rng = Rng(0x9c_0123);
    let mut report = Report::new("kill -9: gc --grace 0s repacking (16 MiB, half dead)");
    let mut full = Duration::ZERO;
    let mut tree;
    for t in 1..=TRIALS + 1 {
        // Half the files change: most packs then hold dead blobs beside live ones.
        for (i, g) in gens.iter_mut().enumerate() {
            if (i + t) % 2 == 0 {
                *g = t as u64;
            }
        }
        write_files(&env, "d", SIZE, &gens);
        env.ok(&["log", "m", "d", "-q"]);
        tree = hashes(env.read_tree("d"));
        env.ok(&["rm", &format!("m:v{}", t - 1), "-q"]);
        let args = ["gc", "--grace", "0s", "-q"];
        if t == 1 {
            full = timed(&env, &args);
            continue;
        }
        let d = delay(&mut rng, full, startup);
        let k = kill_after(&env, &args, d, startup);
        full = shorter(full, &k, d);
        report.trial(k.mid);
        let when = format!("gc killed after {d:?} of {full:?} (trial {t})");
        fsck_clean(&env, t % 10 == 0, &when);
        if t % 5 == 0 {
            assert!(restored(&env, "m:latest") == tree, "{when}: m:latest");
        }
        let out = env.json(&["gc", "--grace", "0s"]);
        assert!(out["freed"].is_u64(), "{when}: {out}");
    }
    finish(&env, report, "gc");
}

#[test]
fn kills_during_push() {
    let env = Env::init();
    env.ok(&["config", "set", "store.pack_size", "1MiB"]);
    env.ok(&["remote", "add", "origin", "remote"]);
    let mut gens = vec![0u64; 16];
    write_files(&env, "d", BIG, &gens);
    env.ok(&["log", "m", "d", "-q"]);
    env.ok(&["push", "-q"]);
    let startup = startup(&env);
    let mut rng = Rng(0x9054);
    let mut report = Report::new("kill -9: push (16 MiB of new packs per trial)");
    let mut full = Duration::ZERO;
    let mut trees = vec![hashes(env.read_tree("d"))];
    for t in 1..=TRIALS + 1 {
        gens.fill(t as u64);
        write_files(&env, "d", BIG, &gens);
        env.ok(&["log", "m", "d", "-q"]);
        trees.push(hashes(env.read_tree("d")));
        if t == 1 {
            full = timed(&env, &["push", "-q"]);
            continue;
        }
        let d = delay(&mut rng, full, startup);
        let k = kill_after(&env, &["push", "-q"], d, startup);
        full = shorter(full, &k, d);
        report.trial(k.mid);
        let when = format!("push killed after {d:?} of {full:?} (trial {t})");
        fsck_clean(&env, false, &when);
        let remote = env.json(&["fsck", "--remote", "origin"]);
        assert!(
            remote["problems"].as_array().is_some_and(Vec::is_empty),
            "{when}: {remote}"
        );
        env.ok(&["push", "-q"]);
        // The local store may drop its copies now: everything is on the remote.
        if t % 10 == 0 {
            let other = Env::new();
            let url = env.path("remote").to_string_lossy().into_owned();
            other.ok(&["clone", &url, ".", "-q"]);
            assert_eq!(version_count(&other), t + 1, "{when}");
            assert!(
                restored(&other, "m:latest") == trees[t],
                "{when}: from the remote"
            );
            assert!(
                restored(&other, "m:v0") == trees[0],
                "{when}: m:v0 from the remote"
            );
        }
    }
    let remote = env.json(&["fsck", "--remote", "origin", "--read-data"]);
    assert!(
        remote["problems"].as_array().is_some_and(Vec::is_empty),
        "{remote}"
    );
    finish(&env, report, "push");
}

#[test]
fn kills_during_pull() {
    let a = Env::init();
    a.ok(&["remote", "add", "origin", "remote"]);
    a.write("d/a.txt", "a0\n");
    a.ok(&["log", "m", "d", "-q"]);
    a.ok(&["push", "-q"]);
    let b = Env::new();
    let url = a.path("remote").to_string_lossy().into_owned();
    b.ok(&["clone", &url, ".", "-q"]);
    let startup = startup(&b);
    let mut rng = Rng(0x9011);
    let mut report = Report::new("kill -9: pull (6 batches per trial)");
    let mut full = Duration::ZERO;
    let mut files = 0;
    for t in 1..=TRIALS + 1 {
        // Many small batches: versions, aliases, metadata, a run.
        for j in 0..2 {
            files += 1;
            a.write(&format!("d/f{files}.txt"), format!("{t} {j}\n"));
            a.ok(&["log", "m", "d", "-q"]);
            a.ok(&["alias", "set", "m:latest", &format!("t{t}j{j}")]);
            a.ok(&["meta", "set", "m:latest", "-m", &format!("trial {t}")]);
        }
        a.ok(&["push", "-q"]);
        if t == 1 {
            full = timed(&b, &["pull", "-q"]);
            continue;
        }
        let d = delay(&mut rng, full, startup);
        let k = kill_after(&b, &["pull", "-q"], d, startup);
        full = shorter(full, &k, d);
        report.trial(k.mid);
        let when = format!("pull killed after {d:?} of {full:?} (trial {t})");
        fsck_clean(&b, false, &when);
        b.ok(&["pull", "-q"]);
        assert_eq!(
            b.json(&["versions", "m"]),
            a.json(&["versions", "m"]),
            "{when}: the clone has the remote's history"
        );
        if t % 10 == 0 {
            assert!(
                restored(&b, "m:latest") == hashes(a.read_tree("d")),
                "{when}: pulled version restores"
            );
        }
    }
    finish(&b, report, "pull");
}
