//! Runs: start, finish, resume, summaries, inputs (`art use`), listing, and the best run of
//! a group. A run is a plain record with a time-ordered id (a ULID), so runs made in
//! different stores can later be merged through a remote.

use super::{CheckoutOptions, CheckoutOutcome, Store, records};
use crate::error::{Error, Result};
use crate::index::record_queries as recq;
use crate::index::run_queries as rq;
use crate::index::version_queries as vq;
use crate::index::{RunRow, VersionState};
use crate::model::{
    Entry, Ref, RunField, RunId, RunSort, RunStatus, best_by_metric, lookup, now_ms, reaches,
    sort_missing_last,
};
use rusqlite::Connection;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// How to start a run.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// A name for people.
    pub name: Option<String>,
    /// The group (sweep) it belongs to.
    pub group: Option<String>,
    /// Its job type (`train`, `eval`, …).
    pub job_type: Option<String>,
    /// Its configuration (hyperparameters).
    pub config: Map<String, Value>,
}

/// A run and its lineage edges, as `art run show` prints it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RunInfo {
    /// The run id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its group.
    pub group: Option<String>,
    /// Its job type.
    pub job_type: Option<String>,
    /// Running, ok or failed.
    pub status: RunStatus,
    /// Start time (epoch ms).
    pub started_at: i64,
    /// Finish time (epoch ms).
    pub finished_at: Option<i64>,
    /// Exit status of the command (`art run exec`).
    pub exit_code: Option<i32>,
    /// Configuration.
    pub config: Map<String, Value>,
    /// Summary metrics.
    pub summary: Map<String, Value>,
    /// Versions it logged (`NAME:vN`), oldest first.
    pub logged: Vec<String>,
    /// Versions it used (`NAME:vN`), in the order first used.
    pub used: Vec<String>,
}

/// How to finish a run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FinishOptions {
    /// The run (id or unambiguous id prefix).
    pub run: String,
    /// Ok or failed.
    pub status: RunStatus,
    /// Metrics merged into the summary.
    pub summary: Map<String, Value>,
    /// The command's exit status, if a command was run.
    pub exit_code: Option<i32>,
}

impl FinishOptions {
    /// Finish `run` as ok with no new metrics.
    #[must_use]
    pub fn new(run: impl Into<String>) -> Self {
        FinishOptions {
            run: run.into(),
            status: RunStatus::Ok,
            summary: Map::new(),
            exit_code: None,
        }
    }
}

/// What `art use` records and materialises.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct UseOptions {
    /// The version used.
    pub reference: Ref,
    /// The run using it.
    pub run: String,
    /// Also check the version out here.
    pub checkout: Option<PathBuf>,
    /// Let the checkout overwrite files art has not seen.
    pub force: bool,
}

impl UseOptions {
    /// `run` uses `reference`; nothing is checked out.
    #[must_use]
    pub fn new(reference: Ref, run: impl Into<String>) -> Self {
        UseOptions {
            reference,
            run: run.into(),
            checkout: None,
            force: false,
        }
    }
}

/// What `art use` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UseOutcome {
    /// The run.
    pub run: String,
    /// The version (`NAME:vN`).
    pub reference: String,
    /// False when the run had already used this version.
    pub recorded: bool,
    /// The checkout, when one was asked for.
    pub checkout: Option<CheckoutOutcome>,
}

/// Which runs `art runs` lists, and in what order.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RunsOptions {
    /// Only runs of this group.
    pub group: Option<String>,
    /// Only runs of this job type.
    pub job_type: Option<String>,
    /// Order (default: start time); runs without the value come last.
    pub sort: Option<RunSort>,
    /// At most this many runs (after sorting).
    pub limit: Option<usize>,
}

/// How `art runs best` picks a run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BestRunOptions {
    /// Only runs of this group.
    pub group: Option<String>,
    /// Only runs of this job type.
    pub job_type: Option<String>,
    /// The summary metric compared.
    pub metric: String,
    /// Smallest wins (default: largest).
    pub minimize: bool,
}

impl BestRunOptions {
    /// The run with the largest `metric`.
    #[must_use]
    pub fn new(metric: impl Into<String>) -> Self {
        BestRunOptions {
            group: None,
            job_type: None,
            metric: metric.into(),
            minimize: false,
        }
    }
}

