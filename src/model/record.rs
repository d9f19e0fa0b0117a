//! Version records, log batches and checkpoints: what the user recorded, as immutable,
//! canonical JSON documents. The index is rebuilt from these (and the packs); see
//! `docs/FORMAT.md`, "Records and the log".
//!
//! Every document is compact JSON with fields in declaration order and object keys sorted
//! (serde_json's map is ordered by key), so encoding is canonical: one state, one byte string.
//! Entries name versions by their record id (a ULID) and runs by their run id, never by a
//! row number, so logs of different stores can be merged.

use super::{Digest, Error, Result, RunStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The format number of log batches this build writes and reads (2: collections, tags,
/// protected aliases and TTLs; 3: collaborative parts; older batches read unchanged).
pub const LOG_FORMAT: u32 = 3;
/// The format number of checkpoints this build writes and reads (as [`LOG_FORMAT`]).
pub const CHECKPOINT_FORMAT: u32 = 3;

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// The immutable record of one committed version, written when it is logged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRecord {
    /// A ULID naming this version in every store it reaches.
    pub id: String,
    /// The artifact's name.
    pub artifact: String,
    /// The artifact's type (fixed at its first version).
    #[serde(rename = "type")]
    pub kind: String,
    /// The number in `vN`.
    pub number: u64,
    /// The version digest (BLAKE3 of the canonical manifest).
    pub digest: Digest,
    /// When it was logged (epoch ms).
    pub created: i64,
    /// The run that logged it.
    pub run: Option<String>,
    /// The directory it was logged from, relative to the directory holding `.artifacts`.
    pub source_path: Option<String>,
    /// The description it was logged with.
    pub description: Option<String>,
    /// The metadata it was logged with.
    pub metadata: Map<String, Value>,
    /// Sum of file sizes (from the manifest; kept so a rebuild need not read it).
    pub size: u64,
    /// Number of manifest entries.
    pub files: u64,
    /// In a collection: the record id of the version this one links to (its content,
    /// description and metadata at link time); absent for an artifact's own versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_of: Option<String>,
    /// A collaborative version: the record ids of the pending parts it commits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<String>,
    /// A collaborative version: the runs that wrote its parts (besides `run`, the one that
    /// finished it), sorted; all of them are its producers in the lineage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub producers: Vec<String>,
}

/// One writer's contribution to a collaborative version: the files it added under a
/// distributed id, pending until `art finish` commits every part of that id as one version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartRecord {
    /// A ULID naming this part.
    pub id: String,
    /// The artifact's name.
    pub artifact: String,
    /// The artifact type the writer asked for (checked against the others at finish).
    #[serde(rename = "type")]
    pub kind: String,
    /// The pending version it belongs to.
    pub distributed_id: String,
    /// The digest of the manifest of the files this writer added.
    pub manifest: Digest,
    /// Number of its manifest entries.
    pub files: u64,
    /// Sum of its file sizes.
    pub size: u64,
    /// The run that wrote it.
    pub run: Option<String>,
    /// When it was written (epoch ms).
    pub created: i64,
}

/// A run's whole state: written when it starts and whenever it changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// The run id (a ULID; stores older than runs may hold free-form labels).
    pub id: String,
    /// A name for people.
    pub name: Option<String>,
    /// Its group (sweep).
    pub group: Option<String>,
    /// Its job type.
    pub job_type: Option<String>,
    /// Its configuration.
    pub config: Map<String, Value>,
    /// Its summary metrics.
    pub summary: Map<String, Value>,
    /// Running, ok or failed.
    pub status: RunStatus,
    /// Start time (epoch ms).
    pub started: i64,
    /// Finish time (epoch ms), while finished.
    pub finished: Option<i64>,
    /// Exit status of the command (`art run exec`).
    pub exit_code: Option<i32>,
}

