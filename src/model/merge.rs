//! Merging diverged histories: this store's unpushed batches replayed after a remote's new
//! ones, as `git rebase` replays commits. Version numbers a remote holds are final, so the
//! local versions take the next free numbers; where both sides moved the same alias or
//! changed the same version's metadata, the remote's change stands and the local one is
//! dropped and reported. Entries name versions by record id, so nothing else changes.

use super::{Batch, Entry, Error, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A local version that took a new number.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Renumbered {
    /// The artifact.
    pub artifact: String,
    /// Its number before the merge.
    pub from: u64,
    /// Its number now.
    pub to: u64,
}

/// A local change dropped because the remote changed the same thing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Dropped {
    /// What both sides changed: `NAME:ALIAS` for an alias, `NAME:vN` for metadata.
    pub target: String,
    /// What the local change was (`alias set to NAME:vN`, `alias removed`, `metadata`).
    pub change: String,
}

/// The result of [`rebase`]: the batches to append after the common history, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Rebased {
    /// The remote's new batches unchanged, then the local ones rewritten.
    pub batches: Vec<Batch>,
    /// Local versions that took new numbers.
    pub renumbered: Vec<Renumbered>,
    /// Local changes the remote's overrode.
    pub dropped: Vec<Dropped>,
}

/// What the history before the split point says about versions: each record's artifact and
/// number, each artifact's type and highest number.
#[derive(Default)]
struct Known {
    artifact_of: HashMap<String, (String, u64)>,
    kind_of: HashMap<String, String>,
    highest: HashMap<String, u64>,
}

impl Known {
    fn learn(&mut self, batches: &[Batch]) {
        for entry in batches.iter().flat_map(|b| &b.entries) {
            if let Entry::Version(r) = entry {
                self.note(&r.id, &r.artifact, &r.kind, r.number);
            }
        }
    }

    fn note(&mut self, id: &str, artifact: &str, kind: &str, number: u64) {
        self.artifact_of
            .insert(id.to_owned(), (artifact.to_owned(), number));
        self.kind_of
            .entry(artifact.to_owned())
            .or_insert_with(|| kind.to_owned());
        let top = self.highest.entry(artifact.to_owned()).or_insert(0);
        *top = (*top).max(number);
    }

    fn label(&self, id: &str) -> String {
        self.artifact_of
            .get(id)
            .map_or_else(|| format!("version {id}"), |(a, n)| format!("{a}:v{n}"))
    }
}