/// The best run of a group, and the runs that could not compete.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BestRunOutcome {
    /// The metric.
    pub metric: String,
    /// Its value in the best run.
    pub value: f64,
    /// Whether smaller was better.
    pub minimize: bool,
    /// The best run, with the versions it logged.
    pub run: RunInfo,
    /// How many runs had the metric.
    pub compared: usize,
    /// Runs without a numeric value for the metric (ignored).
    pub missing: Vec<String>,
}

/// 80 random bits for a run id: from the OS, or, failing that, from std's randomly keyed hasher.
pub(crate) fn random_bits() -> [u8; 10] {
    let mut out = [0u8; 10];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom")
        && std::io::Read::read_exact(&mut f, &mut out).is_ok()
    {
        return out;
    }
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_usize(i);
        let bytes = h.finish().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    out
}

/// Finds a run by id, by id in any case, or by an unambiguous prefix of 4+ characters.
pub(crate) fn find_run_in(conn: &Connection, given: &str) -> Result<RunRow> {
    if let Some(run) = rq::try_run(conn, given)? {
        return Ok(run);
    }
    let upper = given.to_ascii_uppercase();
    if upper != given
        && let Some(run) = rq::try_run(conn, &upper)?
    {
        return Ok(run);
    }
    if given.chars().count() >= 4 {
        let mut matches = rq::run_ids_with_prefix(conn, given, 6)?;
        if matches.is_empty() && upper != given {
            matches = rq::run_ids_with_prefix(conn, &upper, 6)?;
        }
        match matches.len() {
            0 => {}
            1 => {
                if let Some(run) = rq::try_run(conn, &matches[0])? {
                    return Ok(run);
                }
            }
            _ => {
                return Err(Error::AmbiguousRun {
                    prefix: given.to_owned(),
                    matches,
                });
            }
        }
    }
    Err(Error::UnknownRun(given.to_owned()))
}

/// Finds a run that is still running: versions can be logged to it and used by it.
pub(crate) fn open_run_in(conn: &Connection, given: &str, action: &'static str) -> Result<RunRow> {
    let run = find_run_in(conn, given)?;
    if run.status.is_finished() {
        return Err(Error::RunFinished {
            id: run.id,
            status: run.status,
            action,
        });
    }
    Ok(run)
}

/// `NAME:vN` of a version row, with whether it was deleted.
pub(crate) fn version_ref(
    conn: &Connection,
    names: &mut BTreeMap<i64, (String, String)>,
    version_id: i64,
) -> Result<(String, bool)> {
    let v = vq::version_by_id(conn, version_id)?.ok_or_else(|| {
        crate::index::Error::Corrupt(format!("lineage names missing version {version_id}"))
    })?;
    if let std::collections::btree_map::Entry::Vacant(e) = names.entry(v.artifact_id) {
        e.insert(rq::artifact_name_and_type(conn, v.artifact_id)?);
    }
    let name = &names[&v.artifact_id].0;
    Ok((
        format!("{name}:v{}", v.idx),
        v.state == VersionState::Deleted,
    ))
}

