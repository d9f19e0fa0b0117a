//! `art remote add|ls|rm` and `art push`: the store's packs copied to object stores, which
//! is what lets `art gc --max` evict them and checkout read them back.
//!
//! Write order on the remote follows restic's: packs first (immutable, named by content, so
//! an interrupted push leaves nothing that needs cleaning and the next one skips them), and
//! only then is the index told which packs the remote holds.

use super::Store;
use crate::error::{Error, Result};
use crate::index::blob_queries as bq;
use crate::model::{Digest, Ref};
use crate::remote::{Remote, RemoteSpec, pack_key};
use crate::store::pack_path;
use std::collections::HashSet;

/// One configured remote, as `art remote ls` lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RemoteInfo {
    /// Its name.
    pub name: String,
    /// Where it is and how to reach it.
    #[serde(flatten)]
    pub spec: RemoteSpec,
    /// Packs of this store it is known to hold.
    pub packs: u64,
}

/// What `art push` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PushOutcome {
    /// The remote.
    pub remote: String,
    /// Packs uploaded now.
    pub packs_uploaded: u64,
    /// Bytes uploaded now.
    pub bytes_uploaded: u64,
    /// Packs the remote already had.
    pub packs_present: u64,
    /// Log batches (versions, aliases, metadata, deletions, runs, lineage) uploaded now.
    pub batches_uploaded: u64,
    /// Whether there was nothing to upload.
    pub up_to_date: bool,
}

/// What `art pull` (and `art clone`) brought in.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PullOutcome {
    /// The remote.
    pub remote: String,
    /// Log batches applied.
    pub batches: u64,
    /// New versions among them, as `NAME:vN`.
    pub versions: Vec<String>,
    /// Runs started or changed.
    pub runs: u64,
    /// This store's unpushed versions that took new numbers after the remote's.
    pub renumbered: Vec<crate::model::Renumbered>,
    /// This store's unpushed changes dropped because the remote changed the same alias or
    /// metadata (the remote's stands).
    pub dropped: Vec<crate::model::Dropped>,
    /// Things the index rebuild after a merge could not recover.
    pub notes: Vec<String>,
    /// Whether there was nothing new.
    pub up_to_date: bool,
}

/// The key of log batch `seq` on a remote (20 digits, as locally).
fn log_key(seq: u64) -> String {
    format!("log/{seq:020}.json")
}

/// Where this store keeps the remote `name`'s log batches it has read: batches on a remote
/// are written create-only and never change, so each is downloaded once, not at every push
/// and pull. A cached copy is used only while its size equals the remote's listing.
/// The cache is keyed by the remote's URL, so a remote name pointed elsewhere starts afresh.
fn log_cache_dir(
    store_dir: &std::path::Path,
    spec: &crate::remote::RemoteSpec,
) -> std::path::PathBuf {
    let key = Digest::of(spec.url.as_bytes()).to_string();
    store_dir.join("remotes").join(&key[..16]).join("log")
}

/// Keeps a copy of remote batch `seq` (a cache: written atomically, not fsynced).
fn cache_batch(dir: &std::path::Path, seq: u64, bytes: &[u8]) {
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, bytes)?;
        tmp.persist(dir.join(format!("{seq:020}.json")))?;
        Ok(())
    };
    // A cache that cannot be written costs a download next time, nothing more.
    let _ = write();
}