/// Rewrites `local` (this store's batches the remote lacks) to follow `remote_new` (the
/// remote's batches this store lacks), both after the shared history `base`. Local versions
/// are numbered after every version of their artifact in `base` and `remote_new`; local alias
/// changes and metadata changes that the remote also made are dropped; a batch left empty is
/// dropped.
///
/// # Errors
/// [`Error::MergeConflict`] when one artifact was created with different types on the two
/// sides (neither can be renumbered into the other).
pub fn rebase(base: &[Batch], remote_new: &[Batch], local: &[Batch]) -> Result<Rebased> {
    let mut known = Known::default();
    known.learn(base);
    known.learn(remote_new);
    // What the remote changed: aliases by (artifact, alias), metadata by version id.
    let mut remote_aliases = BTreeSet::new();
    let mut remote_meta = BTreeSet::new();
    for entry in remote_new.iter().flat_map(|b| &b.entries) {
        match entry {
            Entry::AliasSet { version, alias } => {
                if let Some((artifact, _)) = known.artifact_of.get(version) {
                    remote_aliases.insert((artifact.clone(), alias.clone()));
                }
            }
            Entry::AliasRm { artifact, alias } => {
                remote_aliases.insert((artifact.clone(), alias.clone()));
            }
            Entry::Meta { version, .. } => {
                remote_meta.insert(version.clone());
            }
            _ => {}
        }
    }
    // Parts the remote's new versions commit (collaborative finishes), by part id.
    let mut remote_finished: HashMap<&str, &str> = HashMap::new();
    for entry in remote_new.iter().flat_map(|b| &b.entries) {
        if let Entry::Version(r) = entry {
            for p in &r.parts {
                remote_finished.insert(p, &r.id);
            }
        }
    }
    let mut renumbered = Vec::new();
    let mut dropped = Vec::new();
    let mut batches: Vec<Batch> = remote_new.to_vec();
    let mut new_numbers: BTreeMap<String, u64> = BTreeMap::new();
    // Local versions replaced by the remote's (the same parts finished on both sides).
    let mut same_as: HashMap<String, String> = HashMap::new();
    for batch in local {
        let mut entries = Vec::with_capacity(batch.entries.len());
        for entry in &batch.entries {
            let mut owned;
            let entry = if let Some(v) = version_of(entry).filter(|v| same_as.contains_key(*v)) {
                owned = entry.clone();
                set_version(&mut owned, same_as[v].clone());
                &owned
            } else {
                entry
            };
            match entry {
                Entry::Version(r) if !r.parts.is_empty() => {
                    let finished: Vec<&str> = r
                        .parts
                        .iter()
                        .filter_map(|p| remote_finished.get(p.as_str()).copied())
                        .collect();
                    if finished.len() == r.parts.len() {
                        // Both sides finished this pending version: the remote's stands.
                        let theirs = finished[0].to_owned();
                        dropped.push(Dropped {
                            target: format!("{}:v{}", r.artifact, r.number),
                            change: format!(
                                "finished here too; the remote's {} commits the same parts",
                                known.label(&theirs)
                            ),
                        });
                        same_as.insert(r.id.clone(), theirs);
                        continue;
                    }
                    if !finished.is_empty() {
                        return Err(Error::MergeConflict(format!(
                            "`{}:v{}` commits parts of which the remote finished only some; drop it (`art rm`) and finish again after the pull",
                            r.artifact, r.number
                        )));
                    }
                    entries.push(renumber(r, &mut known, &mut renumbered, &mut new_numbers)?);
                }
                Entry::Version(r) => {
                    entries.push(renumber(r, &mut known, &mut renumbered, &mut new_numbers)?);
                }
                Entry::AliasSet { version, alias } => {
                    let artifact = known.artifact_of.get(version).map(|(a, _)| a.clone());
                    match artifact {
                        Some(a) if remote_aliases.contains(&(a.clone(), alias.clone())) => {
                            dropped.push(Dropped {
                                target: format!("{a}:{alias}"),
                                change: format!("alias set to {}", known.label(version)),
                            });
                        }
                        _ => entries.push(entry.clone()),
                    }
                }
                Entry::AliasRm { artifact, alias } => {
                    if remote_aliases.contains(&(artifact.clone(), alias.clone())) {
                        dropped.push(Dropped {
                            target: format!("{artifact}:{alias}"),
                            change: "alias removed".to_owned(),
                        });
                    } else {
                        entries.push(entry.clone());
                    }
                }
                Entry::Meta { version, .. } if remote_meta.contains(version) => {
                    dropped.push(Dropped {
                        target: known.label(version),
                        change: "description and metadata".to_owned(),
                    });
                }
                other => entries.push(other.clone()),
            }
        }
        if !entries.is_empty() {
            batches.push(Batch::new(batch.id.clone(), batch.time, entries));
        }
    }
    Ok(Rebased {
        batches,
        renumbered,
        dropped,
    })
}

/// A local version numbered after every version of its artifact the merge knows so far.
fn renumber(
    r: &super::VersionRecord,
    known: &mut Known,
    renumbered: &mut Vec<Renumbered>,
    new_numbers: &mut BTreeMap<String, u64>,
) -> Result<Entry> {
    if let Some(kind) = known.kind_of.get(&r.artifact)
        && *kind != r.kind
    {
        return Err(Error::MergeConflict(format!(
            "artifact `{}` has type `{kind}` on the remote and `{}` here",
            r.artifact, r.kind
        )));
    }
    let next = known.highest.get(&r.artifact).map_or(0, |n| n + 1);
    let mut record = r.clone();
    if next != r.number {
        renumbered.push(Renumbered {
            artifact: r.artifact.clone(),
            from: r.number,
            to: next,
        });
        record.number = next;
    }
    new_numbers.insert(r.id.clone(), next);
    known.note(&r.id, &r.artifact, &r.kind, next);
    Ok(Entry::Version(record))
}

/// The version record id an entry names, if it names one.
fn version_of(entry: &Entry) -> Option<&String> {
    match entry {
        Entry::AliasSet { version, .. }
        | Entry::Meta { version, .. }
        | Entry::Tag { version, .. }
        | Entry::Untag { version, .. }
        | Entry::Ttl { version, .. }
        | Entry::Delete { version }
        | Entry::Collected { version }
        | Entry::Use { version, .. } => Some(version),
        Entry::Version(r) => r.link_of.as_ref(),
        _ => None,
    }
}

