//! The index as a cache of the record log: applying an entry, loading and exporting a
//! checkpoint, and the number of the last batch applied. Commands and replay (on open and in a
//! rebuild) apply batches through one function (`api::records::apply`, which adds the pack
//! entries), so the live index and a rebuilt one cannot diverge.

use super::parts as pq;
use super::registry as reg;
use super::runs as rq;
use super::versions as vq;
use super::{Error, Result, RunRow, VersionRow, VersionState};
use crate::model::{
    AliasName, AliasState, ArtifactName, ArtifactState, ArtifactType, CHECKPOINT_FORMAT,
    Checkpoint, Entry, InputState, ProtectedAlias, RecordedVersion, RunRecord, VersionRecord,
};
use rusqlite::{Connection, OptionalExtension, params};

/// The last log batch the index has applied (0: none).
///
/// # Errors
/// SQLite errors.
pub fn applied_seq(conn: &Connection) -> Result<u64> {
    let seq: i64 = conn.query_row("SELECT applied_seq FROM log_state WHERE id = 0", [], |r| {
        r.get(0)
    })?;
    Ok(u64::try_from(seq).unwrap_or(0))
}

/// Records that the index has applied every batch up to `seq`.
///
/// # Errors
/// SQLite errors.
pub fn set_applied_seq(conn: &Connection, seq: u64) -> Result<()> {
    conn.execute(
        "UPDATE log_state SET applied_seq = ?1 WHERE id = 0",
        [i64::try_from(seq).unwrap_or(i64::MAX)],
    )?;
    Ok(())
}

/// The row id of the version with this record id.
///
/// # Errors
/// SQLite errors; [`Error::Corrupt`] when no version has it.
pub fn version_of_record(conn: &Connection, record: &str) -> Result<VersionRow> {
    let id: Option<i64> = conn
        .prepare_cached("SELECT id FROM versions WHERE record_id = ?1")?
        .query_row([record], |r| r.get(0))
        .optional()?;
    id.map(|id| vq::version_by_id(conn, id))
        .transpose()?
        .flatten()
        .ok_or_else(|| Error::Corrupt(format!("the log names unknown version record `{record}`")))
}

