//! Aliases and metadata: `art alias set|rm`, `art meta set`.

use super::{Store, records};
use crate::error::{Error, Result};
use crate::index::record_queries as rq;
use crate::index::version_queries as vq;
use crate::model::{AliasName, ArtifactName, Entry, Ref, now_ms};

/// What an alias change did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AliasOutcome {
    /// The artifact.
    pub name: String,
    /// The alias.
    pub alias: String,
    /// `vN` it now points at (none after removal).
    pub version: Option<u64>,
    /// `vN` it pointed at before, if any.
    pub previous: Option<u64>,
}

/// Changes to a version's description and metadata.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct MetaOptions {
    /// New description (`Some("")` clears it).
    pub description: Option<String>,
    /// Replaces the whole metadata object.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Sets single keys (applied after `metadata`).
    pub set: Vec<(String, serde_json::Value)>,
    /// Removes single keys.
    pub unset: Vec<String>,
}

impl Store {
    /// Points `alias` at the version `r` names, moving it from another version if needed.
    ///
    /// # Errors
    /// Unknown reference; SQLite errors.
    pub fn set_alias(&mut self, r: &Ref, alias: &AliasName) -> Result<AliasOutcome> {
        self.set_alias_forced(r, alias, false)
    }

    /// As [`Store::set_alias`]; a protected alias moves only with `force`.
    ///
    /// # Errors
    /// Unknown reference; [`Error::ProtectedAlias`]; SQLite errors.
    pub fn set_alias_forced(
        &mut self,
        r: &Ref,
        alias: &AliasName,
        force: bool,
    ) -> Result<AliasOutcome> {
        self.writable()?;
        let (a, v) = self.resolve(r)?;
        let tx = records::begin(&mut self.conn, &self.dir)?;
        super::registry::check_alias_change(&tx, &a, alias.as_str(), Some(v.id), force)?;
        let previous = vq::alias_target(&tx, a.id, alias.as_str())?
            .and_then(|id| vq::version_by_id(&tx, id).ok().flatten())
            .map(|p| p.idx);
        let entry = Entry::AliasSet {
            version: rq::record_of_version(&tx, v.id)?,
            alias: alias.to_string(),
        };
        records::append(&self.dir, &tx, now_ms(), vec![entry])?;
        tx.commit().map_err(crate::index::Error::from)?;
        Ok(AliasOutcome {
            name: a.name,
            alias: alias.to_string(),
            version: Some(v.idx),
            previous,
        })
    }

    /// Removes an alias from an artifact.
    ///
    /// # Errors
    /// Unknown artifact or alias; `latest` and `vN` cannot be removed.
    pub fn remove_alias(&mut self, name: &ArtifactName, alias: &AliasName) -> Result<AliasOutcome> {
        self.remove_alias_forced(name, alias, false)
    }

    /// As [`Store::remove_alias`]; a protected alias goes only with `force`.
    ///
    /// # Errors
    /// Unknown artifact or alias; [`Error::ProtectedAlias`].
    pub fn remove_alias_forced(
        &mut self,
        name: &ArtifactName,
        alias: &AliasName,
        force: bool,
    ) -> Result<AliasOutcome> {
        self.writable()?;
        let a = self.artifact(name.as_str())?;
        let tx = records::begin(&mut self.conn, &self.dir)?;
        super::registry::check_alias_change(&tx, &a, alias.as_str(), None, force)?;
        let Some(previous) = vq::alias_target(&tx, a.id, alias.as_str())? else {
            return Err(Error::UnknownVersion {
                reference: format!("{}:{}", a.name, alias),
                known: vq::alias_names(&tx, a.id)?,
            });
        };
        let previous = vq::version_by_id(&tx, previous)?.map(|p| p.idx);
        let entry = Entry::AliasRm {
            artifact: a.name.clone(),
            alias: alias.to_string(),
        };
        records::append(&self.dir, &tx, now_ms(), vec![entry])?;
        tx.commit().map_err(crate::index::Error::from)?;
        Ok(AliasOutcome {
            name: a.name,
            alias: alias.to_string(),
            version: None,
            previous,
        })
    }

    /// Updates a version's description and metadata (the content, and so the digest, stay).
    ///
    /// # Errors
    /// Unknown reference; SQLite errors.
    pub fn set_meta(&mut self, r: &Ref, opts: MetaOptions) -> Result<super::VersionInfo> {
        self.writable()?;
        let (_, v) = self.resolve(r)?;
        let tx = records::begin(&mut self.conn, &self.dir)?;
        // Read again under the write lock: a concurrent edit of other keys must not be lost.
        let v = vq::version_by_id(&tx, v.id)?.unwrap_or(v);
        let description = match opts.description {
            Some(d) if d.is_empty() => None,
            Some(d) => Some(d),
            None => v.description.clone(),
        };
        let mut metadata = opts.metadata.unwrap_or(v.metadata);
        for (k, val) in opts.set {
            metadata.insert(k, val);
        }
        for k in &opts.unset {
            metadata.remove(k);
        }
        let entry = Entry::Meta {
            version: rq::record_of_version(&tx, v.id)?,
            description,
            metadata,
        };
        records::append(&self.dir, &tx, now_ms(), vec![entry])?;
        tx.commit().map_err(crate::index::Error::from)?;
        self.show(r)
    }
}
