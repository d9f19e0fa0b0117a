//! Full disk during `pull`, `clone` and `checkout` (issue 13; `log` is in review.rs): a
//! store or a DEST on a small tmpfs (mounted by the test, as root; skipped with a message
//! otherwise) fills while records, packs or files come in. The command fails with the OS's
//! reason on one line, leaves no version half there and none of its own debris, and once
//! space is freed the next command completes and restores byte for byte.

use crate::reliability::Report;
use crate::util::{Env, SmallDisk, files_under, fill, noise, read_tree};

/// A store with `m:v0` (3 MiB that do not compress) pushed to a directory remote; the
/// remote's path.
fn source() -> (Env, String) {
    let src = Env::init();
    src.write("d/a.bin", noise(3 << 20, 11));
    src.write("d/b.txt", "b\n");
    src.ok(&["log", "m", "d", "-q"]);
    let remote = src.path("remote").to_string_lossy().into_owned();
    src.ok(&["remote", "add", "origin", &remote]);
    src.ok(&["push", "-q"]);
    (src, remote)
}

/// The failure a full disk gives: the OS's reason, once, on one line.
fn no_space(err: &str) {
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn full_disk_fails_pull_and_clone_cleanly_and_the_next_pull_completes() {
    let env = Env::new();
    let Some(_disk) = SmallDisk::mount(&env.path("disk"), 8) else {
        return;
    };
    let (src, remote) = source();
    let work = Env::in_dir(assert_fs::TempDir::new_in(env.path("disk")).expect("dir on tmpfs"));
    let filler = env.path("disk/filler");

    // A clone that cannot be written leaves no store behind.
    fill(&filler);
    no_space(&work.fails(&["clone", &remote, "."], 1));
    assert!(
        !work.path(".artifacts").exists(),
        "the failed clone's store is removed"
    );
    std::fs::remove_file(&filler).expect("free space");
    work.ok(&["clone", &remote, ".", "-q"]);

    // Records that cannot be written: no new version, no debris.
    src.write("d/b.txt", "b2\n");
    src.ok(&["log", "m", "d", "-q"]);
    src.ok(&["push", "-q"]);
    let versions = work.ok(&["versions", "m"]);
    let log_before = files_under(&work.path(".artifacts/log"));
    fill(&filler);
    no_space(&work.fails(&["pull"], 1));
    std::fs::remove_file(&filler).expect("free space");
    assert_eq!(
        work.ok(&["versions", "m"]),
        versions,
        "no version half pulled"
    );
    assert_eq!(files_under(&work.path(".artifacts/log")), log_before);
    assert_eq!(
        files_under(&work.path(".artifacts/tmp")),
        Vec::<String>::new()
    );
    assert!(work.ok(&["fsck"]).contains(": ok"));
    work.ok(&["pull", "-q"]);
    assert!(work.ok(&["versions", "m"]).contains("v1"));

    // Packs that do not fit: none is kept half written, and the next pull brings them all.
    let packs_before = files_under(&work.path(".artifacts/packs"));
    let room = fill(&filler);
    std::fs::remove_file(&filler).expect("free space");
    // Leave 2 MiB: less than the 3 MiB pack `pull --data` downloads.
    std::fs::write(
        &filler,
        vec![0_u8; usize::try_from(room - (2 << 20)).expect("fits")],
    )
    .expect("filler");
    no_space(&work.fails(&["pull", "--data"], 1));
    assert_eq!(files_under(&work.path(".artifacts/packs")), packs_before);
    assert_eq!(
        files_under(&work.path(".artifacts/tmp")),
        Vec::<String>::new()
    );
    std::fs::remove_file(&filler).expect("free space");
    work.ok(&["pull", "--data", "-q"]);
    // The data is local now: the remote is not needed to restore it.
    std::fs::rename(&remote, src.path("remote.away")).expect("move remote away");
    work.ok(&["checkout", "m:v1", "out", "-q"]);
    assert_eq!(work.read_tree("out"), src.read_tree("d"));
    assert!(work.ok(&["fsck", "--read-data"]).contains(": ok"));
    let mut report = Report::new("full disk (8 MiB tmpfs): clone, pull, pull --data");
    for _ in 0..3 {
        report.trial(false);
    }
    report
        .note("each failed on one line, nothing half there, no debris; the next command completed");
    report.finish();
}

#[test]
fn full_disk_fails_checkout_cleanly_and_the_next_checkout_completes() {
    let env = Env::init();
    let Some(_disk) = SmallDisk::mount(&env.path("disk"), 4) else {
        return;
    };
    for i in 0..3 {
        env.write(&format!("d/f{i}.bin"), noise(1 << 20, 20 + i));
    }
    env.ok(&["log", "m", "d", "-q"]);
    // About 2 MiB left for a 3 MiB version.
    let filler = env.path("disk/filler");
    std::fs::write(&filler, vec![0_u8; 2 << 20]).expect("filler");
    let out = env.path("disk/out");
    no_space(&env.fails(&["checkout", "m", &out.to_string_lossy()], 1));
    let debris: Vec<String> = files_under(&out)
        .into_iter()
        .filter(|f| f.starts_with(".art-tmp-"))
        .collect();
    assert_eq!(debris, Vec::<String>::new(), "no temporary file is left");
    std::fs::remove_file(&filler).expect("free space");
    // What the failed checkout wrote is content of the version: no conflict, no --force.
    env.ok(&["checkout", "m", &out.to_string_lossy(), "-q"]);
    assert_eq!(read_tree(&out), env.read_tree("d"));
    let mut report = Report::new("full disk (4 MiB tmpfs): checkout of 3 MiB");
    report.trial(false);
    report.note(
        "failed on one line, no temporary file left; the next checkout completed without --force",
    );
    report.finish();
}
