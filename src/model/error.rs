//! Errors of the pure rules: bad names, bad references, bad manifests, bad sizes.

/// A value that breaks one of art's naming or format rules.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An artifact name outside `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`.
    #[error(
        "invalid artifact name `{0}`: use 1-128 characters from A-Z a-z 0-9 _ . - starting with a letter or digit"
    )]
    InvalidName(String),
    /// An alias name outside the alias rules.
    #[error(
        "invalid alias `{0}`: use 1-128 characters from A-Z a-z 0-9 _ . - starting with a letter or digit"
    )]
    InvalidAlias(String),
    /// An alias that only art may set.
    #[error("alias `{0}` is managed by art and cannot be set or removed by hand")]
    ReservedAlias(String),
    /// A type that is empty or contains characters other than a word.
    #[error("invalid type `{0}`: use 1-64 characters from A-Z a-z 0-9 _ . -")]
    InvalidType(String),
    /// A reference that does not parse.
    #[error("invalid reference `{0}`: use NAME, NAME:ALIAS, NAME:vN or NAME@DIGESTPREFIX (8+ hex)")]
    InvalidRef(String),
    /// A digest that is not 64 hex characters.
    #[error("invalid digest `{0}`: expected 64 hex characters")]
    InvalidDigest(String),
    /// A manifest path that could escape the destination or is not canonical.
    #[error("unsafe path `{path}` in manifest: {reason}")]
    UnsafePath {
        /// The offending path, as found.
        path: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Manifest bytes that are not a canonical manifest.
    #[error("corrupt manifest: {0}")]
    CorruptManifest(String),
    /// A duration that does not parse.
    #[error(
        "invalid duration `{0}`: use a whole number with a unit: ms, s, m, h, d or w (e.g. 1h, 30d)"
    )]
    InvalidDuration(String),
    /// Diverged histories that cannot be merged.
    #[error("cannot merge the remote's history: {0}")]
    MergeConflict(String),
    /// A run status other than `ok`, `failed` or `running`.
    #[error("invalid run status `{0}`: use ok or failed")]
    InvalidRunStatus(String),
    /// A `KEY=VALUE` argument without `=` or with an empty key.
    #[error("expected KEY=VALUE, got `{0}`")]
    InvalidKeyValue(String),
    /// A summary value that is neither a number nor JSON.
    #[error(
        "summary value `{value}` for `{key}` is not a number or JSON; write text as a JSON string: {key}='\"{value}\"'"
    )]
    InvalidSummaryValue {
        /// The key.
        key: String,
        /// The value as given.
        value: String,
    },
    /// Summary text (`ART_SUMMARY`) that is not JSON objects.
    #[error("invalid summary: {0}; write one JSON object, e.g. {{\"acc\": 0.91}}")]
    InvalidSummary(String),
    /// A sort key `art runs` does not know.
    #[error(
        "invalid sort key `{0}`: use [-]started, [-]finished, [-]name, [-]status, [-]summary.KEY or [-]config.KEY"
    )]
    InvalidSortKey(String),
    /// A lineage format art cannot print.
    #[error("invalid format `{0}`: use text, json, dot or mermaid")]
    InvalidFormat(String),
    /// A log batch or checkpoint that does not parse.
    #[error("corrupt record: {0}")]
    CorruptRecord(String),
    /// A log batch or checkpoint written by a newer art.
    #[error("{what} has format {found}, newer than this art supports ({supported}); upgrade art")]
    NewerRecord {
        /// What was read (`log batch`, `checkpoint`).
        what: String,
        /// The format found.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// A path pattern (`--only`, `art ls REF GLOB`) that does not parse.
    #[error(
        "invalid pattern `{glob}`: {reason}; use gitignore syntax, e.g. `*.png` or `images/train/`"
    )]
    InvalidGlob {
        /// The pattern as given.
        glob: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A size that does not parse.
    #[error("invalid size `{0}`: use a number with an optional unit, e.g. 500MB, 1GB, 1GiB, 1.5G")]
    InvalidSize(String),
}

/// Result of the model's rules.
pub type Result<T> = std::result::Result<T, Error>;
