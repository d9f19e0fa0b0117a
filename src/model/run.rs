//! Runs: ids, status, summary values and how runs are sorted by a metric.

use super::{Error, Result};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Crockford's base32 alphabet (no I, L, O, U), as ULIDs use it.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A run id: a ULID, 26 characters of Crockford base32 encoding 48 bits of milliseconds since
/// the Unix epoch followed by 80 random bits. Ids sort by creation time and never repeat in
/// practice, so runs made on different machines can later be merged through a remote.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    /// The id of a run started at `ms` (epoch milliseconds, truncated to 48 bits) with the
    /// given random bits.
    #[must_use]
    pub fn from_parts(ms: u64, random: [u8; 10]) -> Self {
        let mut value = u128::from(ms & 0xFFFF_FFFF_FFFF) << 80;
        for (i, b) in random.iter().enumerate() {
            value |= u128::from(*b) << (8 * (9 - i));
        }
        let text = (0..26)
            .map(|i| {
                let shift = 125 - 5 * i;
                let digit = usize::try_from((value >> shift) & 31).expect("five bits");
                char::from(CROCKFORD[digit])
            })
            .collect();
        RunId(text)
    }

    /// Whether `s` has the shape of a run id (26 Crockford base32 characters, any case).
    #[must_use]
    pub fn looks_like(s: &str) -> bool {
        s.len() == 26
            && s.bytes()
                .all(|b| CROCKFORD.contains(&b.to_ascii_uppercase()))
            && s.as_bytes()[0] <= b'7'
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The creation time encoded in the first 10 characters (epoch ms).
    #[must_use]
    pub fn timestamp_ms(&self) -> u64 {
        self.0.bytes().take(10).fold(0u64, |acc, b| {
            let digit = CROCKFORD.iter().position(|&c| c == b).unwrap_or(0);
            (acc << 5) | digit as u64
        })
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a run is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Started and not finished: versions may be logged to it and used by it.
    Running,
    /// Finished successfully.
    Ok,
    /// Finished with a failure (a nonzero exit status under `art run exec`).
    Failed,
}

impl RunStatus {
    /// The lowercase word users see.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
        }
    }

    /// Whether the run is finished (ok or failed).
    #[must_use]
    pub fn is_finished(self) -> bool {
        self != RunStatus::Running
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "running" => Ok(RunStatus::Running),
            "ok" => Ok(RunStatus::Ok),
            "failed" => Ok(RunStatus::Failed),
            _ => Err(Error::InvalidRunStatus(s.to_owned())),
        }
    }
}

/// Parses one `--summary KEY=VALUE`: the value must be a number or JSON (`acc=0.91`,
/// `best={"epoch":3}`, `note="text"`); bare words are refused so a typo is not stored as text.
///
/// # Errors
/// [`Error::InvalidSummaryValue`] naming the key and the value; [`Error::InvalidKeyValue`]
/// without `=` or with an empty key.
pub fn parse_summary_pair(s: &str) -> Result<(String, Value)> {
    let (key, value) = split_pair(s)?;
    let parsed = serde_json::from_str(value).map_err(|_| Error::InvalidSummaryValue {
        key: key.to_owned(),
        value: value.to_owned(),
    })?;
    Ok((key.to_owned(), parsed))
}

/// Parses one `--config KEY=VALUE`: JSON when the value parses as JSON (`lr=0.1` is a
/// number), else the text itself (`optimizer=adam`).
///
/// # Errors
/// [`Error::InvalidKeyValue`] without `=` or with an empty key.
pub fn parse_config_pair(s: &str) -> Result<(String, Value)> {
    let (key, value) = split_pair(s)?;
    let parsed = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((key.to_owned(), parsed))
}

fn split_pair(s: &str) -> Result<(&str, &str)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k, v)),
        _ => Err(Error::InvalidKeyValue(s.to_owned())),
    }
}

/// Parses what a command wrote to `ART_SUMMARY`: one JSON object, or several (one per line,
/// appended as training goes); later keys replace earlier ones. Empty text is an empty summary.
///
/// # Errors
/// [`Error::InvalidSummary`] when the text is not a sequence of JSON objects.
pub fn parse_summary_text(text: &str) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for value in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        match value {
            Ok(Value::Object(map)) => out.extend(map),
            Ok(other) => {
                return Err(Error::InvalidSummary(format!(
                    "expected JSON objects, found `{other}`"
                )));
            }
            Err(e) => return Err(Error::InvalidSummary(e.to_string())),
        }
    }
    Ok(out)
}

