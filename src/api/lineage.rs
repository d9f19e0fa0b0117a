//! `art lineage`: walk the DAG of versions and runs from one version or run.

use super::Store;
use super::run::{find_run_in, version_ref};
use crate::error::{Error, Result};
use crate::index::registry_queries as reg;
use crate::index::run_queries as rq;
use crate::index::version_queries as vq;
use crate::model::{
    Direction, Lineage, LineageEdge, LineageNode, NodeInfo, Ref, Relation, RunId, Step, walk,
};
use std::collections::BTreeMap;

/// Where to start and how far to go.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LineageOptions {
    /// A version (`NAME`, `NAME:ALIAS`, `NAME:vN`, `NAME@PREFIX`; deleted versions too) or a
    /// run id (or unambiguous prefix).
    pub target: String,
    /// Up (inputs), down (outputs) or both.
    pub direction: Direction,
    /// At most this many edges from the start.
    pub depth: Option<u32>,
}

impl LineageOptions {
    /// Both directions, no depth limit.
    #[must_use]
    pub fn new(target: impl Into<String>) -> Self {
        LineageOptions {
            target: target.into(),
            direction: Direction::Both,
            depth: None,
        }
    }
}

/// A node while walking: a version row id or a run id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Version(i64),
    Run(String),
}

impl Store {
    /// The lineage of a version or run: the runs and versions reached walking inputs (up),
    /// outputs (down) or both, deleted versions included and marked.
    ///
    /// # Errors
    /// [`Error::UnknownNode`] when the target is neither a version nor a run; unknown
    /// versions or ambiguous prefixes; SQLite errors.
    pub fn lineage(&self, opts: &LineageOptions) -> Result<Lineage> {
        let root = self.lineage_root(&opts.target)?;
        let walked = walk(root, opts.direction, opts.depth, |node, step| {
            self.neighbors(node, step)
        })?;
        let mut names = BTreeMap::new();
        let mut aliases: BTreeMap<i64, BTreeMap<i64, Vec<String>>> = BTreeMap::new();
        let mut ids: BTreeMap<Key, String> = BTreeMap::new();
        let mut nodes = Vec::with_capacity(walked.nodes.len());
        for (key, depth, side) in walked.nodes {
            let (id, info) = match &key {
                Key::Version(vid) => {
                    let (reference, deleted) = version_ref(&self.conn, &mut names, *vid)?;
                    let v = vq::version_by_id(&self.conn, *vid)?.ok_or_else(|| {
                        crate::index::Error::Corrupt(format!("version {vid} vanished"))
                    })?;
                    if let std::collections::btree_map::Entry::Vacant(e) =
                        aliases.entry(v.artifact_id)
                    {
                        e.insert(vq::aliases_by_version(&self.conn, v.artifact_id)?);
                    }
                    let (name, kind) = names[&v.artifact_id].clone();
                    let info = NodeInfo::Version {
                        name,
                        kind,
                        version: v.idx,
                        deleted,
                        aliases: aliases[&v.artifact_id]
                            .get(vid)
                            .cloned()
                            .unwrap_or_default(),
                    };
                    (reference, info)
                }
                Key::Run(rid) => {
                    let run = rq::try_run(&self.conn, rid)?.ok_or_else(|| {
                        crate::index::Error::Corrupt(format!(
                            "run `{rid}` is named by a version but has no record"
                        ))
                    })?;
                    let info = NodeInfo::Run {
                        name: run.name,
                        group: run.group,
                        job_type: run.job_type,
                        status: run.status,
                    };
                    (run.id, info)
                }
            };
            ids.insert(key, id.clone());
            nodes.push(LineageNode {
                id,
                depth,
                side,
                info,
            });
        }
        let edges = walked
            .edges
            .into_iter()
            .map(|(from, to)| LineageEdge {
                relation: match (&from, &to) {
                    (Key::Version(_), Key::Version(_)) => Relation::Linked,
                    (Key::Version(_), Key::Run(_)) => Relation::Used,
                    (Key::Run(_), _) => Relation::Logged,
                },
                from: ids[&from].clone(),
                to: ids[&to].clone(),
            })
            .collect();
        Ok(Lineage {
            root: nodes[0].id.clone(),
            direction: opts.direction,
            depth: opts.depth,
            nodes,
            edges,
        })
    }

    fn neighbors(&self, node: &Key, step: Step) -> Result<Vec<Key>> {
        Ok(match (node, step) {
            // A link's producer is the version it links; a version's consumers include
            // the collections it is linked into.
            (Key::Version(v), Step::Up) => rq::producers_of(&self.conn, *v)?
                .into_iter()
                .map(Key::Run)
                .chain(reg::link_source(&self.conn, *v)?.map(Key::Version))
                .collect(),
            (Key::Version(v), Step::Down) => rq::users_of(&self.conn, *v)?
                .into_iter()
                .map(Key::Run)
                .chain(reg::links_to(&self.conn, *v)?.into_iter().map(Key::Version))
                .collect(),
            (Key::Run(r), Step::Up) => rq::inputs_of(&self.conn, r)?
                .into_iter()
                .map(Key::Version)
                .collect(),
            (Key::Run(r), Step::Down) => rq::outputs_of(&self.conn, r)?
                .into_iter()
                .map(Key::Version)
                .collect(),
        })
    }

    /// A reference names a version (deleted ones included); a bare word is an artifact
    /// (its `latest`) or a run: a run first when it has a run id's shape.
    fn lineage_root(&self, target: &str) -> Result<Key> {
        let bare = !target.contains([':', '@']);
        if bare
            && RunId::looks_like(target)
            && let Ok(run) = find_run_in(&self.conn, target)
        {
            return Ok(Key::Run(run.id));
        }
        if !bare || vq::try_artifact(&self.conn, target)?.is_some() {
            let r: Ref = target.parse()?;
            return Ok(Key::Version(self.resolve_any(&r)?.1.id));
        }
        match find_run_in(&self.conn, target) {
            Ok(run) => Ok(Key::Run(run.id)),
            Err(Error::UnknownRun(_)) => Err(Error::UnknownNode(target.to_owned())),
            Err(e) => Err(e),
        }
    }
}
