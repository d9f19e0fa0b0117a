//! Runs and the lineage edges: `versions.logged_by_run` (a run's outputs) and `run_inputs`
//! (the versions a run used).

use super::{Error, Result};
use crate::model::RunStatus;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};

/// One run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    /// The run id (a ULID; older stores may hold free-form labels).
    pub id: String,
    /// A name for people.
    pub name: Option<String>,
    /// The group (sweep) it belongs to.
    pub group: Option<String>,
    /// Its job type (`train`, `eval`, …).
    pub job_type: Option<String>,
    /// Its configuration, a JSON object.
    pub config: Map<String, Value>,
    /// Its summary metrics, a JSON object.
    pub summary: Map<String, Value>,
    /// Running, ok or failed.
    pub status: RunStatus,
    /// Start time (epoch ms).
    pub started_at: i64,
    /// Finish time (epoch ms), while finished.
    pub finished_at: Option<i64>,
    /// Exit status of the command, for runs made by `art run exec`.
    pub exit_code: Option<i32>,
}

fn status_to_db(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "RUNNING",
        RunStatus::Ok => "OK",
        RunStatus::Failed => "FAILED",
    }
}

fn status_from_db(s: &str) -> Result<RunStatus> {
    match s {
        "RUNNING" => Ok(RunStatus::Running),
        "OK" => Ok(RunStatus::Ok),
        "FAILED" => Ok(RunStatus::Failed),
        other => Err(Error::Corrupt(format!("run status `{other}`"))),
    }
}

const RUN_COLUMNS: &str =
    "id, name, grp, job_type, config, summary, status, started_at, finished_at, exit_code";

type RawRun = (RunRow, String, String, String);

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<RawRun> {
    Ok((
        RunRow {
            id: r.get(0)?,
            name: r.get(1)?,
            group: r.get(2)?,
            job_type: r.get(3)?,
            config: Map::new(),
            summary: Map::new(),
            status: RunStatus::Running,
            started_at: r.get(7)?,
            finished_at: r.get(8)?,
            exit_code: r.get(9)?,
        },
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn finish_run(raw: RawRun) -> Result<RunRow> {
    let (mut run, config, summary, status) = raw;
    let object = |text: &str, what: &str| -> Result<Map<String, Value>> {
        match serde_json::from_str(text) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(Error::Corrupt(format!("{what} of run `{}`", run.id))),
        }
    };
    run.config = object(&config, "config")?;
    run.summary = object(&summary, "summary")?;
    run.status = status_from_db(&status)?;
    Ok(run)
}

fn query_runs(
    conn: &Connection,
    where_clause: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<RunRow>> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE {where_clause}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(args, run_from_row)?;
    rows.map(|r| finish_run(r?)).collect()
}

/// Records a new run.
///
/// # Errors
/// SQLite errors (an id that exists violates the primary key).
pub fn insert_run(conn: &Connection, run: &RunRow) -> Result<()> {
    conn.execute(
        "INSERT INTO runs(id, name, grp, job_type, config, summary, status, started_at,
            finished_at, exit_code)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            run.id,
            run.name,
            run.group,
            run.job_type,
            Value::Object(run.config.clone()).to_string(),
            Value::Object(run.summary.clone()).to_string(),
            status_to_db(run.status),
            run.started_at,
            run.finished_at,
            run.exit_code,
        ],
    )?;
    Ok(())
}

/// Writes a run's mutable fields: summary, status, finish time and exit code.
///
/// # Errors
/// SQLite errors.
pub fn update_run(conn: &Connection, run: &RunRow) -> Result<()> {
    conn.execute(
        "UPDATE runs SET summary = ?2, status = ?3, finished_at = ?4, exit_code = ?5 WHERE id = ?1",
        params![
            run.id,
            Value::Object(run.summary.clone()).to_string(),
            status_to_db(run.status),
            run.finished_at,
            run.exit_code,
        ],
    )?;
    Ok(())
}

/// The run with exactly this id, if any.
///
/// # Errors
/// SQLite errors; a corrupt row.
pub fn try_run(conn: &Connection, id: &str) -> Result<Option<RunRow>> {
    Ok(query_runs(conn, "id = ?1", [id])?.pop())
}

/// The ids of runs starting with `prefix` (at most `limit`).
///
/// # Errors
/// SQLite errors.
pub fn run_ids_with_prefix(conn: &Connection, prefix: &str, limit: usize) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        params![prefix, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| r.get(0),
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Runs, oldest first, optionally only those of one group and one job type.
///
/// # Errors
/// SQLite errors; a corrupt row.
pub fn list_runs(
    conn: &Connection,
    group: Option<&str>,
    job_type: Option<&str>,
) -> Result<Vec<RunRow>> {
    query_runs(
        conn,
        "(?1 IS NULL OR grp = ?1) AND (?2 IS NULL OR job_type = ?2) ORDER BY started_at, id",
        params![group, job_type],
    )
}

/// Records that `run_id` used a version; returns false when it already had.
///
/// # Errors
/// SQLite errors.
pub fn add_input(conn: &Connection, run_id: &str, version_id: i64, now_ms: i64) -> Result<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO run_inputs(run_id, version_id, used_at) VALUES (?1, ?2, ?3)",
        params![run_id, version_id, now_ms],
    )? > 0)
}