/// Points an entry at another version (one [`version_of`] found a name in).
fn set_version(entry: &mut Entry, to: String) {
    match entry {
        Entry::AliasSet { version, .. }
        | Entry::Meta { version, .. }
        | Entry::Tag { version, .. }
        | Entry::Untag { version, .. }
        | Entry::Ttl { version, .. }
        | Entry::Delete { version }
        | Entry::Collected { version }
        | Entry::Use { version, .. } => *version = to,
        Entry::Version(r) => r.link_of = Some(to),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Digest, VersionRecord};

    fn version(id: &str, artifact: &str, kind: &str, number: u64) -> Entry {
        Entry::Version(VersionRecord {
            id: id.to_owned(),
            artifact: artifact.to_owned(),
            kind: kind.to_owned(),
            number,
            digest: Digest::of(id.as_bytes()),
            created: 1,
            run: None,
            source_path: None,
            description: None,
            metadata: serde_json::Map::new(),
            size: 0,
            files: 0,
            link_of: None,
            parts: Vec::new(),
            producers: Vec::new(),
        })
    }

    fn batch(id: &str, entries: Vec<Entry>) -> Batch {
        Batch::new(id.to_owned(), 1, entries)
    }

    fn alias(version: &str, alias: &str) -> Entry {
        Entry::AliasSet {
            version: version.to_owned(),
            alias: alias.to_owned(),
        }
    }

    fn numbers(r: &Rebased) -> Vec<(String, u64)> {
        r.batches
            .iter()
            .flat_map(|b| &b.entries)
            .filter_map(|e| match e {
                Entry::Version(v) => Some((v.id.clone(), v.number)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn local_versions_follow_the_remotes() {
        let base = [batch("b0", vec![version("a", "ds", "dataset", 0)])];
        let remote = [batch("r1", vec![version("r", "ds", "dataset", 1)])];
        let local = [
            batch("l1", vec![version("l", "ds", "dataset", 1)]),
            batch("l2", vec![version("m", "model", "model", 0)]),
        ];
        let r = rebase(&base, &remote, &local).unwrap();
        assert_eq!(
            numbers(&r),
            [("r".into(), 1), ("l".into(), 2), ("m".into(), 0)]
        );
        assert_eq!(
            r.renumbered,
            [Renumbered {
                artifact: "ds".into(),
                from: 1,
                to: 2
            }]
        );
        assert_eq!(
            r.batches.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
            ["r1", "l1", "l2"]
        );
    }

    #[test]
    fn the_remote_wins_an_alias_both_moved_and_empty_batches_go() {
        let base = [batch("b0", vec![version("a", "ds", "dataset", 0)])];
        let remote = [batch(
            "r1",
            vec![version("r", "ds", "dataset", 1), alias("r", "best")],
        )];
        let local = [
            batch("l1", vec![version("l", "ds", "dataset", 1)]),
            batch("l2", vec![alias("l", "best")]),
            batch("l3", vec![alias("l", "mine")]),
        ];
        let r = rebase(&base, &remote, &local).unwrap();
        assert_eq!(
            r.batches.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
            ["r1", "l1", "l3"]
        );
        assert_eq!(
            r.dropped,
            [Dropped {
                target: "ds:best".into(),
                change: "alias set to ds:v2".into()
            }]
        );
    }

    #[test]
    fn one_name_with_two_types_is_a_conflict() {
        let remote = [batch("r1", vec![version("r", "ds", "dataset", 0)])];
        let local = [batch("l1", vec![version("l", "ds", "model", 0)])];
        let err = rebase(&[], &remote, &local).unwrap_err().to_string();
        assert!(err.contains("`ds` has type `dataset` on the remote and `model` here"));
    }

    #[test]
    fn nothing_new_on_the_remote_changes_nothing() {
        let base = [batch("b0", vec![version("a", "ds", "dataset", 0)])];
        let local = [batch("l1", vec![version("l", "ds", "dataset", 1)])];
        let r = rebase(&base, &[], &local).unwrap();
        assert_eq!(r.batches, local);
        assert!(r.renumbered.is_empty() && r.dropped.is_empty());
    }

    #[test]
    fn a_pending_version_finished_on_both_sides_keeps_the_remotes() {
        let finish = |id: &str, number: u64, parts: &[&str]| {
            let Entry::Version(mut r) = version(id, "preds", "predictions", number) else {
                unreachable!()
            };
            r.parts = parts.iter().map(|p| (*p).to_owned()).collect();
            Entry::Version(r)
        };
        let base = [batch("b0", vec![version("a", "preds", "predictions", 0)])];
        let remote = [batch("r1", vec![finish("r", 1, &["p1", "p2"])])];
        let local = [
            batch(
                "l1",
                vec![finish("l", 1, &["p2", "p1"]), alias("l", "evaluated")],
            ),
            batch("l2", vec![alias("l", "best")]),
        ];
        let r = rebase(&base, &remote, &local).unwrap();
        assert_eq!(
            numbers(&r),
            [("r".into(), 1)],
            "no second version of the same parts"
        );
        let aliases: Vec<&Entry> = r.batches.iter().skip(1).flat_map(|b| &b.entries).collect();
        assert_eq!(aliases, [&alias("r", "evaluated"), &alias("r", "best")]);
        assert_eq!(r.dropped[0].target, "preds:v1");
        assert!(r.dropped[0].change.contains("preds:v1"), "{:?}", r.dropped);

        let partly = [batch("l1", vec![finish("l", 1, &["p1", "p3"])])];
        assert!(matches!(
            rebase(&base, &remote, &partly),
            Err(Error::MergeConflict(_))
        ));
    }
}