/// One change, as a log batch lists it. Times are the batch's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    /// Packs the command made durable: the index learns their blobs from their trailers.
    Packs {
        /// Pack hashes (file names).
        packs: Vec<Digest>,
    },
    /// Packs gc deleted or rewrote: the index forgets them and their blobs.
    PacksRemoved {
        /// Pack hashes.
        packs: Vec<Digest>,
    },
    /// Blobs gc found dead in packs it kept: the index forgets them (their bytes stay).
    BlobsForgotten {
        /// Blob hashes.
        blobs: Vec<Digest>,
    },
    /// A new version (and its artifact, on its first version); `latest` moves to it.
    Version(VersionRecord),
    /// An alias now names this version.
    AliasSet {
        /// The version's record id.
        version: String,
        /// The alias.
        alias: String,
    },
    /// An alias was removed.
    AliasRm {
        /// The artifact.
        artifact: String,
        /// The alias.
        alias: String,
    },
    /// A version's description and metadata now read so.
    Meta {
        /// The version's record id.
        version: String,
        /// The whole description.
        description: Option<String>,
        /// The whole metadata object.
        metadata: Map<String, Value>,
    },
    /// Tags added to a version.
    Tag {
        /// The version's record id.
        version: String,
        /// The tag.
        tag: String,
    },
    /// A tag removed from a version.
    Untag {
        /// The version's record id.
        version: String,
        /// The tag.
        tag: String,
    },
    /// An alias of an artifact or collection is protected: moving or removing it needs
    /// `--force`, and no version carrying it is deleted.
    AliasProtect {
        /// The artifact or collection.
        artifact: String,
        /// The alias.
        alias: String,
    },
    /// An alias is no longer protected.
    AliasUnprotect {
        /// The artifact or collection.
        artifact: String,
        /// The alias.
        alias: String,
    },
    /// A version's expiry: `art gc` deletes it once passed (none: it never expires).
    Ttl {
        /// The version's record id.
        version: String,
        /// When it expires (epoch ms).
        expires: Option<i64>,
    },
    /// A version was deleted: its aliases go and `latest` moves to the newest live version.
    Delete {
        /// The version's record id.
        version: String,
    },
    /// gc removed the content of a deleted version.
    Collected {
        /// The version's record id.
        version: String,
    },
    /// A run started or changed; the record is its whole state.
    Run(RunRecord),
    /// A writer added a part to a pending collaborative version.
    Part(PartRecord),
    /// A pending collaborative version was abandoned: its parts are dropped.
    PartsDropped {
        /// The artifact.
        artifact: String,
        /// The pending version's distributed id.
        distributed_id: String,
        /// The record ids of the parts dropped.
        parts: Vec<String>,
    },
    /// A run used a version (an input edge).
    Use {
        /// The run id.
        run: String,
        /// The version's record id.
        version: String,
    },
}

/// The oldest log format that holds `entries`: 3 only for collaborative parts, so a store
/// (or remote) that never used them stays readable by the art before them.
fn format_of_entries(entries: &[Entry]) -> u32 {
    let collaborative = entries.iter().any(|e| match e {
        Entry::Part(_) | Entry::PartsDropped { .. } => true,
        Entry::Version(r) => !r.parts.is_empty() || !r.producers.is_empty(),
        _ => false,
    });
    if collaborative { LOG_FORMAT } else { 2 }
}

/// What one command changed: the unit the log appends atomically.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// [`LOG_FORMAT`].
    pub format: u32,
    /// A ULID naming the batch.
    pub id: String,
    /// When the command committed (epoch ms); the time of every entry.
    pub time: i64,
    /// The changes, applied in order.
    pub entries: Vec<Entry>,
}

/// An artifact in a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactState {
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it was first logged (epoch ms).
    pub created: i64,
    /// Whether it is a collection (its versions link to other artifacts' versions).
    #[serde(default, skip_serializing_if = "is_false")]
    pub collection: bool,
}

/// A version in a checkpoint: its record and what changed since.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionState {
    /// The record it was logged with.
    pub record: VersionRecord,
    /// `committed` or `deleted`.
    pub state: String,
    /// The current description.
    pub description: Option<String>,
    /// The current metadata.
    pub metadata: Map<String, Value>,
    /// Last change of state, description or metadata (epoch ms).
    pub updated: i64,
    /// When gc removed its content (deleted versions only).
    pub collected: Option<i64>,
    /// When it expires (epoch ms), if it has a TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Its tags, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// An alias in a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasState {
    /// The version's record id.
    pub version: String,
    /// The alias.
    pub alias: String,
}

