//! Versions composed from other entries: a patch (a version's manifest, minus what the
//! removals select, with added entries replacing those at the same path) and the union of the
//! parts of a collaborative version. Pure rules; the API reads and stores the manifests.

use super::{ManifestEntry, Selection};
use std::collections::BTreeMap;

/// A patched entry list and what the patch did.
#[derive(Clone, Debug, PartialEq)]
pub struct Patched {
    /// The new version's entries (unsorted; `Manifest::new` sorts and checks them).
    pub entries: Vec<ManifestEntry>,
    /// Base entries removed by a pattern.
    pub removed: u64,
    /// Added entries at paths the base (after removals) did not have.
    pub added: u64,
    /// Added entries that replaced a base entry at the same path.
    pub replaced: u64,
    /// Removal patterns that matched no base entry (each a mistake worth refusing).
    pub unmatched: Vec<String>,
}

/// Applies a patch to `base`: every entry one of `removals` selects goes, then each of `added`
/// takes its path, replacing what is there.
#[must_use]
pub fn patch(base: &[ManifestEntry], removals: &[Selection], added: Vec<ManifestEntry>) -> Patched {
    let mut matched = vec![false; removals.len()];
    let adding: std::collections::HashSet<&str> = added.iter().map(|e| e.path.as_str()).collect();
    let mut entries = Vec::with_capacity(base.len() + added.len());
    let (mut removed, mut replaced) = (0, 0);
    for e in base {
        let mut gone = false;
        for (i, r) in removals.iter().enumerate() {
            if r.contains(e.path.as_str()) {
                matched[i] = true;
                gone = true;
            }
        }
        if gone {
            removed += 1;
        } else if adding.contains(e.path.as_str()) {
            replaced += 1;
        } else {
            entries.push(e.clone());
        }
    }
    let added_count = added.len() as u64 - replaced;
    entries.extend(added);
    Patched {
        entries,
        removed,
        added: added_count,
        replaced,
        unmatched: removals
            .iter()
            .zip(matched)
            .filter(|(_, m)| !m)
            .map(|(r, _)| r.patterns().join(" "))
            .collect(),
    }
}

/// Which writer wins a path written with different content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prefer {
    /// The writer that wrote it first.
    First,
    /// The writer that wrote it last.
    Last,
}

/// One path written with different content by several writers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathConflict {
    /// The path.
    pub path: String,
    /// The writers (by the label given), in the order they wrote.
    pub writers: Vec<String>,
}

/// The union of the parts of a collaborative version.
#[derive(Clone, Debug, PartialEq)]
pub struct PartsUnion {
    /// The entries (unsorted; `Manifest::new` sorts and checks them).
    pub entries: Vec<ManifestEntry>,
    /// Paths written with different content; resolved by `prefer` when it was given.
    pub conflicts: Vec<PathConflict>,
}

/// Unites `parts` (each a writer's label and entries, oldest writer first). The same path
/// with the same content from two writers is one entry; with different content it is a
/// conflict, resolved by `prefer` when given (else the first writer's entry stays and the
/// caller refuses).
#[must_use]
pub fn unite(parts: Vec<(String, Vec<ManifestEntry>)>, prefer: Option<Prefer>) -> PartsUnion {
    let mut by_path: BTreeMap<String, (ManifestEntry, usize)> = BTreeMap::new();
    let mut conflicts: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let labels: Vec<String> = parts.iter().map(|(l, _)| l.clone()).collect();
    for (writer, (_, entries)) in parts.into_iter().enumerate() {
        for e in entries {
            let path = e.path.as_str().to_owned();
            match by_path.get_mut(&path) {
                None => {
                    by_path.insert(path, (e, writer));
                }
                Some((kept, _)) if *kept == e => {}
                Some((kept, kept_writer)) => {
                    let writers = conflicts.entry(path).or_insert_with(|| vec![*kept_writer]);
                    if !writers.contains(&writer) {
                        writers.push(writer);
                    }
                    if prefer == Some(Prefer::Last) {
                        *kept = e;
                        *kept_writer = writer;
                    }
                }
            }
        }
    }
    PartsUnion {
        entries: by_path.into_values().map(|(e, _)| e).collect(),
        conflicts: conflicts
            .into_iter()
            .map(|(path, writers)| PathConflict {
                path,
                writers: writers.into_iter().map(|w| labels[w].clone()).collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Digest, ManifestPath};

    fn file(path: &str, content: &str) -> ManifestEntry {
        ManifestEntry::file(
            ManifestPath::new(path).expect("path"),
            content.len() as u64,
            Digest::of(content.as_bytes()),
            false,
        )
    }

    fn paths(entries: &[ManifestEntry]) -> Vec<&str> {
        let mut p: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        p.sort_unstable();
        p
    }

    #[test]
    fn patch_removes_then_adds_and_counts() {
        let base = vec![
            file("a.txt", "a"),
            file("img/1.png", "1"),
            file("img/2.png", "2"),
            file("keep.csv", "k"),
        ];
        let removals = vec![
            Selection::new(&["img/"]).expect("glob"),
            Selection::new(&["*.tmp"]).expect("glob"),
        ];
        let p = patch(
            &base,
            &removals,
            vec![file("a.txt", "new a"), file("img/3.png", "3")],
        );
        assert_eq!(paths(&p.entries), ["a.txt", "img/3.png", "keep.csv"]);
        assert_eq!((p.removed, p.added, p.replaced), (2, 1, 1));
        assert_eq!(p.unmatched, ["*.tmp"]);
        let a = p.entries.iter().find(|e| e.path.as_str() == "a.txt");
        assert_eq!(a.map(|e| e.digest), Some(Digest::of(b"new a")));
    }

    #[test]
    fn identical_parts_unite_and_different_ones_conflict() {
        let parts = vec![
            (
                "w1".to_owned(),
                vec![file("shared.txt", "same"), file("p1.txt", "1")],
            ),
            (
                "w2".to_owned(),
                vec![file("shared.txt", "same"), file("x.txt", "two")],
            ),
            ("w3".to_owned(), vec![file("x.txt", "three")]),
        ];
        let u = unite(parts.clone(), None);
        assert_eq!(paths(&u.entries), ["p1.txt", "shared.txt", "x.txt"]);
        assert_eq!(
            u.conflicts,
            [PathConflict {
                path: "x.txt".into(),
                writers: vec!["w2".into(), "w3".into()],
            }]
        );
        let digest_of_x = |u: &PartsUnion| {
            u.entries
                .iter()
                .find(|e| e.path.as_str() == "x.txt")
                .map(|e| e.digest)
        };
        assert_eq!(
            digest_of_x(&unite(parts.clone(), Some(Prefer::First))),
            Some(Digest::of(b"two"))
        );
        assert_eq!(
            digest_of_x(&unite(parts, Some(Prefer::Last))),
            Some(Digest::of(b"three"))
        );
    }
}
