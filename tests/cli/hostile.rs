//! Hostile input (issue 13): the decoders of everything art reads from a store or a remote
//! (pack trailers, manifests, log batches and checkpoints, chunk lists, compressed blobs) and
//! the parsers of what users type (sizes, durations, references) get thousands of random and
//! mutated inputs: each is rejected with an error or accepted, never a panic; damaged
//! records and manifests are accepted only as what re-encodes to itself, sizes parse exactly
//! and references round-trip. Manifests with traversal, duplicate or nested paths are
//! refused; a decompression bomb is cut off at the declared length. Symlinks and chains of
//! them in DEST, and paths differing only in case, never make checkout write outside DEST or
//! overwrite one file with another.

use art::model::{Batch, Checkpoint, Manifest, Ref, Size, Span};
use art::store::{chunk_list_decode, decode_blob, read_trailer_with};
use proptest::prelude::*;
use std::path::Path;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A valid pack of a few blobs, written by art's packer (once: it fsyncs).
fn valid_pack() -> Vec<u8> {
    static PACK: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PACK.get_or_init(write_pack).clone()
}

fn write_pack() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("tmp")).expect("tmp");
    let mut packer = art::store::Packer::new(dir.path(), 1 << 20);
    for i in 0..4u8 {
        let raw = vec![i; 100 + usize::from(i) * 50];
        packer
            .add_raw(
                art::model::Digest::of(&raw),
                art::store::BlobKind::Data,
                &raw,
                3,
            )
            .expect("add");
    }
    let packs = packer.finish().expect("finish");
    let hash = packs.packs()[0].hash;
    let bytes = std::fs::read(art::store::pack_path(dir.path(), &hash)).expect("read pack");
    packs.keep();
    bytes
}

fn trailer_of(
    bytes: &[u8],
) -> Result<(Vec<art::store::PackEntry>, art::model::Digest), art::store::Error> {
    read_trailer_with(bytes.len() as u64, Path::new("hostile"), |offset, len| {
        let start = usize::try_from(offset).expect("fits");
        bytes
            .get(start..start + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| art::store::Error::CorruptPack {
                path: "hostile".into(),
                reason: "read past the end".into(),
            })
    })
}

const MANIFEST: &str = r#"{"format":1,"entries":[{"path":"a.txt","size":2,"digest":"DIGEST"}]}"#;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn hostile_pack_trailers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = trailer_of(&bytes);
    }

    #[test]
    fn hostile_mutated_packs_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut bytes = valid_pack();
        for (at, x) in flips {
            let n = bytes.len();
            bytes[at % n] ^= x | 1;
        }
        if cut % 3 == 0 {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        if let Ok((entries, _)) = trailer_of(&bytes) {
            for e in entries {
                // Entries may point anywhere: reading them fails cleanly or checks the hash.
                let start = usize::try_from(e.offset).unwrap_or(usize::MAX);
                let end = start.saturating_add(e.stored_len as usize);
                if let Some(stored) = bytes.get(start..end) {
                    let _ = decode_blob(&e, stored.to_vec(), Path::new("hostile"));
                }
            }
        }
    }

    #[test]
    fn hostile_manifests_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Manifest::from_canonical_bytes(&bytes);
    }

    #[test]
    fn hostile_manifest_paths_are_refused(
        path in prop_oneof![
            Just("../escape".to_owned()),
            Just("a/../../b".to_owned()),
            Just("/etc/passwd".to_owned()),
            Just(".artifacts/config.toml".to_owned()),
            Just("a//b".to_owned()),
            Just(String::new()),
            Just("./a".to_owned()),
            "[a-z./]{0,12}",
        ],
        size in prop_oneof![Just(u64::MAX), Just(1u64 << 62), 0..10u64],
    ) {
        let digest = art::model::Digest::of(b"x").to_hex();
        let text = MANIFEST.replace("a.txt", &path).replace("DIGEST", &digest).replace("\"size\":2", &format!("\"size\":{size}"));
        if let Ok(m) = Manifest::from_canonical_bytes(text.as_bytes()) {
            // Accepted only when the path is a plain relative one.
            let p = &m.entries()[0].path;
            prop_assert!(!p.as_str().split('/').any(|c| c.is_empty() || c == ".." || c == "." || c == ".artifacts"), "{p}");
        }
    }

    #[test]
    fn hostile_log_batches_and_checkpoints_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Batch::decode(&bytes);
        let _ = Checkpoint::decode(&bytes);
        let _ = chunk_list_decode(&bytes);
    }

    #[test]
    fn hostile_json_shaped_batches_never_panic(
        body in r#"\{"format":[0-9]{1,3},"id":"[0-9A-Z]{0,26}","time":-?[0-9]{1,20},"entries":\[(\{"op":"[a-z_]{0,12}"[^\]]{0,40}\})?\]\}"#,
    ) {
        let _ = Batch::decode(body.as_bytes());
        let _ = Checkpoint::decode(body.as_bytes());
    }

    #[test]
    fn hostile_sizes_durations_and_references_never_panic(text in "\\PC{0,24}") {
        let _ = text.parse::<Size>();
        let _ = text.parse::<Span>();
        let _ = text.parse::<Ref>();
    }

    #[test]
    fn hostile_numeric_sizes_never_panic(n in any::<u64>(), unit in "(|B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|k|M|G|T|d|h|m|s|ms)", frac in 0..1000u32) {
        let _ = format!("{n}{unit}").parse::<Size>();
        let _ = format!("{n}.{frac}{unit}").parse::<Size>();
        let _ = format!("{n}{unit}").parse::<Span>();
    }
}