/// Looks `key` up in a summary or config: the key itself first (`val.acc` as one key), then
/// as a path into nested objects (`val` → `acc`).
#[must_use]
pub fn lookup<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(key) {
        return Some(v);
    }
    let mut parts = key.split('.');
    let mut current = map.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// What `art runs` sorts by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunField {
    /// Start time (the default).
    Started,
    /// Finish time.
    Finished,
    /// Run name.
    Name,
    /// Status.
    Status,
    /// A summary metric.
    Summary(String),
    /// A config value.
    Config(String),
}

/// A sort order for runs: `[-]FIELD`, where `-` means descending and FIELD is `started`,
/// `finished`, `name`, `status`, `summary.KEY` or `config.KEY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSort {
    /// The field.
    pub field: RunField,
    /// Largest first.
    pub descending: bool,
}

impl FromStr for RunSort {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (descending, rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let field = match rest {
            "started" => RunField::Started,
            "finished" => RunField::Finished,
            "name" => RunField::Name,
            "status" => RunField::Status,
            _ => match rest.split_once('.') {
                Some(("summary", k)) if !k.is_empty() => RunField::Summary(k.to_owned()),
                Some(("config", k)) if !k.is_empty() => RunField::Config(k.to_owned()),
                _ => return Err(Error::InvalidSortKey(s.to_owned())),
            },
        };
        Ok(RunSort { field, descending })
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::Bool(_) => 1,
        Value::String(_) => 2,
        _ => 3,
    }
}

/// Orders JSON values for sorting: numbers by value, then booleans, then strings, then
/// anything else by its text. Values of different kinds order by kind.
#[must_use]
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x.total_cmp(&y)
        }
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a)
            .cmp(&rank(b))
            .then_with(|| a.to_string().cmp(&b.to_string())),
    }
}

/// Sorts `items` by the value `key` gives, ascending or descending. Whatever the direction,
/// numbers come first, then booleans, strings and other values, and items without a value
/// last; ties keep their order.
pub fn sort_missing_last<T>(items: &mut [T], descending: bool, key: impl Fn(&T) -> Option<Value>) {
    items.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) => rank(&x).cmp(&rank(&y)).then_with(|| {
            let o = compare_values(&x, &y);
            if descending { o.reverse() } else { o }
        }),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
}