/// The record id of a version row.
///
/// # Errors
/// SQLite errors; [`Error::Corrupt`] for a version without one (the store upgrade gives every
/// version one).
pub fn record_of_version(conn: &Connection, version_id: i64) -> Result<String> {
    conn.prepare_cached("SELECT record_id FROM versions WHERE id = ?1")?
        .query_row([version_id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten()
        .ok_or_else(|| Error::Corrupt(format!("version {version_id} has no record")))
}

/// Deleted versions gc collects now: deleted no later than `deleted_after` (epoch ms) and not
/// collected before.
///
/// # Errors
/// SQLite errors.
pub fn versions_to_collect(conn: &Connection, deleted_after: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare(
        "SELECT id FROM versions WHERE state = 'DELETED' AND collected_at IS NULL
         AND updated_at <= ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([deleted_after], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The record a version was logged with, as the index keeps it.
fn stored_record(conn: &Connection, version_id: i64) -> Result<Option<VersionRecord>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT record FROM versions WHERE id = ?1")?
        .query_row([version_id], |r| r.get(0))
        .optional()?
        .flatten();
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| Error::Corrupt(format!("record of version {version_id}: {e}")))
    })
    .transpose()
}

/// Version rows that have no record yet (stores made before the record log), with the
/// creation time a new record id takes.
///
/// # Errors
/// SQLite errors.
pub fn versions_without_record(conn: &Connection) -> Result<Vec<(i64, i64)>> {
    let mut stmt =
        conn.prepare("SELECT id, created_at FROM versions WHERE record_id IS NULL ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Gives a version row its record: the version as it stands, under the id `record`. For
/// versions logged before records existed, what they were logged with is no longer known.
///
/// # Errors
/// SQLite errors; a row of a missing artifact.
pub fn record_existing(conn: &Connection, version_id: i64, record: &str) -> Result<()> {
    let v = vq::version_by_id(conn, version_id)?
        .ok_or_else(|| Error::Corrupt(format!("version {version_id} vanished")))?;
    let (artifact, kind) = rq::artifact_name_and_type(conn, v.artifact_id)?;
    let r = VersionRecord {
        id: record.to_owned(),
        artifact,
        kind,
        number: v.idx,
        digest: v.digest,
        created: v.created_at,
        run: v.logged_by_run,
        source_path: v.source_path,
        description: v.description,
        metadata: v.metadata,
        size: v.size,
        files: v.file_count,
        link_of: None,
        parts: Vec::new(),
        producers: Vec::new(),
    };
    set_record(conn, version_id, &r)
}

fn set_record(conn: &Connection, version_id: i64, r: &VersionRecord) -> Result<()> {
    conn.execute(
        "UPDATE versions SET record_id = ?2, record = ?3 WHERE id = ?1",
        params![
            version_id,
            r.id,
            serde_json::to_string(r).expect("records are plain JSON")
        ],
    )?;
    Ok(())
}

fn artifact_id(conn: &Connection, name: &str) -> Result<i64> {
    vq::try_artifact(conn, name)?
        .map(|a| a.id)
        .ok_or_else(|| Error::Corrupt(format!("the log names unknown artifact `{name}`")))
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| Error::Corrupt(format!("{what} `{text}` in the log: {e}")))
}

fn alias(text: &str) -> Result<AliasName> {
    // `latest` is managed by art and so refused by `AliasName`'s parser, but the log may move it.
    if text == AliasName::LATEST {
        Ok(AliasName::latest())
    } else {
        parse(text, "alias")
    }
}

fn insert_version(conn: &Connection, r: &VersionRecord, row: VersionRow) -> Result<i64> {
    let id = vq::insert_version(conn, &row)?;
    set_record(conn, id, r)?;
    pq::add_producers(conn, id, &r.producers)?;
    if let Some(source) = &r.link_of {
        reg::set_link(conn, id, version_of_record(conn, source)?.id)?;
    }
    Ok(id)
}

fn set_collected(conn: &Connection, version_id: i64, time: i64) -> Result<()> {
    conn.execute(
        "UPDATE versions SET collected_at = ?2 WHERE id = ?1",
        params![version_id, time],
    )?;
    Ok(())
}

fn version_row(r: &VersionRecord, artifact_id: i64) -> VersionRow {
    VersionRow {
        id: 0,
        artifact_id,
        idx: r.number,
        digest: r.digest,
        state: VersionState::Committed,
        description: r.description.clone(),
        metadata: r.metadata.clone(),
        source_path: r.source_path.clone(),
        size: r.size,
        file_count: r.files,
        created_at: r.created,
        updated_at: r.created,
        logged_by_run: r.run.clone(),
        collected_at: None,
    }
}

fn run_row(r: &RunRecord) -> RunRow {
    RunRow {
        id: r.id.clone(),
        name: r.name.clone(),
        group: r.group.clone(),
        job_type: r.job_type.clone(),
        config: r.config.clone(),
        summary: r.summary.clone(),
        status: r.status,
        started_at: r.started,
        finished_at: r.finished,
        exit_code: r.exit_code,
    }
}

/// The record of a run's current state.
#[must_use]
pub fn run_record(r: &RunRow) -> RunRecord {
    RunRecord {
        id: r.id.clone(),
        name: r.name.clone(),
        group: r.group.clone(),
        job_type: r.job_type.clone(),
        config: r.config.clone(),
        summary: r.summary.clone(),
        status: r.status,
        started: r.started_at,
        finished: r.finished_at,
        exit_code: r.exit_code,
    }
}

/// Applies one entry of a batch made at `time`. Pack entries are the caller's: they need the
/// pack files' trailers, which this layer does not read.
///
/// # Errors
/// SQLite errors; [`Error::Corrupt`] when an entry names something the index lacks.
pub fn apply_entry(conn: &Connection, entry: &Entry, time: i64) -> Result<()> {
    match entry {
        Entry::Packs { .. } | Entry::PacksRemoved { .. } | Entry::BlobsForgotten { .. } => {}
        Entry::Version(r) => {
            let artifact = if let Some(a) = vq::try_artifact(conn, &r.artifact)? {
                a.id
            } else {
                let id = vq::insert_artifact(
                    conn,
                    &parse::<ArtifactName>(&r.artifact, "artifact name")?,
                    &parse::<ArtifactType>(&r.kind, "artifact type")?,
                    r.created,
                )?;
                if r.link_of.is_some() {
                    reg::set_collection(conn, id)?;
                }
                id
            };
            let id = insert_version(conn, r, version_row(r, artifact))?;
            vq::set_alias(conn, artifact, &AliasName::latest(), id)?;
            // A collaborative version commits its parts: they are no longer pending.
            pq::remove(conn, &r.parts)?;
        }
        Entry::Part(p) => {
            // From another store's log too: the names must follow art's rules.
            parse::<ArtifactName>(&p.artifact, "artifact name")?;
            parse::<ArtifactType>(&p.kind, "artifact type")?;
            if p.distributed_id.is_empty() || p.distributed_id.chars().any(char::is_control) {
                return Err(Error::Corrupt(format!(
                    "part `{}` has a malformed distributed id",
                    p.id
                )));
            }
            pq::insert(conn, p)?;
        }
        Entry::PartsDropped {
            artifact,
            distributed_id,
            parts,
        } => pq::remove_of(conn, artifact, distributed_id, parts)?,
        Entry::Tag { version, tag } => {
            reg::add_tag(conn, version_of_record(conn, version)?.id, tag)?;
        }
        Entry::Untag { version, tag } => {
            reg::remove_tag(conn, version_of_record(conn, version)?.id, tag)?;
        }
        Entry::AliasProtect { artifact, alias } => {
            reg::set_protected(conn, artifact_id(conn, artifact)?, alias, true)?;
        }
        Entry::AliasUnprotect { artifact, alias } => {
            reg::set_protected(conn, artifact_id(conn, artifact)?, alias, false)?;
        }
        Entry::Ttl { version, expires } => {
            reg::set_expiry(conn, version_of_record(conn, version)?.id, *expires)?;
        }
        Entry::AliasSet { version, alias: a } => {
            let v = version_of_record(conn, version)?;
            vq::set_alias(conn, v.artifact_id, &alias(a)?, v.id)?;
        }
        Entry::AliasRm { artifact, alias } => {
            vq::remove_alias(conn, artifact_id(conn, artifact)?, alias)?;
        }
        Entry::Meta {
            version,
            description,
            metadata,
        } => {
            let v = version_of_record(conn, version)?;
            vq::update_version_meta(conn, v.id, description.as_deref(), metadata, time)?;
        }
        Entry::Delete { version } => {
            let v = version_of_record(conn, version)?;
            vq::remove_aliases_of(conn, v.id)?;
            vq::set_state(conn, v.id, VersionState::Deleted, time)?;
            if vq::alias_target(conn, v.artifact_id, AliasName::LATEST)?.is_none()
                && let Some(newest) = vq::versions_of(conn, v.artifact_id)?
                    .into_iter()
                    .rev()
                    .find(|v| v.state != VersionState::Deleted)
            {
                vq::set_alias(conn, v.artifact_id, &AliasName::latest(), newest.id)?;
            }
        }
        Entry::Collected { version } => {
            set_collected(conn, version_of_record(conn, version)?.id, time)?;
        }
        Entry::Run(r) => {
            let row = run_row(r);
            if rq::try_run(conn, &r.id)?.is_some() {
                rq::update_run(conn, &row)?;
            } else {
                rq::insert_run(conn, &row)?;
            }
        }
        Entry::Use { run, version } => {
            let v = version_of_record(conn, version)?;
            rq::add_input(conn, run, v.id, time)?;
        }
    }
    Ok(())
}

fn state_name(s: VersionState) -> &'static str {
    match s {
        VersionState::Pending => "pending",
        VersionState::Committed => "committed",
        VersionState::Deleted => "deleted",
    }
}

/// The whole recorded state, as a checkpoint after batch `seq`, without its packs (the caller
/// reads their trailers).
///
/// # Errors
/// SQLite errors; a version without a record id.
pub fn export_checkpoint(conn: &Connection, seq: u64, time: i64) -> Result<Checkpoint> {
    let artifacts = vq::all_artifacts(conn)?;
    let mut versions = Vec::new();
    let mut records = std::collections::HashMap::new();
    let mut stmt = conn.prepare("SELECT id FROM versions ORDER BY id")?;
    let ids: Vec<i64> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in ids {
        let v = vq::version_by_id(conn, id)?
            .ok_or_else(|| Error::Corrupt(format!("version {id} vanished")))?;
        let record = stored_record(conn, id)?
            .ok_or_else(|| Error::Corrupt(format!("version {id} has no record")))?;
        records.insert(id, record.id.clone());
        versions.push(RecordedVersion {
            record,
            state: state_name(v.state).to_owned(),
            description: v.description,
            metadata: v.metadata,
            updated: v.updated_at,
            collected: v.collected_at,
            expires: reg::expiry_of(conn, id)?,
            tags: reg::tags_of(conn, id)?,
        });
    }
    let mut aliases = Vec::new();
    let mut protected = Vec::new();
    for a in &artifacts {
        for alias in reg::protected_aliases(conn, a.id)? {
            protected.push(ProtectedAlias {
                artifact: a.name.clone(),
                alias,
            });
        }
        let mut stmt = conn.prepare_cached(
            "SELECT version_id, alias FROM aliases WHERE artifact_id = ?1 ORDER BY alias",
        )?;
        let rows: Vec<(i64, String)> = stmt
            .query_map([a.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (v, alias) in rows {
            let version = records
                .get(&v)
                .cloned()
                .ok_or_else(|| Error::Corrupt(format!("alias `{alias}` names no version")))?;
            aliases.push(AliasState { version, alias });
        }
    }
    let runs = rq::list_runs(conn, None, None)?
        .iter()
        .map(run_record)
        .collect();
    let mut stmt = conn.prepare(
        "SELECT run_id, version_id, used_at FROM run_inputs ORDER BY used_at, run_id, version_id",
    )?;
    let edges: Vec<(String, i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let inputs = edges
        .into_iter()
        .map(|(run, v, time)| {
            Ok(InputState {
                run,
                version: records
                    .get(&v)
                    .cloned()
                    .ok_or_else(|| Error::Corrupt(format!("input edge to missing version {v}")))?,
                time,
            })
        })
        .collect::<Result<_>>()?;
    let mut cp = Checkpoint {
        format: CHECKPOINT_FORMAT,
        seq,
        time,
        artifacts: artifacts
            .into_iter()
            .map(|a| ArtifactState {
                name: a.name,
                kind: a.kind,
                created: a.created_at,
                collection: a.collection,
            })
            .collect(),
        versions,
        aliases,
        runs,
        inputs,
        protected,
        parts: pq::all(conn, None)?,
        packs: Vec::new(),
    };
    cp.format = cp.format_needed();
    Ok(cp)
}

/// Loads a checkpoint's records into an empty index (its packs are the caller's); the caller
/// commits.
///
/// # Errors
/// SQLite errors; names that break art's rules.
pub fn load_checkpoint(conn: &Connection, cp: &Checkpoint) -> Result<()> {
    for a in &cp.artifacts {
        let id = vq::insert_artifact(
            conn,
            &parse::<ArtifactName>(&a.name, "artifact name")?,
            &parse::<ArtifactType>(&a.kind, "artifact type")?,
            a.created,
        )?;
        if a.collection {
            reg::set_collection(conn, id)?;
        }
    }
    for v in &cp.versions {
        let mut row = version_row(&v.record, artifact_id(conn, &v.record.artifact)?);
        row.state = match v.state.as_str() {
            "committed" => VersionState::Committed,
            "deleted" => VersionState::Deleted,
            "pending" => VersionState::Pending,
            other => {
                return Err(Error::Corrupt(format!(
                    "version state `{other}` in a checkpoint"
                )));
            }
        };
        row.description.clone_from(&v.description);
        row.metadata.clone_from(&v.metadata);
        row.updated_at = v.updated;
        let id = insert_version(conn, &v.record, row)?;
        if let Some(time) = v.collected {
            set_collected(conn, id, time)?;
        }
        reg::set_expiry(conn, id, v.expires)?;
        for tag in &v.tags {
            reg::add_tag(conn, id, tag)?;
        }
    }
    for p in &cp.protected {
        reg::set_protected(conn, artifact_id(conn, &p.artifact)?, &p.alias, true)?;
    }
    for a in &cp.aliases {
        let v = version_of_record(conn, &a.version)?;
        vq::set_alias(conn, v.artifact_id, &alias(&a.alias)?, v.id)?;
    }
    for r in &cp.runs {
        rq::insert_run(conn, &run_row(r))?;
    }
    for i in &cp.inputs {
        let v = version_of_record(conn, &i.version)?;
        rq::add_input(conn, &i.run, v.id, i.time)?;
    }
    for p in &cp.parts {
        pq::insert(conn, p)?;
    }
    set_applied_seq(conn, cp.seq)
}