#[test]
fn hostile_duplicate_and_nested_paths_are_refused() {
    let digest = art::model::Digest::of(b"x").to_hex();
    for entries in [
        format!(
            r#"[{{"path":"a","size":1,"digest":"{digest}"}},{{"path":"a","size":1,"digest":"{digest}"}}]"#
        ),
        format!(
            r#"[{{"path":"a","size":1,"digest":"{digest}"}},{{"path":"a/b","size":1,"digest":"{digest}"}}]"#
        ),
        format!(
            r#"[{{"path":"b","size":1,"digest":"{digest}"}},{{"path":"a","size":1,"digest":"{digest}"}}]"#
        ),
    ] {
        let text = format!(r#"{{"format":1,"entries":{entries}}}"#);
        let err = Manifest::from_canonical_bytes(text.as_bytes()).expect_err(&text);
        assert!(err.to_string().contains("manifest"), "{err}");
    }
}

#[test]
fn hostile_decompression_bomb_is_cut_at_the_declared_length() {
    let bomb = art::store::compress(&vec![0u8; 64 << 20], 19).expect("compresses well");
    assert!(bomb.len() < 1 << 20);
    let err = art::store::decompress(&bomb, 4096).expect_err("more than declared");
    assert!(!err.to_string().is_empty());
}

fn symlink(env: &crate::util::Env, target: &str, rel: &str) {
    let p = env.path(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("parent dir");
    std::os::unix::fs::symlink(target, p).expect("symlink");
}

/// Symlinks (and chains of them) in DEST pointing outside it, where a checkout writes: art
/// never writes through one. A link standing where the version has a file or a directory
/// is a file art has not seen: `checkout` and `download` (with `--only` too) list it and
/// touch nothing (exit 3); `--force` replaces it with what the version holds. Writes also
/// check each parent directory (a link made after the plan is refused, never followed).
#[test]
fn hostile_symlink_chains_in_dest_never_lead_a_write_outside() {
    let env = crate::util::Env::init();
    env.write("src/sub/deep/x.txt", "x");
    env.write("src/top.txt", "t");
    env.ok(&["log", "ds", "src", "-q"]);
    env.write("outside/victim.txt", "keep");
    let outside = env.read_tree("outside");
    // dest/sub -> hop -> ../outside; dest/top.txt -> ../outside/victim.txt
    symlink(&env, "../outside", "dest/hop");
    symlink(&env, "hop", "dest/sub");
    symlink(&env, "../outside/victim.txt", "dest/top.txt");
    // A real directory with a link one level down: dest2/sub/deep -> ../../outside
    std::fs::create_dir_all(env.path("dest2/sub")).expect("dir");
    symlink(&env, "../../outside", "dest2/sub/deep");

    for (dest, listed) in [("dest", &["sub", "top.txt"][..]), ("dest2", &["sub/deep"])] {
        for args in [
            &["checkout", "ds", dest][..],
            &["download", "ds", dest],
            &["download", "ds", dest, "--only", "sub/**"],
        ] {
            let err = env.fails(args, 3);
            // With `--only sub/**`, `top.txt` is outside the selection and left alone.
            for l in listed
                .iter()
                .filter(|l| args.len() == 3 || l.starts_with("sub"))
            {
                assert!(err.contains(&format!("  {l}\n")), "{args:?}: {err}");
            }
            assert_eq!(env.read_tree("outside"), outside, "nothing written outside");
        }
    }
    assert!(std::fs::symlink_metadata(env.path("dest/sub")).is_ok_and(|m| m.is_symlink()));

    env.ok(&["checkout", "ds", "dest", "--force", "-q"]);
    env.ok(&["download", "ds", "dest2", "--force", "-q"]);
    assert_eq!(env.read_tree("outside"), outside, "nothing written outside");
    for dest in ["dest", "dest2"] {
        assert_eq!(env.read_tree(dest), env.read_tree("src"), "{dest}");
        for rel in ["sub", "sub/deep"] {
            let meta = std::fs::symlink_metadata(env.path(dest).join(rel)).expect("stat");
            assert!(meta.is_dir(), "{dest}/{rel} is a real directory now");
        }
    }
    assert!(
        std::fs::symlink_metadata(env.path("dest/hop")).is_err(),
        "checkout removed the link the version lacks"
    );
}

/// Paths that differ only in case are distinct files on a case-sensitive DEST (Linux): both
/// are restored with their own bytes, neither overwrites the other. (Where DEST ignores case,
/// checkout refuses such a version before writing; this kernel offers no such file system
/// to test it on: `tmpfs -o casefold` needs CONFIG_UNICODE.)
#[test]
fn hostile_case_colliding_paths_are_both_restored_where_case_matters() {
    let env = crate::util::Env::init();
    env.write("src/A.txt", "upper");
    env.write("src/a.txt", "lower");
    env.write("src/Dir/x", "1");
    env.write("src/dir/X", "2");
    env.ok(&["log", "ds", "src", "-q"]);
    assert_eq!(env.json(&["ls", "ds"]).as_array().map(Vec::len), Some(4));
    env.ok(&["checkout", "ds", "out", "-q"]);
    assert_eq!(env.read_tree("out"), env.read_tree("src"));
    assert!(env.ok(&["checkout", "ds", "out"]).contains("0 written"));
    env.ok(&["checkout", "ds", "one", "--only", "a.txt", "-q"]);
    assert_eq!(env.read_tree("one").len(), 1);
}

/// A log batch (a version, its packs, an alias) and a checkpoint, as a real store wrote
/// them: the seeds the mutation tests below damage.
fn real_records() -> &'static (Vec<u8>, Vec<u8>) {
    static RECORDS: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    RECORDS.get_or_init(|| {
        let env = crate::util::Env::init();
        env.write("d/a.txt", "a\n");
        env.write("d/sub/b.txt", "b\n");
        env.ok(&[
            "log",
            "m",
            "d",
            "-q",
            "--metadata",
            r#"{"lr":0.1,"tags":["x"]}"#,
        ]);
        env.ok(&["alias", "set", "m:v0", "best"]);
        env.write("d/a.txt", "a2\n");
        env.ok(&["log", "m", "d", "-q"]);
        env.ok(&["rm", "m:v0", "--delete-aliases"]);
        env.ok(&["gc", "--grace", "0s", "-q"]);
        let log = env.path(".artifacts/log");
        let batch = std::fs::read(log.join(format!("{:020}.json", 1))).expect("batch 1");
        let checkpoint = std::fs::read_dir(&log)
            .expect("log dir")
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with("checkpoint-"))
            .map(|e| std::fs::read(e.path()).expect("checkpoint"))
            .expect("gc wrote a checkpoint");
        (batch, checkpoint)
    })
}

