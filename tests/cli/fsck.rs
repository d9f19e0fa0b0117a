//! Damage and what notices it: a flipped byte in a blob (`fsck --read-data`, `verify`,
//! `checkout`), a truncated trailer and a deleted pack (plain `fsck`), and harmless leftovers
//! (a stray temporary file, an unreferenced pack) that are notes, not problems.

use crate::util::{Env, noise, read_tree};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A store holding `p:v0` and `p:v1`, and which pack each log wrote.
struct Fixture {
    env: Env,
    /// The pack written by the first log: v0's manifest and every v0 file.
    pack0: PathBuf,
    /// The pack written by the second log: v1's manifest and its changed files.
    pack1: PathBuf,
    v0: BTreeMap<String, Vec<u8>>,
    v1: BTreeMap<String, Vec<u8>>,
}

fn packs(env: &Env) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(env.path(".artifacts/packs")).expect("packs dir") {
        for f in std::fs::read_dir(sub.expect("entry").path()).expect("pack subdir") {
            out.push(f.expect("entry").path());
        }
    }
    out.sort();
    out
}

/// The one pack in `after` that is not in `before`.
fn new_pack(before: &[PathBuf], after: &[PathBuf]) -> PathBuf {
    let new: Vec<&PathBuf> = after.iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(new.len(), 1, "expected one new pack, got {new:?}");
    new[0].clone()
}

/// v0: small files, an empty one, and two chunked large ones; v1 changes one small and one
/// large file and adds a file, so `small/a.txt` and `big.bin` live only in v0's pack.
fn setup() -> Fixture {
    let env = Env::init();
    env.write("data/small/a.txt", "alpha\n".repeat(100));
    env.write("data/small/b.txt", "beta\n".repeat(50));
    env.write("data/empty", "");
    env.write("data/big.bin", noise(3 << 20, 1));
    env.write("data/big2.bin", noise((5 << 19) + 7, 2));
    env.ok(&["log", "p", "data"]);
    let v0 = env.read_tree("data");
    let after0 = packs(&env);
    assert_eq!(after0.len(), 1, "{after0:?}");

    env.write("data/small/b.txt", "beta, revised\n".repeat(50));
    env.write("data/big2.bin", noise((5 << 19) + 7, 3));
    env.write("data/c.txt", "gamma\n");
    env.ok(&["log", "p", "data"]);
    let v1 = env.read_tree("data");
    let pack1 = new_pack(&after0, &packs(&env));
    Fixture {
        env,
        pack0: after0[0].clone(),
        pack1,
        v0,
        v1,
    }
}

/// The hash in a pack's file name (which is its checksum).
fn pack_hash(pack: &Path) -> String {
    pack.file_stem()
        .expect("stem")
        .to_string_lossy()
        .into_owned()
}

/// One trailer entry: blob hash, offset and stored length, kind (0 data, 1 chunk list,
/// 2 manifest), per the layout in src/store/pack/format.rs.
struct Entry {
    hash: [u8; 32],
    offset: usize,
    stored_len: usize,
    kind: u8,
}

fn trailer(pack: &Path) -> Vec<Entry> {
    let bytes = std::fs::read(pack).expect("read pack");
    assert_eq!(&bytes[..8], b"ARTPACK\0");
    let footer = bytes.len() - 36;
    let count = u32::from_le_bytes(bytes[footer..footer + 4].try_into().expect("4")) as usize;
    let start = footer - 50 * count;
    bytes[start..footer]
        .chunks_exact(50)
        .map(|e| Entry {
            hash: e[..32].try_into().expect("32"),
            offset: usize::try_from(u64::from_le_bytes(e[32..40].try_into().expect("8")))
                .expect("offset"),
            stored_len: u32::from_le_bytes(e[40..44].try_into().expect("4")) as usize,
            kind: e[49],
        })
        .collect()
}

/// Flips one byte in the middle of the blob `which` picks, in place.
fn flip_blob_byte(pack: &Path, which: impl Fn(&Entry) -> bool) {
    let entry = trailer(pack)
        .into_iter()
        .find(|e| which(e))
        .expect("the blob to damage is in the pack");
    let mut bytes = std::fs::read(pack).expect("read pack");
    bytes[entry.offset + entry.stored_len / 2] ^= 0x55;
    write_over(pack, &bytes);
}