/// The remote's log, in order. Numbers must run 1, 2, 3… without a gap, and every batch
/// must parse: a remote that breaks either is refused before anything is applied. Batches
/// read before come from `cache` (see [`log_cache_dir`]); the rest are downloaded several
/// at a time and cached.
fn remote_log(remote: &Remote, cache: &std::path::Path) -> Result<Vec<crate::model::Batch>> {
    let corrupt = |key: &str, reason: String| crate::remote::Error::Corrupt {
        remote: remote.name().to_owned(),
        key: key.to_owned(),
        reason,
    };
    let mut listed = Vec::new();
    for (key, size) in remote.list("log/")? {
        let seq = key
            .strip_prefix("log/")
            .and_then(|k| k.strip_suffix(".json"))
            .filter(|n| n.len() == 20)
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| corrupt(&key, "not a log batch name".into()))?;
        listed.push((seq, size));
    }
    listed.sort_unstable();
    let mut bytes: Vec<Option<Vec<u8>>> = Vec::with_capacity(listed.len());
    let mut missing = Vec::new();
    for (i, &(seq, size)) in listed.iter().enumerate() {
        if seq != i as u64 + 1 {
            return Err(corrupt(&log_key(seq), format!("expected batch {} here", i + 1)).into());
        }
        let cached = std::fs::read(cache.join(format!("{seq:020}.json")))
            .ok()
            .filter(|b| b.len() as u64 == size);
        if cached.is_none() {
            missing.push(log_key(seq));
        }
        bytes.push(cached);
    }
    let mut fetched = remote.get_many(&missing)?.into_iter();
    let mut out = Vec::with_capacity(listed.len());
    for (i, b) in bytes.into_iter().enumerate() {
        let seq = i as u64 + 1;
        let b = b.unwrap_or_else(|| {
            let b = fetched.next().expect("one download per missing batch");
            cache_batch(cache, seq, &b);
            b
        });
        out.push(
            crate::model::Batch::decode(&b).map_err(|e| corrupt(&log_key(seq), e.to_string()))?,
        );
    }
    Ok(out)
}

/// What `art pull --data` brought back.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FetchOutcome {
    /// Packs downloaded (evicted packs and those of pulled versions).
    pub packs: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What `art remote rm` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RemoteRemoved {
    /// The remote.
    pub name: String,
    /// Local packs that no remote holds any more (no longer evictable).
    pub packs_forgotten: u64,
}

/// `path` made absolute against `cwd`, with `.` and `..` resolved without touching the disk
/// (the directory may not exist yet).
fn lexically_absolute(cwd: &std::path::Path, path: &str) -> String {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in cwd.join(path).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out.to_string_lossy().into_owned()
}

/// Remote names follow artifact names: a word, no slashes.
fn check_remote_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !name.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "invalid remote name `{name}`: use 1-64 characters from A-Z a-z 0-9 _ . - (not starting with . or -)"
        )))
    }
}

impl Store {
    /// Adds a remote. A relative directory is made absolute (against `cwd`) so the store can
    /// be used from anywhere; nothing is contacted yet (as `git remote add`).
    ///
    /// # Errors
    /// An invalid name or URL; a name already taken; I/O writing config.toml.
    pub fn remote_add(
        &mut self,
        name: &str,
        mut spec: RemoteSpec,
        cwd: &std::path::Path,
    ) -> Result<RemoteInfo> {
        self.writable()?;
        check_remote_name(name)?;
        if !spec.url.contains("://") {
            spec.url = lexically_absolute(cwd, &spec.url);
        }
        crate::remote::check_url(&spec.url)?;
        if let Some(existing) = self.config.remote.get(name) {
            return Err(Error::InvalidConfig(format!(
                "remote `{name}` already exists ({}); remove it first with `art remote rm {name}`",
                existing.url
            )));
        }
        let mut next = self.config.clone();
        next.remote.insert(name.to_owned(), spec.clone());
        next.save(&self.dir)?;
        self.config = next;
        Ok(RemoteInfo {
            name: name.to_owned(),
            spec,
            packs: 0,
        })
    }