/// The index of the best item by a numeric metric (largest, or smallest with `minimize`);
/// items whose metric is missing or not a number are skipped. The earliest item wins ties.
#[must_use]
pub fn best_by_metric<T>(
    items: &[T],
    minimize: bool,
    metric: impl Fn(&T) -> Option<f64>,
) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, item) in items.iter().enumerate() {
        let Some(v) = metric(item).filter(|v| !v.is_nan()) else {
            continue;
        };
        let better = match best {
            None => true,
            Some((_, b)) if minimize => v < b,
            Some((_, b)) => v > b,
        };
        if better {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_ids_are_ulids() {
        let id = RunId::from_parts(0, [0; 10]);
        assert_eq!(id.as_str(), "00000000000000000000000000");
        let id = RunId::from_parts(0xFFFF_FFFF_FFFF, [0xFF; 10]);
        assert_eq!(id.as_str(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        // The ULID spec's example time 1469918176385 encodes as 01ARYZ6S41.
        let id = RunId::from_parts(1_469_918_176_385, [0; 10]);
        assert_eq!(&id.as_str()[..10], "01ARYZ6S41");
        assert_eq!(id.timestamp_ms(), 1_469_918_176_385);
        assert!(RunId::looks_like(id.as_str()));
        assert!(RunId::looks_like(&id.as_str().to_lowercase()));
        assert!(!RunId::looks_like("01ARYZ6S41"));
        assert!(!RunId::looks_like("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
        assert!(
            !RunId::looks_like("0123456789ABCDEFGHIJKLMNOP"),
            "I, L, O are not Crockford"
        );
        // Later times sort later whatever the random part.
        let a = RunId::from_parts(1000, [0xFF; 10]);
        let b = RunId::from_parts(1001, [0; 10]);
        assert!(a < b);
    }

    #[test]
    fn summary_values_must_be_json() {
        assert_eq!(
            parse_summary_pair("acc=0.9").unwrap(),
            ("acc".into(), json!(0.9))
        );
        assert_eq!(
            parse_summary_pair("best={\"epoch\": 3}").unwrap().1,
            json!({"epoch": 3})
        );
        assert_eq!(parse_summary_pair("note=\"hi\"").unwrap().1, json!("hi"));
        assert!(parse_summary_pair("a=b=1").is_err());
        let err = parse_summary_pair("acc=high").unwrap_err().to_string();
        assert!(err.contains("`high`") && err.contains("`acc`"), "{err}");
        assert!(matches!(
            parse_summary_pair("acc"),
            Err(Error::InvalidKeyValue(_))
        ));
        assert!(matches!(
            parse_summary_pair("=1"),
            Err(Error::InvalidKeyValue(_))
        ));
        // Config values fall back to text.
        assert_eq!(parse_config_pair("opt=adam").unwrap().1, json!("adam"));
        assert_eq!(parse_config_pair("lr=0.1").unwrap().1, json!(0.1));
    }

    #[test]
    fn summary_text_is_a_stream_of_objects() {
        assert_eq!(parse_summary_text("").unwrap(), Map::new());
        assert_eq!(parse_summary_text("  \n").unwrap(), Map::new());
        let m = parse_summary_text("{\"acc\": 0.5, \"loss\": 2}\n{\"acc\": 0.7}\n").unwrap();
        assert_eq!(Value::Object(m), json!({"acc": 0.7, "loss": 2}));
        assert!(parse_summary_text("[1]").is_err());
        assert!(parse_summary_text("{\"acc\": ").is_err());
        assert!(parse_summary_text("acc=1").is_err());
    }

    #[test]
    fn lookup_flat_then_nested() {
        let m = json!({"val.acc": 1, "val": {"acc": 2, "f1": 3}, "x": 4});
        let m = m.as_object().unwrap();
        assert_eq!(lookup(m, "val.acc"), Some(&json!(1)));
        assert_eq!(lookup(m, "val.f1"), Some(&json!(3)));
        assert_eq!(lookup(m, "x"), Some(&json!(4)));
        assert_eq!(lookup(m, "x.y"), None);
        assert_eq!(lookup(m, "nope"), None);
    }

    #[test]
    fn sort_keys_parse() {
        assert_eq!(
            "-summary.acc".parse::<RunSort>().unwrap(),
            RunSort {
                field: RunField::Summary("acc".into()),
                descending: true
            }
        );
        assert_eq!(
            "config.lr".parse::<RunSort>().unwrap(),
            RunSort {
                field: RunField::Config("lr".into()),
                descending: false
            }
        );
        assert_eq!(
            "+started".parse::<RunSort>().unwrap().field,
            RunField::Started
        );
        for bad in ["", "-", "acc", "summary.", "summary", "metrics.acc"] {
            assert!(bad.parse::<RunSort>().is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_values_sort_last_both_ways() {
        let mut items = vec![
            ("a", Some(json!(0.5))),
            ("b", None),
            ("c", Some(json!(0.9))),
            ("d", Some(json!(0.1))),
            ("e", None),
        ];
        sort_missing_last(&mut items, true, |i| i.1.clone());
        let order: Vec<&str> = items.iter().map(|i| i.0).collect();
        assert_eq!(order, ["c", "a", "d", "b", "e"]);
        sort_missing_last(&mut items, false, |i| i.1.clone());
        let order: Vec<&str> = items.iter().map(|i| i.0).collect();
        assert_eq!(order, ["d", "a", "c", "b", "e"]);
        // A text value sorts after every number, in both directions.
        let mut items = vec![
            ("n/a", Some(json!("n/a"))),
            ("lo", Some(json!(1))),
            ("hi", Some(json!(2))),
        ];
        sort_missing_last(&mut items, true, |i| i.1.clone());
        assert_eq!(
            items.iter().map(|i| i.0).collect::<Vec<_>>(),
            ["hi", "lo", "n/a"]
        );
        sort_missing_last(&mut items, false, |i| i.1.clone());
        assert_eq!(
            items.iter().map(|i| i.0).collect::<Vec<_>>(),
            ["lo", "hi", "n/a"]
        );
        // Mixed kinds: numbers before strings; 10 after 9 (numeric, not textual).
        let mut v = vec![json!("x"), json!(10), json!(9), json!(true)];
        v.sort_by(compare_values);
        assert_eq!(v, vec![json!(9), json!(10), json!(true), json!("x")]);
    }

    #[test]
    fn best_skips_missing_and_breaks_ties_early() {
        let items = [
            Some(0.5),
            None,
            Some(0.9),
            Some(0.9),
            Some(f64::NAN),
            Some(0.1),
        ];
        assert_eq!(best_by_metric(&items, false, |x| *x), Some(2));
        assert_eq!(best_by_metric(&items, true, |x| *x), Some(5));
        assert_eq!(best_by_metric(&[None::<f64>], false, |x| *x), None);
        assert_eq!(best_by_metric::<Option<f64>>(&[], false, |x| *x), None);
    }
}
