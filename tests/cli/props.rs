//! Property tests: random trees (empty files, executable bits, relative symlinks, unicode and
//! space-containing names, nested directories, files around the 1 MiB chunking boundary)
//! survive log → checkout byte for byte, and checkouts move a directory between versions.

use crate::util::{Env, noise};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Path components: plain, unicode, with spaces, hidden, and two differing only in case.
const NAMES: &[&str] = &[
    "a",
    "b",
    "c.txt",
    "data",
    "my file.txt",
    " leading space",
    "trailing space ",
    "naïve café",
    "日本語",
    "🦀 crab",
    "Ωmega",
    ".hidden",
    "x-1_2,3",
    "UPPER",
    "upper",
    "sub dir",
];

const MIB: usize = 1 << 20;
/// Sizes around the chunking threshold (files of at most 1 MiB are one blob).
const LARGE: &[usize] = &[MIB - 1, MIB, MIB + 1, 3 * MIB + 12_345];

/// A file's content, kept symbolic so that failing cases print briefly.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Content {
    Bytes(Vec<u8>),
    /// Incompressible bytes.
    Noise {
        len: usize,
        seed: u64,
    },
    /// A short repeating pattern: compressible, and chunks that repeat within the file.
    Pattern {
        len: usize,
        period: u8,
    },
}

