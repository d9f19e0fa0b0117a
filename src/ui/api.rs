//! The JSON API under `/api/`. Each route is named after the CLI command whose `--json`
//! output it returns, and calls the same `Store` method with the same options:
//!
//! | route | CLI |
//! |---|---|
//! | `/api/ls` | `art ls --json` |
//! | `/api/ls/REF` | `art ls REF --json` |
//! | `/api/versions/NAME[?all=1]` | `art versions NAME [--all] --json` |
//! | `/api/show/REF` | `art show REF --json` |
//! | `/api/diff/FROM?to=REF` | `art diff FROM REF --json` |
//! | `/api/runs[?group=G&job_type=J&sort=-summary.acc&limit=N]` | `art runs … --json` |
//! | `/api/run/ID` | `art run show ID --json` |
//! | `/api/lineage/TARGET[?direction=up\|down\|both&depth=N]` | `art lineage TARGET --json` |
//! | `/api/file/REF?path=P` | the bytes of one file (`art download` of one path) |
//! | `/api/seq` | `{"seq": N}`: the last record-log batch, which the page polls |

use super::{Query, Reply, decode_with};
use crate::model::{Direction, ManifestPath, Ref, RunSort};
use crate::{DiffTarget, LineageOptions, RunsOptions, Store};
use std::path::Path;

/// Files larger than this are not sent to the page (it shows text and images, not datasets).
const MAX_FILE: u64 = 64 << 20;

impl From<crate::Error> for Reply {
    fn from(e: crate::Error) -> Self {
        use crate::Error as E;
        let status = match &e {
            E::UnknownArtifact { .. }
            | E::UnknownVersion { .. }
            | E::UnknownRun(_)
            | E::UnknownNode(_)
            | E::UnknownPath { .. }
            | E::Deleted { .. } => 404,
            E::Model(_) | E::AmbiguousRef { .. } | E::AmbiguousRun { .. } => 400,
            _ => 500,
        };
        Reply::error(status, &e.to_string())
    }
}

impl From<crate::model::Error> for Reply {
    fn from(e: crate::model::Error) -> Self {
        Reply::error(400, &e.to_string())
    }
}

/// Answers `/api/{rest}` from the store in `store_dir`.
pub(super) fn answer(store_dir: &Path, rest: &str, query: &Query) -> Reply {
    route(store_dir, rest, query).unwrap_or_else(|reply| reply)
}

fn route(store_dir: &Path, rest: &str, q: &Query) -> Result<Reply, Reply> {
    let (endpoint, arg) = match rest.split_once('/') {
        Some((e, a)) => (e, Some(decode_with(a, false)).filter(|a| !a.is_empty())),
        None => (rest, None),
    };
    let store = Store::open(store_dir)?;
    Ok(match (endpoint, arg.as_deref()) {
        ("seq", None) => Reply::json(&serde_json::json!({ "seq": store.log_seq()? })),
        ("ls", None) => Reply::json(&store.list_artifacts()?),
        ("ls", Some(r)) => Reply::json(&store.files(&r.parse()?)?),
        ("versions", Some(name)) => Reply::json(&store.versions(name, q.get("all").is_some())?),
        ("show", Some(r)) => Reply::json(&store.show(&r.parse()?)?),
        ("diff", Some(from)) => {
            let to: Ref = q
                .get("to")
                .ok_or_else(|| Reply::error(400, "add the other version: ?to=NAME:vN"))?
                .parse()?;
            Reply::json(&store.diff(&from.parse()?, &DiffTarget::Version(to))?)
        }
        ("runs", None) => {
            let opts = RunsOptions {
                group: q.get("group").map(str::to_owned),
                job_type: q.get("job_type").map(str::to_owned),
                sort: q.get("sort").map(str::parse::<RunSort>).transpose()?,
                limit: q.get("limit").map(|n| number(n, "limit")).transpose()?,
            };
            Reply::json(&store.runs(&opts)?)
        }
        ("run", Some(id)) => Reply::json(&store.run(id)?),
        ("lineage", Some(target)) => {
            let mut opts = LineageOptions::new(target);
            opts.direction = match q.get("direction") {
                None | Some("both") => Direction::Both,
                Some("up") => Direction::Up,
                Some("down") => Direction::Down,
                Some(d) => {
                    return Err(Reply::error(
                        400,
                        &format!("direction `{d}` is not up, down or both"),
                    ));
                }
            };
            opts.depth = q.get("depth").map(|n| number(n, "depth")).transpose()?;
            Reply::json(&store.lineage(&opts)?)
        }
        ("file", Some(r)) => file(&store, &r.parse()?, q)?,
        _ => Reply::error(
            404,
            &format!(
                "no API route `/api/{rest}`; routes: ls, ls/REF, versions/NAME, show/REF, \
                 diff/FROM?to=REF, runs, run/ID, lineage/TARGET, file/REF?path=P, seq"
            ),
        ),
    })
}

/// A count from the query, or a 400 naming the parameter.
fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, Reply> {
    text.parse()
        .map_err(|_| Reply::error(400, &format!("{what} `{text}` is not a number")))
}

/// The bytes of one file of a version. The path must follow the manifest's rules, so
/// `../` and absolute paths are refused before the store is asked.
fn file(store: &Store, r: &Ref, q: &Query) -> Result<Reply, Reply> {
    let raw = q
        .get("path")
        .ok_or_else(|| Reply::error(400, "add the file's path: ?path=dir/file.txt"))?;
    let path = ManifestPath::new(raw).map_err(|e| {
        Reply::error(
            400,
            &format!("refusing path `{raw}`: {e}; give a path inside the version"),
        )
    })?;
    let files = store.files(r)?;
    let size = files
        .iter()
        .find(|f| f.path == path.as_str())
        .map_or(0, |f| f.size);
    if size > MAX_FILE {
        return Err(Reply::error(
            413,
            &format!(
                "`{path}` is {}; too large to show here, fetch it with `art download`",
                crate::model::format_size(size)
            ),
        ));
    }
    let mut body = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    store.read_file(r, path.as_str(), &mut body)?;
    Ok(Reply {
        status: 200,
        content_type: content_type(path.as_str(), &body).to_owned(),
        body,
        sandbox: true,
    })
}

/// Images by extension, UTF-8 text as plain text (never HTML, so a stored page cannot run
/// as this site), anything else as bytes.
fn content_type(path: &str, body: &[u8]) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        _ if std::str::from_utf8(body).is_ok() => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
