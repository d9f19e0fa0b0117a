//! The registry: collections that link versions of other artifacts (`art link`, `unlink`),
//! protected aliases, tags and expiry (TTL). Every change is a log entry like the rest, so it
//! survives an index rebuild and travels through remotes.
//!
//! A collection is an artifact whose versions are links: a link is a version record with the
//! linked version's digest and `link_of` naming it, numbered `COLLECTION:vN` on its own, with
//! its own aliases. Every read command accepts a collection reference, since a link resolves
//! to a version with the linked content; no data is copied.

use super::{Store, records};
use crate::error::{Error, Result};
use crate::index::record_queries as rq;
use crate::index::registry_queries as reg;
use crate::index::version_queries as vq;
use crate::index::{ArtifactRow, VersionRow, VersionState};
use crate::model::{AliasName, ArtifactName, Entry, Ref, Span, VersionRecord, now_ms};
use rusqlite::Connection;

/// What `art link` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LinkOutcome {
    /// The link, `COLLECTION:vN`.
    pub reference: String,
    /// The version linked, `NAME:vN`.
    pub source: String,
    /// Whether the link is new (false: the version was linked there already).
    pub created: bool,
    /// The link's aliases now.
    pub aliases: Vec<String>,
}

/// What `art tag`/`art untag` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TagOutcome {
    /// `NAME:vN`.
    pub reference: String,
    /// Its tags now.
    pub tags: Vec<String>,
}

/// A tag: the same characters as an alias.
fn check_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && tag
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "invalid tag `{tag}`: use 1-128 characters from A-Z a-z 0-9 _ . - starting with a letter or digit"
        )))
    }
}

/// Refuses to move or remove a protected alias without `force`. Moving it onto the version
/// it already names is no move.
pub(crate) fn check_alias_change(
    conn: &Connection,
    artifact: &ArtifactRow,
    alias: &str,
    to: Option<i64>,
    force: bool,
) -> Result<()> {
    if force || !reg::is_protected(conn, artifact.id, alias)? {
        return Ok(());
    }
    let current = vq::alias_target(conn, artifact.id, alias)?;
    if current.is_none() || current == to {
        return Ok(());
    }
    Err(Error::ProtectedAlias {
        artifact: artifact.name.clone(),
        alias: alias.to_owned(),
        action: if to.is_some() { "move" } else { "remove" },
    })
}

/// Refuses to delete a version that carries a protected alias or is linked into a
/// collection.
pub(crate) fn check_deletable(conn: &Connection, a: &ArtifactRow, v: &VersionRow) -> Result<()> {
    let version = format!("{}:v{}", a.name, v.idx);
    let protected = reg::protected_aliases_on(conn, v.id)?;
    if !protected.is_empty() {
        return Err(Error::CarriesProtected {
            version,
            aliases: protected,
        });
    }
    let links = reg::live_links_to(conn, v.id)?;
    if !links.is_empty() {
        return Err(Error::Linked {
            version,
            links: links.iter().map(|(c, n)| format!("{c}:v{n}")).collect(),
        });
    }
    Ok(())
}

/// Whether a version may be deleted by a rule (`prune`, TTL): no protected alias, no link.
pub(crate) fn deletable(conn: &Connection, v: &VersionRow) -> Result<bool> {
    Ok(reg::protected_aliases_on(conn, v.id)?.is_empty()
        && reg::live_links_to(conn, v.id)?.is_empty())
}

/// The clock TTLs are judged by: now, or in debug builds (the test suite's binary)
/// `ART_TEST_NOW_MS`, so tests can move past an expiry without waiting.
pub(crate) fn ttl_clock() -> i64 {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("ART_TEST_NOW_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return ms;
    }
    now_ms()
}