impl Store {
    /// Starts a run and returns it; its id is new, time-ordered and random.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn start_run(&mut self, opts: RunOptions) -> Result<RunInfo> {
        self.writable()?;
        let now = now_ms();
        let id = RunId::from_parts(u64::try_from(now).unwrap_or(0), random_bits());
        let row = RunRow {
            id: id.to_string(),
            name: opts.name,
            group: opts.group,
            job_type: opts.job_type,
            config: opts.config,
            summary: Map::new(),
            status: RunStatus::Running,
            started_at: now,
            finished_at: None,
            exit_code: None,
        };
        let tx = records::begin(&mut self.conn, &self.dir)?;
        records::append(
            &self.dir,
            &tx,
            now,
            vec![Entry::Run(recq::run_record(&row))],
        )?;
        tx.commit().map_err(crate::index::Error::from)?;
        self.run_info(row)
    }

    /// One run, by id or unambiguous id prefix.
    ///
    /// # Errors
    /// [`Error::UnknownRun`], [`Error::AmbiguousRun`]; SQLite errors.
    pub fn run(&self, id: &str) -> Result<RunInfo> {
        let row = find_run_in(&self.conn, id)?;
        self.run_info(row)
    }

    /// Finishes a running run: sets its status and finish time and merges `opts.summary`
    /// into its summary.
    ///
    /// # Errors
    /// Unknown run; [`Error::RunFinished`] when it is finished already; a status of `running`.
    pub fn finish_run(&mut self, opts: FinishOptions) -> Result<RunInfo> {
        self.writable()?;
        if opts.status == RunStatus::Running {
            return Err(crate::model::Error::InvalidRunStatus("running".into()).into());
        }
        let tx = records::begin(&mut self.conn, &self.dir)?;
        let mut row = open_run_in(&tx, &opts.run, "finish")?;
        let now = now_ms();
        row.summary.extend(opts.summary);
        row.status = opts.status;
        row.finished_at = Some(now);
        row.exit_code = opts.exit_code;
        records::append(
            &self.dir,
            &tx,
            now,
            vec![Entry::Run(recq::run_record(&row))],
        )?;
        tx.commit().map_err(crate::index::Error::from)?;
        self.run_info(row)
    }

    /// Reopens a finished run so versions can be logged to it again; a running run is left
    /// as it is.
    ///
    /// # Errors
    /// Unknown run; SQLite errors.
    pub fn resume_run(&mut self, id: &str) -> Result<RunInfo> {
        self.writable()?;
        let tx = records::begin(&mut self.conn, &self.dir)?;
        let mut row = find_run_in(&tx, id)?;
        if row.status.is_finished() {
            row.status = RunStatus::Running;
            row.finished_at = None;
            row.exit_code = None;
            records::append(
                &self.dir,
                &tx,
                now_ms(),
                vec![Entry::Run(recq::run_record(&row))],
            )?;
        }
        tx.commit().map_err(crate::index::Error::from)?;
        self.run_info(row)
    }

    /// Merges metrics into a run's summary (later values replace earlier ones); finished runs
    /// accept them too, for metrics computed afterwards.
    ///
    /// # Errors
    /// Unknown run; SQLite errors.
    pub fn update_summary(&mut self, id: &str, summary: Map<String, Value>) -> Result<RunInfo> {
        self.writable()?;
        let tx = records::begin(&mut self.conn, &self.dir)?;
        let mut row = find_run_in(&tx, id)?;
        row.summary.extend(summary);
        records::append(
            &self.dir,
            &tx,
            now_ms(),
            vec![Entry::Run(recq::run_record(&row))],
        )?;
        tx.commit().map_err(crate::index::Error::from)?;
        self.run_info(row)
    }

    /// Records that a running run used a version (an input edge), after checking it out when
    /// asked. Using a version twice records it once.
    ///
    /// # Errors
    /// Unknown or finished run; unknown or deleted version; [`Error::LineageCycle`] when the
    /// run produced the version (directly or through other runs); checkout failures, in which
    /// case nothing is recorded.
    pub fn use_version(&mut self, opts: UseOptions) -> Result<UseOutcome> {
        self.writable()?;
        let run = open_run_in(&self.conn, &opts.run, "use versions in")?;
        let (artifact, version) = self.resolve(&opts.reference)?;
        let reference = format!("{}:v{}", artifact.name, version.idx);
        let reason = if version.logged_by_run.as_deref() == Some(run.id.as_str()) {
            Some("it logged that version".to_owned())
        } else if self.made_from(&run.id, version.id)? {
            Some("that version was made from this run's outputs".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(Error::LineageCycle {
                run: run.id,
                version: reference,
                reason,
            });
        }
        let checkout = match opts.checkout {
            Some(dest) => {
                let mut co = CheckoutOptions::new(opts.reference.clone()).dest(dest);
                co.force = opts.force;
                Some(self.checkout(&co)?)
            }
            None => None,
        };
        let tx = records::begin(&mut self.conn, &self.dir)?;
        open_run_in(&tx, &run.id, "use versions in")?;
        let recorded = !rq::inputs_of(&tx, &run.id)?.contains(&version.id);
        if recorded {
            let entry = Entry::Use {
                run: run.id.clone(),
                version: recq::record_of_version(&tx, version.id)?,
            };
            records::append(&self.dir, &tx, now_ms(), vec![entry])?;
        }
        tx.commit().map_err(crate::index::Error::from)?;
        Ok(UseOutcome {
            run: run.id,
            reference,
            recorded,
            checkout,
        })
    }

    /// Whether the version is downstream of the run (the run's outputs led to it).
    fn made_from(&self, run_id: &str, version_id: i64) -> Result<bool> {
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
        enum N {
            V(i64),
            R(String),
        }
        reaches(&N::R(run_id.to_owned()), &N::V(version_id), |n| match n {
            N::V(v) => Ok(rq::users_of(&self.conn, *v)?
                .into_iter()
                .map(N::R)
                .collect()),
            N::R(r) => Ok::<_, Error>(
                rq::outputs_of(&self.conn, r)?
                    .into_iter()
                    .map(N::V)
                    .collect(),
            ),
        })
    }

    /// Runs, filtered and sorted; runs without the sort value come last.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn runs(&self, opts: &RunsOptions) -> Result<Vec<RunInfo>> {
        let mut rows = rq::list_runs(&self.conn, opts.group.as_deref(), opts.job_type.as_deref())?;
        if let Some(sort) = &opts.sort {
            sort_missing_last(&mut rows, sort.descending, |r| sort_value(r, &sort.field));
        }
        if let Some(limit) = opts.limit {
            rows.truncate(limit);
        }
        rows.into_iter().map(|r| self.run_info(r)).collect()
    }

    /// The run of a group with the largest (or smallest) summary metric. Runs without the
    /// metric are ignored and listed in `missing`.
    ///
    /// # Errors
    /// [`Error::NoMetric`] when no run has the metric; SQLite errors.
    pub fn best_run(&self, opts: &BestRunOptions) -> Result<BestRunOutcome> {
        let rows = rq::list_runs(&self.conn, opts.group.as_deref(), opts.job_type.as_deref())?;
        let metric = |r: &RunRow| lookup(&r.summary, &opts.metric).and_then(Value::as_f64);
        let mut scope = String::new();
        if let Some(g) = &opts.group {
            let _ = write!(scope, " in group `{g}`");
        }
        if let Some(t) = &opts.job_type {
            let _ = write!(scope, " of job type `{t}`");
        }
        if rows.is_empty() {
            return Err(Error::NoRuns(scope));
        }
        let Some(best) = best_by_metric(&rows, opts.minimize, metric) else {
            let mut known: Vec<String> = rows
                .iter()
                .flat_map(|r| r.summary.keys().cloned())
                .collect();
            known.sort();
            known.dedup();
            return Err(Error::NoMetric {
                metric: opts.metric.clone(),
                scope,
                known,
            });
        };
        let missing = rows
            .iter()
            .filter(|r| metric(r).is_none())
            .map(|r| r.id.clone())
            .collect::<Vec<_>>();
        let value = metric(&rows[best]).expect("the best run has the metric");
        let compared = rows.len() - missing.len();
        let row = rows
            .into_iter()
            .nth(best)
            .expect("index from the same list");
        Ok(BestRunOutcome {
            metric: opts.metric.clone(),
            value,
            minimize: opts.minimize,
            run: self.run_info(row)?,
            compared,
            missing,
        })
    }

    fn run_info(&self, row: RunRow) -> Result<RunInfo> {
        let mut names = BTreeMap::new();
        let mut refs = |ids: Vec<i64>| -> Result<Vec<String>> {
            ids.into_iter()
                .map(|id| Ok(version_ref(&self.conn, &mut names, id)?.0))
                .collect()
        };
        let logged = refs(rq::outputs_of(&self.conn, &row.id)?)?;
        let used = refs(rq::inputs_of(&self.conn, &row.id)?)?;
        Ok(RunInfo {
            id: row.id,
            name: row.name,
            group: row.group,
            job_type: row.job_type,
            status: row.status,
            started_at: row.started_at,
            finished_at: row.finished_at,
            exit_code: row.exit_code,
            config: row.config,
            summary: row.summary,
            logged,
            used,
        })
    }

    /// The run a version may be logged to: it must exist and still be running. Returns its
    /// full id (the caller may have given a prefix).
    pub(crate) fn open_run(&self, given: &str, action: &'static str) -> Result<String> {
        Ok(open_run_in(&self.conn, given, action)?.id)
    }
}

fn sort_value(r: &RunRow, field: &RunField) -> Option<Value> {
    match field {
        RunField::Started => Some(r.started_at.into()),
        RunField::Finished => r.finished_at.map(Value::from),
        RunField::Name => r.name.clone().map(Value::from),
        RunField::Status => Some(r.status.as_str().into()),
        RunField::Summary(k) => lookup(&r.summary, k).cloned(),
        RunField::Config(k) => lookup(&r.config, k).cloned(),
    }
}