/// Packs are read-only on disk; damage has to get past that.
fn write_over(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(path, bytes).expect("damage pack");
}

/// Runs art; returns the exit code and stdout followed by stderr.
fn run(env: &Env, args: &[&str]) -> (i32, String) {
    let out = env.art().args(args).output().expect("run art");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().expect("exit code"), text)
}

/// Asserts that `art ARGS` exits with `code`; returns everything it printed.
fn expect(env: &Env, args: &[&str], code: i32) -> String {
    let (got, text) = run(env, args);
    assert_eq!(got, code, "art {args:?}:\n{text}");
    text
}

/// A failed checkout of a damaged version into a fresh directory: exit 1 with `needle` in
/// the error, and whatever sits under a final name is complete (temp files are cleaned up).
fn assert_checkout_fails_cleanly(
    f: &Fixture,
    reference: &str,
    expected: &BTreeMap<String, Vec<u8>>,
    needle: &str,
) {
    let dest = format!("restore-{}", reference.replace(':', "-"));
    let text = expect(&f.env, &["checkout", reference, &dest], 1);
    assert!(text.contains("error:"), "{text}");
    assert!(text.contains(needle), "expected `{needle}` in:\n{text}");
    let dir = f.env.path(&dest);
    if dir.exists() {
        for (path, content) in read_tree(&dir) {
            assert!(
                !path
                    .rsplit('/')
                    .next()
                    .expect("name")
                    .starts_with(".art-tmp-"),
                "temp file `{path}` left after a failed checkout"
            );
            assert_eq!(
                Some(&content),
                expected.get(&path),
                "`{path}` under its final name is not the version's content"
            );
        }
    }
}

#[test]
fn clean_store_passes_every_check() {
    let f = setup();
    for args in [&["fsck"][..], &["fsck", "--read-data"]] {
        let text = expect(&f.env, args, 0);
        assert!(text.contains("2 versions checked"), "{text}");
        assert!(text.trim_end().ends_with(": ok"), "{text}");
        assert!(
            !text.contains("note:") && !text.contains("error:"),
            "{text}"
        );
    }
    expect(&f.env, &["verify", "p:v0"], 0);
    expect(&f.env, &["verify", "p:v1"], 0);
    f.env.ok(&["checkout", "p:v0", "out0"]);
    assert_eq!(f.env.read_tree("out0"), f.v0);
    f.env.ok(&["checkout", "p:v1", "out1"]);
    assert_eq!(f.env.read_tree("out1"), f.v1);
}

#[test]
fn flipped_byte_in_a_small_file_blob() {
    let f = setup();
    let digest = *blake3::hash(&f.v0["small/a.txt"]).as_bytes();
    flip_blob_byte(&f.pack0, |e| e.kind == 0 && e.hash == digest);
    let hash = pack_hash(&f.pack0);

    let text = expect(&f.env, &["fsck", "--read-data"], 1);
    assert!(text.contains(&hash) && text.contains("corrupt"), "{text}");
    // Both versions hold that file.
    for r in ["p:v0", "p:v1"] {
        let text = expect(&f.env, &["verify", r], 1);
        assert!(text.contains("`small/a.txt`"), "{text}");
        assert!(!text.contains("`small/b.txt`"), "{text}");
    }
    // The error names the damaged file, not only the blob.
    assert_checkout_fails_cleanly(&f, "p:v1", &f.v1, "`small/a.txt`: blob");
    assert_checkout_fails_cleanly(&f, "p:v0", &f.v0, "corrupt");
}