    /// The configured remotes, by name.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn remotes(&self) -> Result<Vec<RemoteInfo>> {
        self.config
            .remote
            .iter()
            .map(|(name, spec)| {
                Ok(RemoteInfo {
                    name: name.clone(),
                    spec: spec.clone(),
                    packs: bq::packs_on_remote(&self.conn, name)?.len() as u64,
                })
            })
            .collect()
    }

    /// Removes a remote from the configuration (its data stays where it is). Refused while
    /// packs evicted from this store are held by no other remote, unless `force`.
    ///
    /// # Errors
    /// Unknown remote; [`Error::RemoteHoldsEvicted`]; I/O and SQLite errors.
    pub fn remote_remove(&mut self, name: &str, force: bool) -> Result<RemoteRemoved> {
        self.writable()?;
        if !self.config.remote.contains_key(name) {
            return Err(self.unknown_remote(name));
        }
        let only_there = bq::evicted_only_on(&self.conn, name)?;
        if only_there > 0 && !force {
            return Err(Error::RemoteHoldsEvicted {
                remote: name.to_owned(),
                packs: only_there,
            });
        }
        let before = self.evictable_packs()?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(crate::index::Error::from)?;
        bq::forget_remote(&tx, name)?;
        let mut next = self.config.clone();
        next.remote.remove(name);
        next.save(&self.dir)?;
        tx.commit().map_err(crate::index::Error::from)?;
        let spec = self.config.remote[name].clone();
        self.config = next;
        let cache = log_cache_dir(&self.dir, &spec);
        let cache = cache.parent().unwrap_or(&cache);
        if cache.exists() {
            std::fs::remove_dir_all(cache).map_err(crate::error::io("remove", cache))?;
        }
        Ok(RemoteRemoved {
            name: name.to_owned(),
            packs_forgotten: before.saturating_sub(self.evictable_packs()?),
        })
    }

    fn evictable_packs(&self) -> Result<u64> {
        Ok(bq::all_packs(&self.conn)?
            .iter()
            .filter(|p| p.remote_state.as_deref() == Some("synced"))
            .count() as u64)
    }

    fn unknown_remote(&self, name: &str) -> Error {
        Error::UnknownRemote {
            name: name.to_owned(),
            known: self.config.remote.keys().cloned().collect(),
        }
    }

    /// The remote a command should use: the one named, else `origin`, else the only one.
    ///
    /// # Errors
    /// [`Error::UnknownRemote`] when none fits.
    pub fn pick_remote(&self, name: Option<&str>) -> Result<String> {
        match name {
            Some(n) if self.config.remote.contains_key(n) => Ok(n.to_owned()),
            Some(n) => Err(self.unknown_remote(n)),
            None if self.config.remote.contains_key("origin") => Ok("origin".to_owned()),
            None if self.config.remote.len() == 1 => Ok(self
                .config
                .remote
                .keys()
                .next()
                .expect("one remote")
                .clone()),
            None => Err(self.unknown_remote("origin")),
        }
    }

    fn connect(&self, name: &str) -> Result<Remote> {
        let spec = self
            .config
            .remote
            .get(name)
            .ok_or_else(|| self.unknown_remote(name))?;
        Ok(Remote::connect(name, spec)?)
    }

    /// Uploads to `remote` the packs it lacks: every local pack, or with `refs` only those
    /// holding the content of these versions. A second push uploads nothing.
    ///
    /// # Errors
    /// Unknown remote or reference; transport, server and I/O errors (packs uploaded before
    /// the failure stay on the remote and are skipped next time).
    pub fn push(&mut self, remote: Option<&str>, refs: &[Ref]) -> Result<PushOutcome> {
        self.writable()?;
        let name = self.pick_remote(remote)?;
        if super::records::history_before_log(&self.dir)? {
            return Err(Error::HistoryBeforeLog);
        }
        let spec = &self.config.remote[&name];
        let remote = Remote::connect_for_push(&name, spec)?;
        remote.prepare()?;
        // Refuse before uploading anything when the remote moved on.
        let cache = log_cache_dir(&self.dir, spec);
        let remote_batches = remote_log(&remote, &cache)?;
        let local_batches = super::records::all_batches(&self.dir)?;
        let local_ids: HashSet<&str> = local_batches.iter().map(|b| b.id.as_str()).collect();
        if remote_batches
            .iter()
            .any(|b| !local_ids.contains(b.id.as_str()))
        {
            return Err(Error::PushNeedsPull { remote: name });
        }
        let wanted: Option<HashSet<Digest>> = if refs.is_empty() {
            None
        } else {
            Some(self.packs_of_versions(refs)?)
        };
        // What the remote really has: listing it adopts packs another store pushed and
        // re-uploads what was deleted there.
        let listed: HashSet<String> = remote.list("packs/")?.into_iter().map(|(k, _)| k).collect();
        let mut present = Vec::new();
        let mut missing = Vec::new();
        // Packs evicted here live on other remotes: copied from there, so this remote holds
        // everything its log will name.
        let mut relayed = Vec::new();
        for p in bq::all_packs(&self.conn)? {
            if wanted.as_ref().is_some_and(|w| !w.contains(&p.hash)) {
                continue;
            }
            let key = pack_key(&p.hash);
            if listed.contains(&key) {
                present.push(p.hash);
            } else if p.remote_state.as_deref() == Some("evicted") {
                relayed.push((p.hash, key, p.size));
            } else {
                missing.push((p.hash, key, p.size));
            }
        }
        let total: u64 = missing.iter().chain(&relayed).map(|m| m.2).sum();
        self.progress.start("pushing", total);
        let files: Vec<(String, std::path::PathBuf)> = missing
            .iter()
            .map(|(hash, key, _)| (key.clone(), pack_path(&self.dir, hash)))
            .collect();
        let progress = self.progress.clone();
        let uploaded = remote
            .upload_files(&files, &|n| progress.advance(n), &self.interrupt)
            .map_err(Error::from)
            .and_then(|()| self.relay_packs(&remote, &relayed));
        self.progress.finish();
        uploaded?;
        crate::failpoint::hit("push.after-packs")
            .map_err(crate::error::io("push to", self.dir.clone()))?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(crate::index::Error::from)?;
        for hash in present
            .iter()
            .chain(missing.iter().chain(&relayed).map(|m| &m.0))
        {
            bq::record_remote_pack(&tx, &name, hash)?;
        }
        tx.commit().map_err(crate::index::Error::from)?;
        // Then the batches that make them visible, in order, each under the next free number
        // (create-only: a rival pusher that took it means the remote moved on).
        let remote_ids: HashSet<&str> = remote_batches.iter().map(|b| b.id.as_str()).collect();
        let mut next = remote_batches.len() as u64 + 1;
        let mut batches = 0u64;
        if refs.is_empty() {
            for shared in local_batches
                .iter()
                .filter(|b| !remote_ids.contains(b.id.as_str()))
                .filter_map(crate::model::Batch::shared)
            {
                self.check_interrupt()?;
                let bytes = shared.encode();
                if !remote.put_if_absent(&log_key(next), bytes.clone())? {
                    return Err(Error::PushNeedsPull { remote: name });
                }
                cache_batch(&cache, next, &bytes);
                next += 1;
                batches += 1;
                crate::failpoint::hit("push.between-batches")
                    .map_err(crate::error::io("push to", self.dir.clone()))?;
            }
        }
        Ok(PushOutcome {
            remote: name,
            packs_uploaded: (missing.len() + relayed.len()) as u64,
            bytes_uploaded: total,
            packs_present: present.len() as u64,
            batches_uploaded: batches,
            up_to_date: missing.is_empty() && relayed.is_empty() && batches == 0,
        })
    }

    /// Copies packs evicted from this store to `to` from the remotes holding them, each
    /// checked against its name on the way.
    fn relay_packs(&self, to: &Remote, packs: &[(Digest, String, u64)]) -> Result<()> {
        for (hash, key, size) in packs {
            self.check_interrupt()?;
            let mut last = None;
            let mut copied = false;
            for holder in bq::remotes_of_pack(&self.conn, hash)? {
                let Some(spec) = self.config.remote.get(&holder) else {
                    continue;
                };
                let bytes = match Remote::connect(&holder, spec).and_then(|r| r.get(key)) {
                    Ok(b) => b,
                    Err(e) => {
                        last = Some(e.into());
                        continue;
                    }
                };
                if let Some(reason) = crate::store::pack_bytes_error(&bytes, hash) {
                    last = Some(
                        crate::remote::Error::Corrupt {
                            remote: holder,
                            key: key.clone(),
                            reason,
                        }
                        .into(),
                    );
                    continue;
                }
                to.put_if_absent(key, bytes)?;
                self.progress.advance(*size);
                copied = true;
                break;
            }
            if !copied {
                return Err(last.unwrap_or_else(|| {
                    Error::MissingContent(format!(
                        "pack {hash} (evicted here, and no configured remote holds it)"
                    ))
                }));
            }
        }
        Ok(())
    }

    /// The packs holding the content of the versions `refs` name.
    fn packs_of_versions(&self, refs: &[Ref]) -> Result<HashSet<Digest>> {
        let mut blobs = HashSet::new();
        let mut reach = super::gc::Reach::new(self)?;
        for r in refs {
            let (_, v) = self.resolve(r)?;
            reach.add_version(&v, &mut blobs)?;
        }
        let mut packs = HashSet::new();
        for blob in &blobs {
            packs.insert(self.locate(blob)?.pack_hash);
        }
        Ok(packs)
    }

    /// Checks what `remote` holds of this store: every pack pushed there is present with its
    /// size; with `read_data`, downloaded and hashed (its checksum must be its name).
    ///
    /// # Errors
    /// Unknown remote, transport and server errors. Damage is reported in
    /// [`super::FsckOutcome::problems`].
    pub fn fsck_remote(&self, name: &str, read_data: bool) -> Result<super::FsckOutcome> {
        let remote = self.connect(name)?;
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        match remote.get(crate::remote::FORMAT_KEY) {
            Ok(_) => {}
            Err(crate::remote::Error::NotFound { .. }) => {
                notes.push("nothing was pushed there yet".to_owned());
            }
            Err(e) => return Err(e.into()),
        }
        let listed: std::collections::HashMap<String, u64> =
            remote.list("packs/")?.into_iter().collect();
        let sizes: std::collections::HashMap<Digest, (u64, bool)> = bq::all_packs(&self.conn)?
            .into_iter()
            .map(|p| {
                (
                    p.hash,
                    (p.size, p.remote_state.as_deref() == Some("evicted")),
                )
            })
            .collect();
        let pushed = bq::packs_on_remote(&self.conn, name)?;
        let mut checked = 0u64;
        let mut read = 0u64;
        for hash in &pushed {
            self.check_interrupt()?;
            let key = pack_key(hash);
            let (size, evicted) = sizes.get(hash).copied().unwrap_or((0, false));
            let only_copy = if evicted {
                " (the only copy: evicted here)"
            } else {
                ""
            };
            checked += 1;
            match listed.get(&key) {
                None => problems.push(format!("pack `{hash}` is missing on `{name}`{only_copy}")),
                Some(&len) if size != 0 && len != size => problems.push(format!(
                    "pack `{hash}` on `{name}` has {len} bytes, expected {size}{only_copy}"
                )),
                Some(_) if read_data => {
                    let bytes = remote.get(&key)?;
                    read += 1;
                    if let Some(reason) = crate::store::pack_bytes_error(&bytes, hash) {
                        problems.push(format!(
                            "pack `{hash}` on `{name}` is corrupt: {reason}{only_copy}"
                        ));
                    }
                }
                Some(_) => {}
            }
        }
        let foreign = listed
            .keys()
            .filter(|k| {
                std::path::Path::new(k)
                    .extension()
                    .is_some_and(|e| e == "pack")
            })
            .count()
            .saturating_sub(pushed.len());
        if foreign > 0 {
            notes.push(format!(
                "{foreign} pack(s) there were pushed by other stores"
            ));
        }
        Ok(super::FsckOutcome {
            packs: checked,
            blobs_read: read,
            versions: 0,
            problems,
            notes,
            affected: Vec::new(),
        })
    }

    /// Brings in what `remote` recorded that this store lacks: versions, aliases, metadata,
    /// deletions, runs and lineage, with no blob data (checkout reads it from the remote).
    /// When this store has changes the remote lacks too, they are replayed after the
    /// remote's (see [`crate::model::rebase`]): its versions take the next numbers, and where
    /// both sides moved one alias or changed one version's metadata the remote's stands.
    ///
    /// # Errors
    /// Unknown remote; a remote whose log is malformed or names content it does not hold
    /// (nothing is applied then); histories that cannot merge; transport errors.
    pub fn pull(&mut self, remote: Option<&str>) -> Result<PullOutcome> {
        self.writable()?;
        let name = self.pick_remote(remote)?;
        let spec = self.config.remote[&name].clone();
        let remote = self.connect(&name)?;
        let mut outcome = PullOutcome {
            remote: name.clone(),
            batches: 0,
            versions: Vec::new(),
            runs: 0,
            renumbered: Vec::new(),
            dropped: Vec::new(),
            notes: Vec::new(),
            up_to_date: true,
        };
        match remote.get(crate::remote::FORMAT_KEY) {
            Ok(_) => remote.prepare()?,
            Err(crate::remote::Error::NotFound { .. }) => return Ok(outcome),
            Err(e) => return Err(e.into()),
        }
        let remote_batches = remote_log(&remote, &log_cache_dir(&self.dir, &spec))?;
        let local = super::records::all_batches(&self.dir)?;
        let local_ids: HashSet<&str> = local.iter().map(|b| b.id.as_str()).collect();
        let remote_ids: HashSet<&str> = remote_batches.iter().map(|b| b.id.as_str()).collect();
        let new: Vec<&crate::model::Batch> = remote_batches
            .iter()
            .filter(|b| !local_ids.contains(b.id.as_str()))
            .collect();
        if new.is_empty() {
            return Ok(outcome);
        }
        let diverged = local
            .iter()
            .any(|b| !remote_ids.contains(b.id.as_str()) && b.shared().is_some());
        if diverged && super::records::history_before_log(&self.dir)? {
            return Err(Error::HistoryBeforeLog);
        }
        // Every pack a batch names must be on the remote (or here) before anything applies.
        let sizes: std::collections::HashMap<String, u64> =
            remote.list("packs/")?.into_iter().collect();
        let listed: HashSet<&String> = sizes.keys().collect();
        for batch in &new {
            for entry in &batch.entries {
                if let crate::model::Entry::Packs { packs } = entry
                    && let Some(missing) = packs.iter().find(|h| {
                        !listed.contains(&pack_key(h)) && !pack_path(&self.dir, h).exists()
                    })
                {
                    return Err(crate::remote::Error::Corrupt {
                        remote: name,
                        key: format!("log batch {}", batch.id),
                        reason: format!("it names pack `{missing}`, which the remote lacks"),
                    }
                    .into());
                }
            }
        }
        for batch in &new {
            outcome.batches += 1;
            for entry in &batch.entries {
                match entry {
                    crate::model::Entry::Version(r) => {
                        outcome
                            .versions
                            .push(format!("{}:v{}", r.artifact, r.number));
                    }
                    crate::model::Entry::Run(_) => outcome.runs += 1,
                    _ => {}
                }
            }
        }
        outcome.up_to_date = false;
        if diverged {
            let new: Vec<crate::model::Batch> = new.into_iter().cloned().collect();
            super::records::check_pulled_content(&self.dir, &self.conn, &new, &remote, &sizes)?;
            self.merge_pulled(&remote_ids, &new, &mut outcome)?;
            return Ok(outcome);
        }
        for batch in new {
            self.check_interrupt()?;
            let tx = super::records::begin(&mut self.conn, &self.dir)?;
            super::records::append_pulled(&self.dir, &tx, batch, (&name, &spec))?;
            tx.commit().map_err(crate::index::Error::from)?;
            crate::failpoint::hit("pull.between-batches")
                .map_err(crate::error::io("pull into", self.dir.clone()))?;
        }
        Ok(outcome)
    }

    /// Downloads every pack that holds content of a live version (of `artifacts`, or of
    /// all) and is only on a remote, so checkouts need no network: `art pull --data`. Each
    /// pack is checked against its name before it is kept.
    ///
    /// # Errors
    /// Unknown artifacts; transport errors; a remote pack whose bytes do not match its name.
    pub fn fetch_data(&mut self, artifacts: &[String]) -> Result<FetchOutcome> {
        self.writable()?;
        let ids = artifacts
            .iter()
            .map(|name| Ok(self.artifact(name)?.id))
            .collect::<Result<HashSet<i64>>>()?;
        let packs = super::content::Packs::new(self)?;
        let mut blobs = HashSet::new();
        {
            let mut reach = super::gc::Reach::new(self)?;
            for v in crate::index::version_queries::live_versions(&self.conn)? {
                if ids.is_empty() || ids.contains(&v.artifact_id) {
                    reach.add_version(&v, &mut blobs)?;
                }
            }
        }
        let mut wanted: Vec<(Digest, u64)> = Vec::new();
        let mut seen = HashSet::new();
        for blob in &blobs {
            let pack = self.locate(blob)?.pack_hash;
            if let Some(size) = packs.evicted_size(&pack)
                && seen.insert(pack)
            {
                wanted.push((pack, size));
            }
        }
        wanted.sort_unstable();
        let mut outcome = FetchOutcome::default();
        self.progress
            .start("fetching", wanted.iter().map(|w| w.1).sum());
        let fetched = (|| {
            for (hash, size) in &wanted {
                self.check_interrupt()?;
                packs.restore(hash)?;
                bq::mark_restored(&self.conn, hash)?;
                outcome.packs += 1;
                outcome.bytes += size;
                self.progress.advance(*size);
            }
            Ok(())
        })();
        self.progress.finish();
        fetched.map(|()| outcome)
    }

    /// Replays this store's unpushed batches after the remote's `new` ones: the log after the
    /// last batch both share is rewritten and the index rebuilt from it, under the exclusive
    /// lock so no other command sees the log half way.
    fn merge_pulled(
        &mut self,
        remote_ids: &HashSet<&str>,
        new: &[crate::model::Batch],
        outcome: &mut PullOutcome,
    ) -> Result<()> {
        self.lock_exclusive()?;
        let merged = (|| {
            // Read again under the lock: a command may have logged since.
            let local = super::records::all_batches(&self.dir)?;
            let split = local
                .iter()
                .position(|b| !remote_ids.contains(b.id.as_str()) && b.shared().is_some())
                .unwrap_or(local.len());
            let (base, tail) = local.split_at(split);
            let rebased = crate::model::rebase(base, new, tail)?;
            self.check_interrupt()?;
            let notes = self.rewrite_history(split as u64, &rebased.batches)?;
            outcome.renumbered = rebased.renumbered;
            outcome.dropped = rebased.dropped;
            outcome.notes = notes;
            Ok(())
        })();
        self.lock_shared_again()?;
        merged
    }

    /// `art clone`: a new store in `dir` (as `art init`), `origin` set to `spec`, then a
    /// pull. A clone holds no data; checkout reads it from the remote. A failed clone
    /// removes the store it made.
    ///
    /// # Errors
    /// As [`Store::init`], [`Store::remote_add`] and [`Store::pull`].
    pub fn clone_from(
        dir: &std::path::Path,
        spec: RemoteSpec,
        cwd: &std::path::Path,
    ) -> Result<(Store, PullOutcome)> {
        let init = Store::init_here(dir)?;
        let made = init.store_dir.clone();
        let result = (|| {
            let mut store = init.store;
            store.remote_add("origin", spec, cwd)?;
            let pulled = store.pull(Some("origin"))?;
            Ok((store, pulled))
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&made);
        }
        result
    }
}
