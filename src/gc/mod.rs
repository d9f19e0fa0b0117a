//! Garbage collection rules, without I/O: which packs to delete, repack or evict, given how
//! much of each is live. The store layer supplies the numbers (`api/gc.rs`) and acts on the plan.

use crate::model::Digest;

/// How one pack is used, as gc sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PackUsage {
    /// Row id in the index.
    #[serde(skip)]
    pub id: i64,
    /// The pack's hash (its file name).
    pub hash: Digest,
    /// File size in bytes.
    pub size: u64,
    /// When it was recorded (epoch ms).
    pub created_at: i64,
    /// When a command last read or reused it (epoch ms).
    pub last_access: i64,
    /// Whether a remote holds every blob of it (only then may it be evicted).
    pub on_remote: bool,
    /// Stored bytes of blobs a live version needs.
    pub live_bytes: u64,
    /// Stored bytes of blobs nothing needs.
    pub dead_bytes: u64,
}

/// What gc will do with a pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackFate {
    /// Stays as it is.
    Keep,
    /// Holds nothing live: removed.
    Delete,
    /// Mostly dead: its live blobs are copied to a new pack, then it is removed.
    Repack,
    /// Live but confirmed on a remote and least recently used: the local file is removed.
    Evict,
}

/// The settings a plan depends on.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// Now (epoch ms).
    pub now_ms: i64,
    /// Nothing younger than this is removed (ms).
    pub grace_ms: i64,
    /// Repack packs whose live share is below this fraction.
    pub repack_below: f64,
    /// Cap on the bytes of packs kept locally, if any.
    pub max_bytes: Option<u64>,
}

/// Decides the fate of every pack. Packs younger than the grace period are kept whatever
/// their content, so a command that is still committing is never robbed.
#[must_use]
pub fn pack_fates(packs: &[PackUsage], rules: &Rules) -> Vec<PackFate> {
    let mut fates: Vec<PackFate> = packs
        .iter()
        .map(|p| {
            let young = p.created_at > rules.now_ms - rules.grace_ms;
            if young {
                PackFate::Keep
            } else if p.live_bytes == 0 {
                PackFate::Delete
            } else {
                #[allow(clippy::cast_precision_loss)]
                let live_share = p.live_bytes as f64 / (p.live_bytes + p.dead_bytes).max(1) as f64;
                if live_share < rules.repack_below {
                    PackFate::Repack
                } else {
                    PackFate::Keep
                }
            }
        })
        .collect();
    if let Some(max) = rules.max_bytes {
        let mut size = size_after(packs, &fates);
        let mut order: Vec<usize> = (0..packs.len())
            .filter(|&i| {
                matches!(fates[i], PackFate::Keep | PackFate::Repack) && packs[i].on_remote
            })
            .collect();
        order.sort_by_key(|&i| (packs[i].last_access, packs[i].created_at));
        for i in order {
            if size <= max {
                break;
            }
            size -= kept_size(&packs[i], fates[i]);
            fates[i] = PackFate::Evict;
        }
    }
    fates
}

/// Bytes a pack occupies after gc, given its fate (a repacked pack shrinks to its live part).
fn kept_size(p: &PackUsage, fate: PackFate) -> u64 {
    match fate {
        PackFate::Keep => p.size,
        PackFate::Repack => p.live_bytes,
        PackFate::Delete | PackFate::Evict => 0,
    }
}

/// Bytes of packs after applying the fates.
#[must_use]
pub fn size_after(packs: &[PackUsage], fates: &[PackFate]) -> u64 {
    packs.iter().zip(fates).map(|(p, f)| kept_size(p, *f)).sum()
}

/// Live bytes no remote holds: what a cap can never evict.
#[must_use]
pub fn pinned_bytes(packs: &[PackUsage], fates: &[PackFate]) -> u64 {
    packs
        .iter()
        .zip(fates)
        .filter(|(p, f)| !p.on_remote && matches!(f, PackFate::Keep | PackFate::Repack))
        .map(|(p, f)| kept_size(p, *f))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(
        n: u8,
        size: u64,
        live: u64,
        created_at: i64,
        last_access: i64,
        on_remote: bool,
    ) -> PackUsage {
        PackUsage {
            id: i64::from(n),
            hash: Digest([n; 32]),
            size,
            created_at,
            last_access,
            on_remote,
            live_bytes: live,
            dead_bytes: size - live,
        }
    }

    fn rules(max: Option<u64>) -> Rules {
        Rules {
            now_ms: 10_000,
            grace_ms: 1000,
            repack_below: 0.5,
            max_bytes: max,
        }
    }

    #[test]
    fn dead_packs_go_mostly_dead_ones_are_repacked_young_ones_stay() {
        let packs = [
            pack(1, 100, 0, 0, 0, false),
            pack(2, 100, 30, 0, 0, false),
            pack(3, 100, 80, 0, 0, false),
            pack(4, 100, 0, 9_500, 0, false),
        ];
        let fates = pack_fates(&packs, &rules(None));
        assert_eq!(
            fates,
            vec![
                PackFate::Delete,
                PackFate::Repack,
                PackFate::Keep,
                PackFate::Keep
            ]
        );
        assert_eq!(size_after(&packs, &fates), 30 + 100 + 100);
        assert_eq!(pinned_bytes(&packs, &fates), 30 + 100 + 100);
    }

    #[test]
    fn a_cap_evicts_least_recently_used_packs_on_a_remote_only() {
        let packs = [
            pack(1, 100, 100, 0, 50, true),
            pack(2, 100, 100, 0, 10, true),
            pack(3, 100, 100, 0, 5, false),
            pack(4, 100, 100, 0, 60, true),
        ];
        let fates = pack_fates(&packs, &rules(Some(200)));
        assert_eq!(
            fates,
            vec![
                PackFate::Evict,
                PackFate::Evict,
                PackFate::Keep,
                PackFate::Keep
            ]
        );
        // Nothing on a remote: the cap is not reachable and every byte is pinned.
        let local: Vec<PackUsage> = packs
            .iter()
            .map(|p| PackUsage {
                on_remote: false,
                ..p.clone()
            })
            .collect();
        let fates = pack_fates(&local, &rules(Some(0)));
        assert!(fates.iter().all(|f| *f == PackFate::Keep));
        assert_eq!(pinned_bytes(&local, &fates), 400);
    }
}