/// The version row ids a run used, in the order they were first used.
///
/// # Errors
/// SQLite errors.
pub fn inputs_of(conn: &Connection, run_id: &str) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT version_id FROM run_inputs WHERE run_id = ?1 ORDER BY used_at, version_id",
    )?;
    let rows = stmt.query_map([run_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The runs that used a version, oldest run first.
///
/// # Errors
/// SQLite errors.
pub fn users_of(conn: &Connection, version_id: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.run_id FROM run_inputs i LEFT JOIN runs r ON r.id = i.run_id
         WHERE i.version_id = ?1 ORDER BY r.started_at, i.run_id",
    )?;
    let rows = stmt.query_map([version_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The version row ids a run logged, in the order they were created.
///
/// # Errors
/// SQLite errors.
pub fn outputs_of(conn: &Connection, run_id: &str) -> Result<Vec<i64>> {
    // A run that wrote a part of a collaborative version is one of its producers.
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM versions WHERE logged_by_run = ?1
         UNION SELECT version_id FROM version_producers WHERE run_id = ?1 ORDER BY 1",
    )?;
    let rows = stmt.query_map([run_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The runs that produced a version: the one that logged (or finished) it, then those that
/// wrote parts of it (a collaborative version), each once.
///
/// # Errors
/// SQLite errors.
pub fn producers_of(conn: &Connection, version_id: i64) -> Result<Vec<String>> {
    let logger = conn
        .prepare_cached("SELECT logged_by_run FROM versions WHERE id = ?1")?
        .query_row([version_id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten();
    let mut stmt = conn.prepare_cached(
        "SELECT run_id FROM version_producers WHERE version_id = ?1 ORDER BY run_id",
    )?;
    let parts = stmt
        .query_map([version_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let others = parts.into_iter().filter(|r| logger.as_ref() != Some(r));
    Ok(logger.clone().into_iter().chain(others).collect())
}

/// `(name, type)` of the artifact with this row id.
///
/// # Errors
/// SQLite errors; [`Error::Corrupt`] when it does not exist.
pub fn artifact_name_and_type(conn: &Connection, artifact_id: i64) -> Result<(String, String)> {
    conn.prepare_cached("SELECT name, type FROM artifacts WHERE id = ?1")?
        .query_row([artifact_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| Error::Corrupt(format!("version of missing artifact {artifact_id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = super::super::open(&dir.path().join("index.db")).expect("open");
        (dir, conn)
    }

    fn run(id: &str, group: Option<&str>, started_at: i64) -> RunRow {
        RunRow {
            id: id.into(),
            name: None,
            group: group.map(str::to_owned),
            job_type: Some("train".into()),
            config: serde_json::json!({"lr": 0.1})
                .as_object()
                .cloned()
                .expect("object"),
            summary: Map::new(),
            status: RunStatus::Running,
            started_at,
            finished_at: None,
            exit_code: None,
        }
    }

    #[test]
    fn runs_round_trip_and_filter() {
        let (_d, conn) = conn();
        insert_run(&conn, &run("B", Some("g"), 2)).expect("insert");
        insert_run(&conn, &run("A", Some("g"), 1)).expect("insert");
        insert_run(&conn, &run("AB", None, 3)).expect("insert");
        let mut b = try_run(&conn, "B").expect("query").expect("exists");
        assert_eq!(b, run("B", Some("g"), 2));
        b.status = RunStatus::Failed;
        b.summary.insert("acc".into(), serde_json::json!(0.5));
        b.finished_at = Some(9);
        b.exit_code = Some(3);
        update_run(&conn, &b).expect("update");
        assert_eq!(try_run(&conn, "B").expect("query"), Some(b));
        assert_eq!(try_run(&conn, "C").expect("query"), None);

        let ids = |rows: Vec<RunRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(list_runs(&conn, None, None).expect("list")),
            ["A", "B", "AB"]
        );
        assert_eq!(
            ids(list_runs(&conn, Some("g"), None).expect("list")),
            ["A", "B"]
        );
        assert!(
            list_runs(&conn, None, Some("eval"))
                .expect("list")
                .is_empty()
        );
        assert_eq!(
            run_ids_with_prefix(&conn, "A", 10).expect("prefix"),
            ["A", "AB"]
        );
        assert_eq!(run_ids_with_prefix(&conn, "A", 1).expect("prefix"), ["A"]);
        assert!(
            run_ids_with_prefix(&conn, "%", 10)
                .expect("prefix")
                .is_empty()
        );
    }

    #[test]
    fn inputs_are_recorded_once() {
        let (_d, conn) = conn();
        insert_run(&conn, &run("R", None, 1)).expect("insert");
        conn.execute_batch(
            "INSERT INTO artifacts(id, name, type, created_at) VALUES (1, 'd', 'dataset', 0);
             INSERT INTO versions(id, artifact_id, idx, digest, state, size, file_count,
                 created_at, updated_at, logged_by_run)
             VALUES (7, 1, 0, x'00', 'COMMITTED', 1, 1, 0, 0, NULL),
                    (8, 1, 1, x'01', 'COMMITTED', 1, 1, 0, 0, 'R');",
        )
        .expect("rows");
        assert!(add_input(&conn, "R", 7, 5).expect("add"));
        assert!(!add_input(&conn, "R", 7, 6).expect("add again"));
        assert_eq!(inputs_of(&conn, "R").expect("inputs"), [7]);
        assert_eq!(users_of(&conn, 7).expect("users"), ["R"]);
        assert_eq!(outputs_of(&conn, "R").expect("outputs"), [8]);
        assert_eq!(
            producers_of(&conn, 8).expect("producers"),
            vec!["R".to_owned()]
        );
        assert_eq!(
            producers_of(&conn, 7).expect("producers"),
            Vec::<String>::new()
        );
        assert_eq!(
            artifact_name_and_type(&conn, 1).expect("artifact"),
            ("d".into(), "dataset".into())
        );
        // Edges need both ends.
        assert!(add_input(&conn, "nope", 7, 5).is_err());
    }
}