#[test]
fn flipped_byte_in_a_chunk_of_a_large_file() {
    let f = setup();
    // In v0's pack the data blobs that are not small files are chunks of the large ones;
    // damage the largest.
    let small: Vec<[u8; 32]> =
        f.v0.values()
            .filter(|c| c.len() <= 1 << 20)
            .map(|c| *blake3::hash(c).as_bytes())
            .collect();
    let entries = trailer(&f.pack0);
    let chunk = entries
        .iter()
        .filter(|e| e.kind == 0 && !small.contains(&e.hash))
        .max_by_key(|e| e.stored_len)
        .expect("a chunk")
        .hash;
    flip_blob_byte(&f.pack0, |e| e.hash == chunk);

    let text = expect(&f.env, &["fsck", "--read-data"], 1);
    assert!(text.contains(&pack_hash(&f.pack0)), "{text}");
    // The chunk belongs to big.bin or big2.bin; v0 holds both, and verify names the file.
    let text = expect(&f.env, &["verify", "p:v0"], 1);
    let damaged = ["`big.bin`", "`big2.bin`"]
        .into_iter()
        .find(|n| text.contains(n))
        .unwrap_or_else(|| panic!("verify names neither large file:\n{text}"));
    assert!(!text.contains("`small/"), "{text}");
    if damaged == "`big.bin`" {
        expect(&f.env, &["verify", "p:v1"], 1);
        assert_checkout_fails_cleanly(&f, "p:v1", &f.v1, "corrupt");
    } else {
        // v1 replaced big2.bin: it is intact.
        expect(&f.env, &["verify", "p:v1"], 0);
    }
    assert_checkout_fails_cleanly(&f, "p:v0", &f.v0, "corrupt");
}

#[test]
fn truncated_trailer_is_found_without_reading_data() {
    let f = setup();
    let bytes = std::fs::read(&f.pack1).expect("read pack");
    // The footer and half of the last trailer entry.
    write_over(&f.pack1, &bytes[..bytes.len() - 36 - 25]);
    let hash = pack_hash(&f.pack1);
    for args in [&["fsck"][..], &["fsck", "--read-data"]] {
        let text = expect(&f.env, args, 1);
        assert!(text.contains(&hash), "{text}");
        assert!(text.contains("error:"), "{text}");
    }
}

#[test]
fn deleted_pack_is_reported_missing() {
    let f = setup();
    std::fs::remove_file(&f.pack0).expect("delete pack");
    let short = &pack_hash(&f.pack0)[..16];
    for args in [&["fsck"][..], &["fsck", "--read-data"]] {
        let text = expect(&f.env, args, 1);
        assert!(
            text.contains(&format!("pack `{short}` is missing")),
            "{args:?}:\n{text}"
        );
        // v0's manifest was in that pack; v1 still needs big.bin's chunk list from it.
        assert!(text.contains("p:v0: manifest"), "{text}");
        assert!(text.contains("p:v1: `big.bin`"), "{text}");
    }
    // v1's manifest survives: verify names the files it can no longer read.
    let text = expect(&f.env, &["verify", "p:v1"], 1);
    for name in ["`big.bin`", "`small/a.txt`", "`empty`"] {
        assert!(text.contains(name), "{name} in:\n{text}");
    }
    assert!(!text.contains("`c.txt`"), "{text}");
    // v0 cannot even be listed: its manifest is gone.
    let text = expect(&f.env, &["verify", "p:v0"], 1);
    assert!(text.contains(&pack_hash(&f.pack0)), "{text}");
    assert_checkout_fails_cleanly(&f, "p:v1", &f.v1, &pack_hash(&f.pack0));
}

#[test]
fn stray_temporary_file_is_a_note() {
    let f = setup();
    f.env
        .write(".artifacts/tmp/pack-leftover.tmp", noise(1000, 9));
    for args in [&["fsck"][..], &["fsck", "--read-data"]] {
        let text = expect(&f.env, args, 0);
        assert!(text.contains("note: 1 temporary file(s) in tmp/"), "{text}");
        assert!(!text.contains("error:"), "{text}");
    }
    expect(&f.env, &["verify", "p:v1"], 0);
}

#[test]
fn unreferenced_pack_is_a_note() {
    let f = setup();
    // A valid pack the index does not know: logged by another store with other content.
    let other = Env::init();
    other.write("x/only-here.txt", "another store\n");
    other.ok(&["log", "q", "x"]);
    let [foreign] = packs(&other).try_into().expect("one pack");
    let rel = foreign
        .strip_prefix(other.path(".artifacts"))
        .expect("inside the store");
    let target = f.env.path(".artifacts").join(rel);
    std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
    std::fs::copy(&foreign, &target).expect("copy pack");
    for args in [&["fsck"][..], &["fsck", "--read-data"]] {
        let text = expect(&f.env, args, 0);
        assert!(text.contains("note: 1 unreferenced pack(s)"), "{text}");
        assert!(!text.contains("error:"), "{text}");
        assert!(text.contains("2 packs, 2 versions checked"), "{text}");
    }
}