impl Store {
    /// Links the version `source` into `collection` (made on first link, with the source's
    /// type), then points `aliases` at the link. Linking a version that is linked there
    /// already only moves the aliases. A link to a link links its source.
    ///
    /// # Errors
    /// Unknown reference; a deleted version; `collection` naming an artifact that is not a
    /// collection, or holding another type; a protected alias without `force`.
    pub fn link(
        &mut self,
        source: &Ref,
        collection: &ArtifactName,
        aliases: &[AliasName],
        force: bool,
    ) -> Result<LinkOutcome> {
        self.writable()?;
        let (mut a, mut v) = self.resolve(source)?;
        if let Some(origin) = reg::link_source(&self.conn, v.id)? {
            v = vq::version_by_id(&self.conn, origin)?.ok_or_else(|| {
                crate::index::Error::Corrupt(format!("link to missing version {origin}"))
            })?;
            a = vq::all_artifacts(&self.conn)?
                .into_iter()
                .find(|x| x.id == v.artifact_id)
                .ok_or_else(|| crate::index::Error::Corrupt("link to a missing artifact".into()))?;
        }
        let source_label = format!("{}:v{}", a.name, v.idx);
        let now = now_ms();
        let tx = records::begin(&mut self.conn, &self.dir)?;
        let existing = vq::try_artifact(&tx, collection.as_str())?;
        if let Some(c) = &existing {
            if !c.collection {
                return Err(Error::CollectionKind(format!(
                    "`{}` is an artifact, not a collection; link into another name",
                    c.name
                )));
            }
            if c.kind != a.kind {
                return Err(Error::CollectionKind(format!(
                    "collection `{}` holds versions of type `{}`, and `{source_label}` is a `{}`",
                    c.name, c.kind, a.kind
                )));
            }
        }
        let mut entries = Vec::new();
        let linked = match &existing {
            Some(c) => reg::live_link_in(&tx, c.id, v.id)?,
            None => None,
        };
        let (link_record, number, created) = if let Some(id) = linked {
            let row = vq::version_by_id(&tx, id)?
                .ok_or_else(|| crate::index::Error::Corrupt(format!("link {id} vanished")))?;
            (rq::record_of_version(&tx, id)?, row.idx, false)
        } else {
            let number = match &existing {
                Some(c) => vq::next_index(&tx, c.id)?,
                None => 0,
            };
            let record = VersionRecord {
                id: records::new_ulid(now),
                artifact: collection.to_string(),
                kind: a.kind.clone(),
                number,
                digest: v.digest,
                created: now,
                run: None,
                source_path: None,
                description: v.description.clone(),
                metadata: v.metadata.clone(),
                size: v.size,
                files: v.file_count,
                link_of: Some(rq::record_of_version(&tx, v.id)?),
                parts: Vec::new(),
                producers: Vec::new(),
            };
            let id = record.id.clone();
            entries.push(Entry::Version(record));
            (id, number, true)
        };
        if let Some(c) = &existing {
            let target = linked;
            for alias in aliases {
                // A new link has no row yet: any current holder is another version.
                check_alias_change(&tx, c, alias.as_str(), target.or(Some(-1)), force)?;
            }
        }
        for alias in aliases {
            entries.push(Entry::AliasSet {
                version: link_record.clone(),
                alias: alias.to_string(),
            });
        }
        records::append(&self.dir, &tx, now, entries)?;
        let c = vq::try_artifact(&tx, collection.as_str())?
            .ok_or_else(|| crate::index::Error::Corrupt("collection vanished".into()))?;
        let id = rq::version_of_record(&tx, &link_record)?.id;
        let aliases = vq::aliases_by_version(&tx, c.id)?
            .remove(&id)
            .unwrap_or_default();
        tx.commit().map_err(crate::index::Error::from)?;
        Ok(LinkOutcome {
            reference: format!("{}:v{number}", c.name),
            source: source_label,
            created,
            aliases,
        })
    }

    /// Removes a link from its collection (the linked version stays).
    ///
    /// # Errors
    /// Unknown reference; a version that is not a link; a protected alias on it without
    /// `force`.
    pub fn unlink(&mut self, r: &Ref, force: bool) -> Result<String> {
        self.writable()?;
        let (a, v) = self.resolve(r)?;
        let reference = format!("{}:v{}", a.name, v.idx);
        if !a.collection {
            return Err(Error::CollectionKind(format!(
                "`{reference}` is not in a collection; `art rm` deletes an artifact's versions"
            )));
        }
        let tx = records::begin(&mut self.conn, &self.dir)?;
        if !force {
            let protected = reg::protected_aliases_on(&tx, v.id)?;
            if let Some(alias) = protected.first() {
                return Err(Error::ProtectedAlias {
                    artifact: a.name.clone(),
                    alias: alias.clone(),
                    action: "remove",
                });
            }
        }
        let entry = Entry::Delete {
            version: rq::record_of_version(&tx, v.id)?,
        };
        records::append(&self.dir, &tx, now_ms(), vec![entry])?;
        tx.commit().map_err(crate::index::Error::from)?;
        Ok(reference)
    }