/// An input edge in a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputState {
    /// The run id.
    pub run: String,
    /// The version's record id.
    pub version: String,
    /// When it was first used (epoch ms).
    pub time: i64,
}

/// A pack in a checkpoint: the index holds the blobs its trailer lists, except those gc forgot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackState {
    /// The pack's hash (its file name).
    pub hash: Digest,
    /// Blobs of its trailer the index does not hold.
    pub forgotten: Vec<Digest>,
}

/// The whole recorded state after batch `seq`: replay starts here instead of at batch 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// [`CHECKPOINT_FORMAT`].
    pub format: u32,
    /// The last batch it includes (0: none).
    pub seq: u64,
    /// When it was written (epoch ms).
    pub time: i64,
    /// Artifacts, by name.
    pub artifacts: Vec<ArtifactState>,
    /// Versions, in the order they were logged.
    pub versions: Vec<VersionState>,
    /// Aliases, by artifact and alias.
    pub aliases: Vec<AliasState>,
    /// Runs, by start time.
    pub runs: Vec<RunRecord>,
    /// Input edges, in the order they were recorded.
    pub inputs: Vec<InputState>,
    /// Protected aliases, by artifact and alias.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected: Vec<ProtectedAlias>,
    /// Parts of pending collaborative versions, in the order they were written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartRecord>,
    /// Packs the index holds, in the order it learned them.
    pub packs: Vec<PackState>,
}

/// A protected alias in a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectedAlias {
    /// The artifact or collection.
    pub artifact: String,
    /// The alias.
    pub alias: String,
}

/// Canonical bytes of a record document.
fn encode<T: Serialize>(doc: &T) -> Vec<u8> {
    serde_json::to_vec(doc).expect("records are plain JSON")
}