fn mutate(mut bytes: Vec<u8>, flips: &[(usize, u8)], cut: usize) -> Vec<u8> {
    for (at, x) in flips {
        let n = bytes.len();
        bytes[at % n] ^= x | 1;
    }
    if cut.is_multiple_of(3) {
        bytes.truncate(cut % (bytes.len() + 1));
    }
    bytes
}

const SIZE_UNITS: [(&str, u64); 13] = [
    ("", 1),
    ("B", 1),
    ("k", 1_000),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("G", 1_000_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("tib", 1 << 40),
    ("mib", 1 << 20),
];

proptest! {
    #![proptest_config(config())]

    /// A damaged record never panics the decoder, and whatever it accepts is a record that
    /// encodes and decodes to itself (what a store would then write and read back).
    #[test]
    fn hostile_mutated_records_decode_to_themselves_or_fail(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let (batch, checkpoint) = real_records();
        if let Ok(b) = Batch::decode(&mutate(batch.clone(), &flips, cut)) {
            prop_assert_eq!(Batch::decode(&b.encode()).ok(), Some(b));
        }
        if let Ok(c) = Checkpoint::decode(&mutate(checkpoint.clone(), &flips, cut)) {
            prop_assert_eq!(Checkpoint::decode(&c.encode()).ok(), Some(c));
        }
    }

    /// Canonical manifest bytes with damage: rejected, or accepted only as exactly the
    /// canonical bytes of what was decoded (a digest names one manifest) with safe paths.
    #[test]
    fn hostile_mutated_manifests_are_canonical_or_refused(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        use art::model::{ManifestEntry, ManifestPath};
        let p = |s: &str| ManifestPath::new(s).expect("valid path");
        let x = art::model::Digest::of(b"x");
        let seed = Manifest::new(vec![
            ManifestEntry::file(p("a.txt"), 2, x, false),
            ManifestEntry::file(p("d/b"), 9, x, true),
            ManifestEntry::symlink(p("l"), "d/b".to_owned()),
        ])
        .expect("valid manifest")
        .to_canonical_bytes();
        let bytes = mutate(seed, &flips, cut);
        if let Ok(m) = Manifest::from_canonical_bytes(&bytes) {
            prop_assert_eq!(m.to_canonical_bytes(), bytes);
            for e in m.entries() {
                prop_assert!(!e.path.as_str().split('/').any(|c| c.is_empty() || c == ".." || c == "." || c == ".artifacts"));
            }
        }
    }

    /// Sizes: every unit gives the exact byte count, whatever the case and spacing; signs,
    /// exponents and stray characters are refused.
    #[test]
    fn hostile_sizes_parse_exactly_or_are_refused(
        n in 0u64..8192,
        unit in 0..SIZE_UNITS.len(),
        pad in "[ ]{0,2}",
        junk in "[-+eE_,xX#]",
    ) {
        let (name, mult) = SIZE_UNITS[unit];
        let text = format!("{pad}{n}{pad}{name}{pad}");
        prop_assert_eq!(text.parse::<Size>().ok().map(|s| s.0), Some(n * mult));
        let upper = text.to_uppercase();
        prop_assert_eq!(upper.parse::<Size>().ok().map(|s| s.0), Some(n * mult));
        let (before, inside) = (format!("{junk}{n}{name}"), format!("{n}{junk}{name}"));
        prop_assert!(before.parse::<Size>().is_err(), "{}", before);
        prop_assert!(inside.parse::<Size>().is_err(), "{}", inside);
    }

    /// References: each form round-trips through its display, and anything the parser
    /// accepts is already canonical after one display (digest prefixes in lower case).
    #[test]
    fn hostile_references_round_trip(
        name in "[A-Za-z0-9][A-Za-z0-9_.-]{0,40}",
        n in any::<u64>(),
        alias in "[A-Za-uw-z][A-Za-z0-9_.-]{0,20}",
        prefix in "[0-9a-fA-F]{8,64}",
        text in "\\PC{0,40}",
    ) {
        for s in [format!("{name}:v{n}"), format!("{name}:{alias}"), format!("{name}@{prefix}"), name.clone()] {
            let r: Ref = s.parse().map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            prop_assert_eq!(r.to_string().parse::<Ref>().ok(), Some(r.clone()));
            let shown = r.to_string();
            prop_assert!(shown.starts_with(name.as_str()), "{}", shown);
        }
        let lower = format!("{name}@{}", prefix.to_lowercase());
        prop_assert_eq!(format!("{name}@{prefix}").parse::<Ref>().map(|r| r.to_string()).ok(), Some(lower));
        if let Ok(r) = text.parse::<Ref>() {
            let shown = r.to_string();
            prop_assert_eq!(shown.parse::<Ref>().ok().map(|r| r.to_string()), Some(shown));
            let name = r.name.as_str();
            let valid = name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            prop_assert!(valid, "{}", name);
        }
    }
}