impl Content {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Content::Bytes(b) => b.clone(),
            Content::Noise { len, seed } => noise(*len, *seed),
            Content::Pattern { len, period } => (0..*len)
                .map(|i| u8::try_from(i % usize::from((*period).max(1))).expect("period is a u8"))
                .collect(),
        }
    }

    /// Different content of the same length (a rewrite the stat cache must notice by mtime).
    fn altered(&self) -> Content {
        match self {
            Content::Bytes(b) if b.is_empty() => Content::Bytes(b"now filled\n".to_vec()),
            Content::Bytes(b) => {
                let mut b = b.clone();
                let mid = b.len() / 2;
                b[mid] = b[mid].wrapping_add(1);
                Content::Bytes(b)
            }
            Content::Noise { len, seed } => Content::Noise {
                len: *len,
                seed: seed.wrapping_add(1),
            },
            Content::Pattern { len, period } => Content::Pattern {
                len: *len,
                period: period.wrapping_add(1).max(2),
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    File { content: Content, exec: bool },
    Link(String),
}

/// What the generator asks for before the path is known (a link's target depends on depth).
#[derive(Clone, Debug)]
enum Proto {
    File { content: Content, exec: bool },
    Link { up: usize, name: &'static str },
}

/// A tree: relative path → node, with no path that is also a directory of another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Tree(BTreeMap<String, Node>);

impl Tree {
    fn collides(&self, path: &str) -> bool {
        self.0.keys().any(|k| {
            k == path || path.starts_with(&format!("{k}/")) || k.starts_with(&format!("{path}/"))
        })
    }

    /// Adds an entry unless its path collides; symlink targets climb at most to the root and
    /// then descend, so they stay inside the tree.
    fn add(&mut self, comps: &[&str], proto: Proto) -> bool {
        let path = comps.join("/");
        if self.collides(&path) {
            return false;
        }
        let node = match proto {
            Proto::File { content, exec } => Node::File { content, exec },
            Proto::Link { up, name } => {
                let up = up.min(comps.len() - 1);
                Node::Link(format!("{}{name}", "../".repeat(up)))
            }
        };
        self.0.insert(path, node);
        true
    }

    /// What `read_tree` returns for this tree.
    fn expected(&self) -> BTreeMap<String, Vec<u8>> {
        self.0
            .iter()
            .map(|(p, n)| match n {
                Node::File { content, exec } => {
                    let key = if *exec { format!("{p}*") } else { p.clone() };
                    (key, content.bytes())
                }
                Node::Link(t) => (p.clone(), format!("-> {t}").into_bytes()),
            })
            .collect()
    }
}

fn write_node(root: &Path, rel: &str, node: &Node) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create parents");
    match node {
        Node::File { content, exec } => {
            std::fs::write(&path, content.bytes()).expect("write file");
            let mode = if *exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        Node::Link(target) => std::os::unix::fs::symlink(target, &path).expect("symlink"),
    }
}

/// Removes empty directories under `dir` (not `dir` itself).
fn prune(dir: &Path) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        if e.file_type().expect("file type").is_dir() {
            prune(&e.path());
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

fn materialize(root: &Path, tree: &Tree) {
    std::fs::create_dir_all(root).expect("create root");
    for (rel, node) in &tree.0 {
        write_node(root, rel, node);
    }
}

/// Edits `root` from `old` to `new` in place, as a user would: changed files are rewritten
/// (same inode), exec bits flipped with chmod, removed entries deleted.
fn transform(root: &Path, old: &Tree, new: &Tree) {
    for (rel, node) in &old.0 {
        let keep_in_place = matches!(
            (node, new.0.get(rel)),
            (Node::File { .. }, Some(Node::File { .. }))
        );
        if new.0.get(rel) != Some(node) && !keep_in_place {
            std::fs::remove_file(root.join(rel)).expect("remove");
        }
    }
    prune(root);
    for (rel, node) in &new.0 {
        let path = root.join(rel);
        match (old.0.get(rel), node) {
            (Some(o), n) if o == n => {}
            (Some(Node::File { content: oc, .. }), Node::File { content, exec }) => {
                if oc != content {
                    std::fs::write(&path, content.bytes()).expect("rewrite");
                }
                let mode = if *exec { 0o755 } else { 0o644 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .expect("chmod");
            }
            _ => write_node(root, rel, node),
        }
    }
}

fn path_strategy() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(prop::sample::select(NAMES), 1..=3)
}

fn small_content() -> impl Strategy<Value = Content> {
    prop_oneof![
        2 => Just(Content::Bytes(Vec::new())),
        3 => prop::collection::vec(any::<u8>(), 1..300).prop_map(Content::Bytes),
        2 => (1usize..20_000, any::<u64>()).prop_map(|(len, seed)| Content::Noise { len, seed }),
        1 => (1usize..50_000, 1u8..17).prop_map(|(len, period)| Content::Pattern { len, period }),
    ]
}

fn large_content() -> impl Strategy<Value = Content> {
    (prop::sample::select(LARGE), any::<u64>(), any::<bool>()).prop_map(|(len, seed, pattern)| {
        if pattern {
            Content::Pattern {
                len,
                period: (seed % 200) as u8 + 2,
            }
        } else {
            Content::Noise { len, seed }
        }
    })
}

fn small_proto() -> impl Strategy<Value = Proto> {
    prop_oneof![
        3 => (small_content(), any::<bool>()).prop_map(|(content, exec)| Proto::File { content, exec }),
        1 => (0usize..3, prop::sample::select(NAMES)).prop_map(|(up, name)| Proto::Link { up, name }),
    ]
}

/// A tree of 1 to 14 small entries and at most two large files.
fn tree_strategy() -> impl Strategy<Value = Tree> {
    (
        prop::collection::vec((path_strategy(), small_proto()), 1..14),
        prop::collection::vec((path_strategy(), large_content(), any::<bool>()), 0..=2),
    )
        .prop_map(|(small, large)| {
            let mut t = Tree::default();
            for (path, content, exec) in large {
                t.add(&path, Proto::File { content, exec });
            }
            for (path, proto) in small {
                t.add(&path, proto);
            }
            t
        })
}

/// Edits to a tree: one action per existing entry (cycled), new small entries, and maybe a
/// new large file. Action 0-1 keep, 2 delete, 3 change content or target, 4 flip the exec bit
/// (or turn a link into a file).
#[derive(Clone, Debug)]
struct Edits {
    actions: Vec<u8>,
    replacements: Vec<Content>,
    added: Vec<(Vec<&'static str>, Proto)>,
    added_large: Option<(Vec<&'static str>, Content)>,
}

fn edits_strategy() -> impl Strategy<Value = Edits> {
    (
        prop::collection::vec(0u8..5, 16),
        prop::collection::vec(small_content(), 16),
        prop::collection::vec((path_strategy(), small_proto()), 0..6),
        prop::option::weighted(0.2, (path_strategy(), large_content())),
    )
        .prop_map(|(actions, replacements, added, added_large)| Edits {
            actions,
            replacements,
            added,
            added_large,
        })
}

fn apply(tree: &Tree, edits: &Edits) -> Tree {
    let mut out = Tree::default();
    for (i, (path, node)) in tree.0.iter().enumerate() {
        let action = edits.actions[i % edits.actions.len()];
        let replacement = &edits.replacements[i % edits.replacements.len()];
        let node = match (action, node) {
            (2, _) => continue,
            (3, Node::File { content, exec }) => Node::File {
                content: content.altered(),
                exec: *exec,
            },
            (3, Node::Link(t)) => Node::Link(format!("{t}-renamed")),
            (4, Node::File { content, exec }) => Node::File {
                content: content.clone(),
                exec: !exec,
            },
            (4, Node::Link(_)) => Node::File {
                content: replacement.clone(),
                exec: false,
            },
            _ => node.clone(),
        };
        out.0.insert(path.clone(), node);
    }
    if let Some((path, content)) = &edits.added_large {
        out.add(
            path,
            Proto::File {
                content: content.clone(),
                exec: false,
            },
        );
    }
    for (path, proto) in &edits.added {
        out.add(path, proto.clone());
    }
    out
}

/// 24 cases keep a debug run short; `PROPTEST_CASES=500` digs deeper.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(24);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// log → checkout into an empty directory gives back the same bytes, modes and links.
    #[test]
    fn log_then_checkout_is_identity(tree in tree_strategy()) {
        let env = Env::init();
        materialize(&env.path("data"), &tree);
        let expected = tree.expected();
        prop_assert_eq!(&env.read_tree("data"), &expected, "test setup wrote the tree");
        env.ok(&["log", "p", "data"]);
        env.ok(&["checkout", "p:v0", "out"]);
        prop_assert_eq!(&env.read_tree("out"), &expected);
        env.ok(&["verify", "p:v0"]);
        env.ok(&["verify", "p:v0", "out"]);
    }

    /// Two versions: checkouts into an empty directory, then back and forth in the same one,
    /// and finally into the logged directory itself, each leave exactly that version.
    #[test]
    fn checkout_moves_between_versions(v0 in tree_strategy(), edits in edits_strategy()) {
        let env = Env::init();
        let data = env.path("data");
        materialize(&data, &v0);
        env.ok(&["log", "p", "data"]);
        let v1 = apply(&v0, &edits);
        transform(&data, &v0, &v1);
        let (exp0, exp1) = (v0.expected(), v1.expected());
        prop_assert_eq!(&env.read_tree("data"), &exp1, "test setup edited the tree");
        let logged = env.json(&["log", "p", "data"]);
        let r1 = logged["reference"].as_str().expect("reference").to_owned();
        prop_assert_eq!(logged["unchanged"].as_bool(), Some(exp0 == exp1));

        env.ok(&["checkout", "p:v0", "out"]);
        prop_assert_eq!(&env.read_tree("out"), &exp0, "v0 into an empty directory");
        env.ok(&["checkout", &r1, "out"]);
        prop_assert_eq!(&env.read_tree("out"), &exp1, "{} over v0", r1);
        env.ok(&["checkout", "p:v0", "out"]);
        prop_assert_eq!(&env.read_tree("out"), &exp0, "v0 over {}", r1);
        // The logged directory holds v1 as the user wrote it; art read it, so no --force.
        env.ok(&["checkout", "p:v0"]);
        prop_assert_eq!(&env.read_tree("data"), &exp0, "v0 into the logged directory");
    }
}

/// Files are written in parallel: siblings in a fresh nested directory make the writers race
/// to create the same parents, which must not fail (it did, with "File exists").
#[test]
fn parallel_writes_share_new_parent_directories() {
    let env = Env::init();
    for j in 0..64 {
        env.write(&format!("data/x/y/z/f{j}.txt"), format!("{j}\n"));
    }
    env.ok(&["log", "p", "data"]);
    let expected = env.read_tree("data");
    for round in 0..8 {
        let dest = format!("out{round}");
        env.ok(&["checkout", "p:v0", &dest]);
        assert_eq!(env.read_tree(&dest), expected, "{dest}");
    }
}