/// Reads the `format` field first, so a newer document is refused as such and not as garbage.
fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str, supported: u32) -> Result<T> {
    #[derive(Deserialize)]
    struct Head {
        format: u32,
    }
    let head: Head =
        serde_json::from_slice(bytes).map_err(|e| Error::CorruptRecord(format!("{what}: {e}")))?;
    if head.format > supported {
        return Err(Error::NewerRecord {
            what: what.to_owned(),
            found: head.format,
            supported,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| Error::CorruptRecord(format!("{what}: {e}")))
}

impl Batch {
    /// A batch of `entries` committed at `time`.
    #[must_use]
    pub fn new(id: String, time: i64, entries: Vec<Entry>) -> Self {
        Batch {
            format: format_of_entries(&entries),
            id,
            time,
            entries,
        }
    }

    /// The canonical bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Parses a batch.
    ///
    /// # Errors
    /// [`Error::NewerRecord`] for a newer format; [`Error::CorruptRecord`] otherwise.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        decode(bytes, "log batch", LOG_FORMAT)
    }

    /// The batch as other stores see it: what was recorded (versions, aliases, metadata,
    /// deletions, runs, lineage, the packs holding new content), without what gc did to this
    /// store's own copies (`packs_removed`, `blobs_forgotten`, `collected`), which would make
    /// another store forget packs it still reads from a remote. `None` when nothing is left.
    #[must_use]
    pub fn shared(&self) -> Option<Batch> {
        let entries: Vec<Entry> = self
            .entries
            .iter()
            .filter(|e| {
                !matches!(
                    e,
                    Entry::PacksRemoved { .. }
                        | Entry::BlobsForgotten { .. }
                        | Entry::Collected { .. }
                )
            })
            .cloned()
            .collect();
        (!entries.is_empty()).then(|| Batch::new(self.id.clone(), self.time, entries))
    }
}

impl Checkpoint {
    /// The oldest checkpoint format that holds this state (see [`Batch::new`]).
    #[must_use]
    pub fn format_needed(&self) -> u32 {
        let collaborative = !self.parts.is_empty()
            || self
                .versions
                .iter()
                .any(|v| !v.record.parts.is_empty() || !v.record.producers.is_empty());
        if collaborative { CHECKPOINT_FORMAT } else { 2 }
    }

    /// The canonical bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Parses a checkpoint.
    ///
    /// # Errors
    /// [`Error::NewerRecord`] for a newer format; [`Error::CorruptRecord`] otherwise.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        decode(bytes, "checkpoint", CHECKPOINT_FORMAT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> VersionRecord {
        VersionRecord {
            id: "01JABCDEFGHJKMNPQRSTVWXYZ0".into(),
            artifact: "model".into(),
            kind: "model".into(),
            number: 3,
            digest: Digest::of(b"manifest"),
            created: 1_700_000_000_000,
            run: Some("01JRUN0000000000000000000A".into()),
            source_path: Some("out".into()),
            description: Some("lr 0.01".into()),
            metadata: json!({"z": 1, "a": {"y": [1.5, "x"], "b": null}})
                .as_object()
                .cloned()
                .expect("object"),
            size: 10,
            files: 2,
            link_of: None,
            parts: Vec::new(),
            producers: Vec::new(),
        }
    }

    fn batch() -> Batch {
        Batch::new(
            "01JBATCH000000000000000000".into(),
            1_700_000_000_001,
            vec![
                Entry::Packs {
                    packs: vec![Digest::of(b"pack")],
                },
                Entry::PacksRemoved {
                    packs: vec![Digest::of(b"old")],
                },
                Entry::BlobsForgotten {
                    blobs: vec![Digest::of(b"blob")],
                },
                Entry::Version(record()),
                Entry::AliasSet {
                    version: record().id,
                    alias: "best".into(),
                },
                Entry::AliasRm {
                    artifact: "model".into(),
                    alias: "prod".into(),
                },
                Entry::Meta {
                    version: record().id,
                    description: None,
                    metadata: Map::new(),
                },
                Entry::Delete {
                    version: record().id,
                },
                Entry::Collected {
                    version: record().id,
                },
                Entry::Tag {
                    version: record().id,
                    tag: "golden".into(),
                },
                Entry::Untag {
                    version: record().id,
                    tag: "golden".into(),
                },
                Entry::AliasProtect {
                    artifact: "model".into(),
                    alias: "production".into(),
                },
                Entry::AliasUnprotect {
                    artifact: "model".into(),
                    alias: "production".into(),
                },
                Entry::Ttl {
                    version: record().id,
                    expires: Some(86_400_000),
                },
                Entry::Run(RunRecord {
                    id: "01JRUN0000000000000000000A".into(),
                    name: Some("baseline".into()),
                    group: None,
                    job_type: Some("train".into()),
                    config: Map::new(),
                    summary: json!({"acc": 0.91}).as_object().cloned().expect("object"),
                    status: RunStatus::Ok,
                    started: 1,
                    finished: Some(2),
                    exit_code: Some(0),
                }),
                Entry::Use {
                    run: "01JRUN0000000000000000000A".into(),
                    version: record().id,
                },
                Entry::Part(PartRecord {
                    id: "01JPART0000000000000000000".into(),
                    artifact: "preds".into(),
                    kind: "predictions".into(),
                    distributed_id: "eval-7".into(),
                    manifest: Digest::of(b"part"),
                    files: 1,
                    size: 4,
                    run: None,
                    created: 3,
                }),
                Entry::PartsDropped {
                    artifact: "preds".into(),
                    distributed_id: "eval-7".into(),
                    parts: vec!["01JPART0000000000000000000".into()],
                },
            ],
        )
    }

    #[test]
    fn batch_round_trips_and_is_canonical() {
        let b = batch();
        let bytes = b.encode();
        let back = Batch::decode(&bytes).expect("decode");
        assert_eq!(back, b);
        assert_eq!(back.encode(), bytes, "re-encoding gives the same bytes");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(text.starts_with(r#"{"format":3,"id":"01JBATCH000000000000000000","time":1700000000001,"entries":[{"op":"packs","packs":[""#));
        // Object keys are sorted at every depth, whatever order they were written in.
        assert!(text.contains(r#""metadata":{"a":{"b":null,"y":[1.5,"x"]},"z":1}"#));
    }

    #[test]
    fn snapshot_of_a_version_entry() {
        let b = Batch::new(
            "01JBATCH000000000000000000".into(),
            5,
            vec![Entry::Version(record())],
        );
        insta::assert_snapshot!(String::from_utf8(b.encode()).expect("utf-8"));
    }

    #[test]
    fn reordered_keys_decode_to_the_same_canonical_bytes() {
        let text = r#"{"entries":[{"alias":"best","version":"V","op":"alias_set"}],"time":7,"id":"B","format":1}"#;
        let b = Batch::decode(text.as_bytes()).expect("decode");
        assert_eq!(
            String::from_utf8(b.encode()).expect("utf-8"),
            r#"{"format":1,"id":"B","time":7,"entries":[{"op":"alias_set","version":"V","alias":"best"}]}"#
        );
    }

    #[test]
    fn newer_formats_and_unknown_fields_are_refused() {
        let newer = r#"{"format":4,"id":"B","time":7,"entries":[],"extra":1}"#;
        let err = Batch::decode(newer.as_bytes()).expect_err("newer");
        assert!(matches!(err, Error::NewerRecord { found: 4, .. }), "{err}");
        assert!(err.to_string().contains("upgrade art"), "{err}");
        let unknown = r#"{"format":1,"id":"B","time":7,"entries":[{"op":"teleport"}]}"#;
        assert!(matches!(
            Batch::decode(unknown.as_bytes()),
            Err(Error::CorruptRecord(_))
        ));
        let extra = r#"{"format":1,"id":"B","time":7,"entries":[],"x":1}"#;
        assert!(matches!(
            Batch::decode(extra.as_bytes()),
            Err(Error::CorruptRecord(_))
        ));
        let cp = r#"{"format":9,"seq":1}"#;
        assert!(matches!(
            Checkpoint::decode(cp.as_bytes()),
            Err(Error::NewerRecord { found: 9, .. })
        ));
    }

    #[test]
    fn checkpoint_round_trips() {
        let cp = Checkpoint {
            format: CHECKPOINT_FORMAT,
            seq: 12,
            time: 99,
            artifacts: vec![ArtifactState {
                name: "model".into(),
                kind: "model".into(),
                created: 1,
                collection: true,
            }],
            versions: vec![VersionState {
                record: VersionRecord {
                    link_of: Some("01JSOURCE00000000000000000".into()),
                    parts: vec!["01JPART0000000000000000000".into()],
                    producers: vec!["01JRUN0000000000000000000B".into()],
                    ..record()
                },
                state: "deleted".into(),
                description: None,
                metadata: Map::new(),
                updated: 5,
                collected: Some(6),
                expires: Some(7),
                tags: vec!["golden".into()],
            }],
            aliases: vec![AliasState {
                version: record().id,
                alias: "best".into(),
            }],
            runs: Vec::new(),
            inputs: vec![InputState {
                run: "R".into(),
                version: record().id,
                time: 3,
            }],
            protected: vec![ProtectedAlias {
                artifact: "model".into(),
                alias: "production".into(),
            }],
            parts: vec![PartRecord {
                id: "01JPART0000000000000000001".into(),
                artifact: "preds".into(),
                kind: "predictions".into(),
                distributed_id: "eval-7".into(),
                manifest: Digest::of(b"part"),
                files: 2,
                size: 8,
                run: Some("R".into()),
                created: 4,
            }],
            packs: vec![PackState {
                hash: Digest::of(b"pack"),
                forgotten: vec![Digest::of(b"blob")],
            }],
        };
        let bytes = cp.encode();
        let back = Checkpoint::decode(&bytes).expect("decode");
        assert_eq!(back, cp);
        assert_eq!(back.encode(), bytes);
    }
}