    /// Protects (or with `on` false, unprotects) `alias` of an artifact or collection; the
    /// alias need not be set yet.
    ///
    /// # Errors
    /// Unknown artifact; `latest` (art moves it).
    pub fn protect_alias(
        &mut self,
        name: &ArtifactName,
        alias: &AliasName,
        on: bool,
    ) -> Result<()> {
        self.writable()?;
        let a = self.artifact(name.as_str())?;
        let tx = records::begin(&mut self.conn, &self.dir)?;
        if reg::is_protected(&tx, a.id, alias.as_str())? == on {
            return Ok(());
        }
        let (artifact, alias) = (a.name, alias.to_string());
        let entry = if on {
            Entry::AliasProtect { artifact, alias }
        } else {
            Entry::AliasUnprotect { artifact, alias }
        };
        records::append(&self.dir, &tx, now_ms(), vec![entry])?;
        tx.commit().map_err(crate::index::Error::from)?;
        Ok(())
    }

    /// Adds (or with `on` false, removes) tags of a version.
    ///
    /// # Errors
    /// Unknown reference; an invalid tag.
    pub fn tag(&mut self, r: &Ref, tags: &[String], on: bool) -> Result<TagOutcome> {
        self.writable()?;
        for t in tags {
            check_tag(t)?;
        }
        let (a, v) = self.resolve_any(r)?;
        let tx = records::begin(&mut self.conn, &self.dir)?;
        let have = reg::tags_of(&tx, v.id)?;
        let record = rq::record_of_version(&tx, v.id)?;
        let mut entries = Vec::new();
        for t in tags {
            if have.contains(t) == on {
                continue;
            }
            let (version, tag) = (record.clone(), t.clone());
            entries.push(if on {
                Entry::Tag { version, tag }
            } else {
                Entry::Untag { version, tag }
            });
        }
        records::append(&self.dir, &tx, now_ms(), entries)?;
        let tags = reg::tags_of(&tx, v.id)?;
        tx.commit().map_err(crate::index::Error::from)?;
        Ok(TagOutcome {
            reference: format!("{}:v{}", a.name, v.idx),
            tags,
        })
    }

    /// Sets a version's time to live from now (none: it never expires); `art gc` deletes it
    /// once expired unless it carries a protected alias or is linked into a collection.
    ///
    /// # Errors
    /// Unknown reference.
    pub fn set_ttl(&mut self, r: &Ref, ttl: Option<Span>) -> Result<Option<i64>> {
        self.writable()?;
        let (_, v) = self.resolve(r)?;
        let now = now_ms();
        let expires = ttl.map(|t| now.saturating_add(t.0));
        let tx = records::begin(&mut self.conn, &self.dir)?;
        let entry = Entry::Ttl {
            version: rq::record_of_version(&tx, v.id)?,
            expires,
        };
        records::append(&self.dir, &tx, now, vec![entry])?;
        tx.commit().map_err(crate::index::Error::from)?;
        Ok(expires)
    }

    /// Names of the artifacts with a live version tagged `tag`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn artifacts_tagged(&self, tag: &str) -> Result<std::collections::BTreeSet<String>> {
        let mut out = std::collections::BTreeSet::new();
        for id in reg::versions_tagged(&self.conn, tag)? {
            if let Some(v) = vq::version_by_id(&self.conn, id)?
                && v.state != VersionState::Deleted
            {
                let (name, _) =
                    crate::index::run_queries::artifact_name_and_type(&self.conn, v.artifact_id)?;
                out.insert(name);
            }
        }
        Ok(out)
    }

    /// Expired versions `art gc` deletes now (not yet deleted, as `NAME:vN`), with the row
    /// ids: those carrying a protected alias or linked into a collection are kept.
    pub(crate) fn expired_versions(&self) -> Result<Vec<(ArtifactRow, VersionRow)>> {
        let now = ttl_clock();
        let artifacts = vq::all_artifacts(&self.conn)?;
        let mut out = Vec::new();
        for id in reg::expired(&self.conn, now)? {
            let Some(v) = vq::version_by_id(&self.conn, id)? else {
                continue;
            };
            if !deletable(&self.conn, &v)? {
                continue;
            }
            if let Some(a) = artifacts.iter().find(|a| a.id == v.artifact_id) {
                out.push((a.clone(), v));
            }
        }
        Ok(out)
    }
}
