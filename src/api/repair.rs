//! `art fsck --repair`: damaged or missing local packs are fetched again from a remote that
//! holds the same pack (packs are immutable and named by their checksum, so a remote copy
//! with that name and checksum is the lost pack byte for byte). The CLI then rebuilds the
//! index from the packs and the record log.

use super::Store;
use crate::error::{Result, io};
use crate::index::blob_queries as bq;
use crate::model::Digest;
use crate::remote::{Remote, pack_key};
use crate::store::{PackFile, pack_bytes_error, pack_path};

/// The result of [`Store::repair_packs`].
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RepairOutcome {
    /// Local packs found damaged or missing.
    pub damaged: u64,
    /// Packs restored from a remote, as `(pack hash, remote name)`.
    pub fetched: Vec<(String, String)>,
    /// Packs no remote could give back, with the reason.
    pub unrepaired: Vec<String>,
}

/// Why the local copy of a pack cannot be trusted, or `None` when it can.
fn local_damage(dir: &std::path::Path, hash: &Digest, size: u64) -> Option<String> {
    let Ok(pack) = PackFile::at(&pack_path(dir, hash)) else {
        return Some("missing".into());
    };
    if pack.len() != size {
        return Some(format!("{} bytes instead of {size}", pack.len()));
    }
    if let Err(e) = pack.read_trailer() {
        return Some(e.to_string());
    }
    pack.verify_checksum(hash).err().map(|e| e.to_string())
}

impl Store {
    /// Whether the index is damaged or disagrees with the record log, so that only a rebuild
    /// makes it whole.
    ///
    /// # Errors
    /// An unreadable record log.
    pub fn index_needs_rebuild(&self) -> Result<bool> {
        let check: std::result::Result<String, _> =
            self.conn.query_row("PRAGMA quick_check", [], |r| r.get(0));
        if check.as_deref() != Ok("ok") {
            return Ok(true);
        }
        Ok(!self.check_against_log()?.is_empty())
    }

    /// Reads every local pack the index knows (evicted ones aside) and replaces each one that
    /// is missing, truncated or damaged with the copy of a configured remote that holds it.
    ///
    /// # Errors
    /// Index and local I/O errors. A pack no remote holds is reported in
    /// [`RepairOutcome::unrepaired`], not as an error.
    pub fn repair_packs(&self) -> Result<RepairOutcome> {
        self.writable()?;
        let mut out = RepairOutcome::default();
        let mut remotes: Vec<(String, Option<Remote>)> = self
            .config
            .remote
            .keys()
            .map(|name| (name.clone(), None))
            .collect();
        for row in bq::all_packs(&self.conn)? {
            if row.remote_state.as_deref() == Some("evicted") {
                continue;
            }
            let Some(why) = local_damage(&self.dir, &row.hash, row.size) else {
                continue;
            };
            out.damaged += 1;
            let mut fetched = None;
            for (name, remote) in &mut remotes {
                if remote.is_none() {
                    *remote = Remote::connect(name, &self.config.remote[name.as_str()]).ok();
                }
                let Some(remote) = remote else { continue };
                let Ok(bytes) = remote.get(&pack_key(&row.hash)) else {
                    continue;
                };
                if pack_bytes_error(&bytes, &row.hash).is_none() {
                    fetched = Some((name.clone(), bytes));
                    break;
                }
            }
            let Some((name, bytes)) = fetched else {
                out.unrepaired.push(format!(
                    "pack `{}` ({why}): no remote holds an intact copy",
                    row.hash.short(16)
                ));
                continue;
            };
            self.replace_pack(&row.hash, &bytes)?;
            out.fetched.push((row.hash.to_hex(), name));
        }
        Ok(out)
    }

    /// Writes `bytes` durably as the pack `hash`, over whatever file is there.
    fn replace_pack(&self, hash: &Digest, bytes: &[u8]) -> Result<()> {
        let dest = pack_path(&self.dir, hash);
        let parent = dest.parent().expect("pack paths have a parent");
        std::fs::create_dir_all(parent).map_err(io("create directory", parent))?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(self.dir.join("tmp")).map_err(io("write", &dest))?;
        std::io::Write::write_all(&mut tmp, bytes).map_err(io("write", &dest))?;
        tmp.as_file().sync_all().map_err(io("write", &dest))?;
        tmp.persist(&dest).map_err(|e| crate::error::Error::Io {
            action: "write",
            path: dest.clone(),
            source: e.error,
        })?;
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync directory", parent))
    }
}
