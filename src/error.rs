//! The public error: every module's error plus the failures of whole operations.

use std::path::PathBuf;

/// How a failure should end the process; `main` maps this to an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Something went wrong (exit 1).
    Failure,
    /// art refused, to protect data (exit 3).
    Refused,
}

/// Any failure of an art operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rule about names, references, manifests or sizes.
    #[error(transparent)]
    Model(#[from] crate::model::Error),
    /// Packs and blobs.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// The SQLite index.
    #[error(transparent)]
    Index(#[from] crate::index::Error),
    /// Scanning or writing a directory.
    #[error(transparent)]
    Worktree(#[from] crate::worktree::Error),
    /// Talking to a remote.
    #[error(transparent)]
    Remote(#[from] crate::remote::Error),
    /// No `.artifacts` directory was found.
    #[error("no art store found in `{}` or any parent; run `art init` or pass --store", .0.display())]
    NoStore(PathBuf),
    /// `--store` or `ART_STORE` names something that is not a store.
    #[error("`{}` is not an art store (no config.toml and packs/); run `art init` there or fix --store/ART_STORE", .0.display())]
    NotAStore(PathBuf),
    /// The store was written by a newer art.
    #[error("store `{}` has format {found}, newer than this art supports ({supported}); upgrade art", path.display())]
    NewerFormat {
        /// The store directory.
        path: PathBuf,
        /// Format found in config.toml.
        found: u32,
        /// Newest this build reads.
        supported: u32,
    },
    /// The store directory belongs to another user: its content could have been planted.
    #[error("store `{}` belongs to user {owner}, not to you (uid {me}); run art as its owner, or take it over with `chown -R {me} {}`", path.display(), path.display())]
    ForeignOwner {
        /// The store directory.
        path: PathBuf,
        /// The uid owning it.
        owner: u32,
        /// The effective uid of this process.
        me: u32,
    },
    /// The store cannot be written (a read-only mount or missing permissions): reads work,
    /// what would change it is refused.
    #[error("store `{}` is read-only ({reason}); {need}", path.display())]
    ReadOnly {
        /// The store directory.
        path: PathBuf,
        /// The OS error that showed it.
        reason: String,
        /// What was refused and what to do.
        need: String,
    },
    /// config.toml does not parse.
    #[error("cannot read `{}`: {message}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A configuration value or key that art does not accept.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A file system operation on the store failed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What art was doing.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No artifact has that name.
    #[error("no artifact named `{name}`{}", suggest(suggestions))]
    UnknownArtifact {
        /// The name asked for.
        name: String,
        /// Close existing names.
        suggestions: Vec<String>,
    },
    /// The artifact has no such version or alias.
    #[error("`{reference}` does not exist{}", known_list(known))]
    UnknownVersion {
        /// The reference asked for.
        reference: String,
        /// What exists (aliases and version numbers).
        known: Vec<String>,
    },
    /// A digest prefix matches several versions.
    #[error("`{reference}` is ambiguous: it matches {}; give more digest characters", .matches.join(", "))]
    AmbiguousRef {
        /// The reference.
        reference: String,
        /// The versions it matches.
        matches: Vec<String>,
    },
    /// No remote has that name.
    #[error("no remote named `{name}`{}", if known.is_empty() { "; add one with `art remote add NAME URL`".to_owned() } else { format!(" (remotes: {})", known.join(", ")) })]
    UnknownRemote {
        /// The name asked for.
        name: String,
        /// The remotes configured.
        known: Vec<String>,
    },
    /// Removing the remote would lose evicted data.
    #[error(
        "remote `{remote}` is the only copy of {packs} pack(s) evicted from this store; add another remote and `art push` there first, or pass --force to forget them"
    )]
    RemoteHoldsEvicted {
        /// The remote.
        remote: String,
        /// Evicted packs only it holds.
        packs: u64,
    },
    /// The remote has recorded changes this store lacks.
    #[error(
        "remote `{remote}` has changes this store lacks; run `art pull {remote}` first, then push again"
    )]
    PushNeedsPull {
        /// The remote.
        remote: String,
    },
    /// The store's history before its record log cannot be sent.
    #[error(
        "this store was upgraded from a version of art without a record log; its history from before the upgrade cannot be pushed or merged with a remote's yet (new stores and clones can)"
    )]
    HistoryBeforeLog,
    /// The version was deleted.
    #[error("`{version}` was deleted{}; pick another version (`art versions --all` lists them)",
        if *.collected { " and `art gc` has removed its data" } else { " (its data stays until the next `art gc`)" })]
    Deleted {
        /// `NAME:vN`.
        version: String,
        /// Whether gc already removed its content.
        collected: bool,
    },
    /// A protected alias would move or go.
    #[error(
        "alias `{alias}` of `{artifact}` is protected; pass --force to {action} it, or lift the protection with `art alias unprotect {artifact} {alias}`"
    )]
    ProtectedAlias {
        /// The artifact or collection.
        artifact: String,
        /// The alias.
        alias: String,
        /// `move` or `remove`.
        action: &'static str,
    },
    /// A version to delete carries a protected alias.
    #[error("`{version}` carries protected alias(es) {}; move them elsewhere with `art alias set REF ALIAS --force` first", .aliases.join(", "))]
    CarriesProtected {
        /// The version.
        version: String,
        /// Its protected aliases.
        aliases: Vec<String>,
    },
    /// A version to delete is linked into collections.
    #[error("`{version}` is linked into {}; unlink it first (`art unlink {}`)", .links.join(", "), .links.join(" "))]
    Linked {
        /// The version.
        version: String,
        /// The links, as `COLLECTION:vN`.
        links: Vec<String>,
    },
    /// A collection where an artifact was expected, or the reverse.
    #[error("{0}")]
    CollectionKind(String),
    /// A version to delete still has aliases.
    #[error("`{version}` has aliases {}; move them (`art alias set`) or pass --delete-aliases", .aliases.join(", "))]
    HasAliases {
        /// The version.
        version: String,
        /// Its aliases other than `latest`.
        aliases: Vec<String>,
    },
    /// A log gave a type other than the artifact's.
    #[error(
        "artifact `{name}` has type `{existing}`, not `{given}`; use another name or `-t {existing}`"
    )]
    TypeMismatch {
        /// The artifact.
        name: String,
        /// Its type.
        existing: String,
        /// The type given.
        given: String,
    },
    /// Metadata that is not a JSON object.
    #[error("invalid metadata: {0}")]
    InvalidMetadata(String),
    /// The destination is not a directory.
    #[error("destination `{}` exists and is not a directory; pick a directory", .0.display())]
    DestNotDir(PathBuf),
    /// The destination is the store or inside it.
    #[error("destination `{}` is inside the store; pick a directory outside `.artifacts`", .0.display())]
    DestInStore(PathBuf),
    /// No destination given and the version records none.
    #[error("`{0}` was not logged from a directory, so it has no default destination; give DEST")]
    NoDefaultDest(String),
    /// Checkout would destroy changes art has not seen.
    #[error("{} in `{}` changed since art last wrote or read them:\n{}\nlog them first, move them away, or pass --force to overwrite",
        if files.len() == 1 { "1 file".to_owned() } else { format!("{} files", files.len()) },
        dest.display(), list(files))]
    Conflicts {
        /// The destination.
        dest: PathBuf,
        /// The files that would be overwritten or deleted.
        files: Vec<String>,
    },
    /// DEST does not tell letter case apart and the version has paths differing only in it.
    #[error("`{}` does not tell upper from lower case, and `{reference}` has paths that differ only in case ({}): one would overwrite the other; check it out on a case-sensitive file system, or pick one with --only",
        dest.display(), .pairs.iter().take(5).map(|(a, b)| format!("`{a}` and `{b}`")).collect::<Vec<_>>().join(", "))]
    CaseCollision {
        /// The destination.
        dest: PathBuf,
        /// The version.
        reference: String,
        /// The colliding paths.
        pairs: Vec<(String, String)>,
    },
    /// A blob a version needs is not in the store.
    #[error("content `{0}` is missing from the store; run `art fsck`")]
    MissingContent(String),
    /// No run has that id (or id prefix).
    #[error("no run `{0}`; list runs with `art runs`")]
    UnknownRun(String),
    /// A run id prefix matches several runs.
    #[error(
        "run `{prefix}` is ambiguous: it matches {}; give more characters",
        quoted(matches)
    )]
    AmbiguousRun {
        /// The prefix given.
        prefix: String,
        /// The runs it matches.
        matches: Vec<String>,
    },
    /// The run is finished, so nothing more can be recorded in it.
    #[error(
        "cannot {action} run `{id}`: it is already finished ({status}); reopen it with `art run resume {id}`"
    )]
    RunFinished {
        /// The run.
        id: String,
        /// How it finished.
        status: crate::model::RunStatus,
        /// What was attempted (`finish`, `log to`, …).
        action: &'static str,
    },
    /// A command needs a run and none was given.
    #[error(
        "no run to {0}: give RUN (or --run RUN) or set ART_RUN; start one with `art run start`"
    )]
    NoRun(&'static str),
    /// Recording an input would make the lineage a cycle.
    #[error(
        "run `{run}` cannot use `{version}`: {reason}; a run may only use versions it did not produce"
    )]
    LineageCycle {
        /// The run.
        run: String,
        /// The version.
        version: String,
        /// Why it would be a cycle.
        reason: String,
    },
    /// No run has the metric asked for.
    #[error(
        "no run{scope} has a numeric summary metric `{metric}`{}",
        known_metrics(known)
    )]
    NoMetric {
        /// The metric.
        metric: String,
        /// Which runs were looked at (` in group `sweep1``, or empty for all).
        scope: String,
        /// Summary keys the runs do have.
        known: Vec<String>,
    },
    /// There are no runs to choose from.
    #[error("no runs{0}; list runs with `art runs`")]
    NoRuns(String),
    /// `art lineage` was given something that is neither a version nor a run.
    #[error("no artifact or run named `{0}`; list them with `art ls` and `art runs`")]
    UnknownNode(String),
    /// The version has no regular file at that path.
    #[error("`{reference}` has no file `{path}`; list its files with `art ls {reference}`")]
    UnknownPath {
        /// The version.
        reference: String,
        /// The path asked for.
        path: String,
    },
    /// A `--ref` that cannot be recorded.
    #[error("reference `{uri}`: {reason}")]
    Reference {
        /// The URI as given.
        uri: String,
        /// What is wrong.
        reason: String,
    },
    /// A `--ref` that expands to more objects than `--max-objects` allows.
    #[error(
        "reference `{uri}` holds {count} objects, more than --max-objects {max}; raise --max-objects or reference a smaller prefix"
    )]
    TooManyObjects {
        /// The URI as given.
        uri: String,
        /// Objects found.
        count: u64,
        /// The bound.
        max: u64,
    },
    /// A `--ref` prefix whose listing passed `--max-objects` (the listing stops there).
    #[error(
        "reference `{uri}` holds at least {count} objects, more than --max-objects {max}; raise --max-objects or reference a smaller prefix"
    )]
    TooManyListed {
        /// The URI as given.
        uri: String,
        /// Objects listed before stopping (`max + 1`).
        count: u64,
        /// The bound.
        max: u64,
    },
    /// References recorded by URI alone (an unknown scheme, `--no-checksum`): art cannot
    /// fetch their objects.
    #[error(
        "{} reference(s) cannot be fetched: art recorded them by URI alone (--no-checksum with a scheme it cannot read); leave them out with --skip-references or --only:\n{}",
        problems.len(),
        problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
    )]
    Unfetchable {
        /// One line per reference: path and URI.
        problems: Vec<String>,
    },
    /// References whose objects changed or vanished since they were logged.
    #[error(
        "{} reference(s) changed or vanished since they were logged (--skip-references restores the stored files only):\n{}",
        problems.len(),
        problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
    )]
    ReferencesChanged {
        /// One line per reference: path, URI, what happened.
        problems: Vec<String>,
    },
    /// Two entries of a version to log claim one path (a reference and a file, say).
    #[error("{0}; name the reference differently with --ref URI=NAME")]
    PathClash(String),
    /// Two entries of a patched or collaborative version claim one path, or a file sits where
    /// another entry needs a directory.
    #[error("{message}; {hint}")]
    EntryClash {
        /// Which paths clash.
        message: String,
        /// How to resolve it.
        hint: &'static str,
    },
    /// `art find` was given something that is neither a readable file nor a digest prefix.
    #[error(
        "`{0}` is neither a file nor a digest prefix; give a path to a local file or 8 to 64 hex characters"
    )]
    InvalidFind(String),
    /// A failure while handling one file of a version, naming it.
    #[error("`{path}`: {source}")]
    InFile {
        /// The path in the version.
        path: String,
        /// What went wrong.
        source: Box<Error>,
    },
    /// The index of a store made before the record log cannot be rebuilt: nothing but the
    /// index holds its history.
    #[error("store `{}` has no record log yet (format 1, made by an older art), so its index cannot be rebuilt; restore `index.db` from a backup", .0.display())]
    NoRecordLog(PathBuf),
    /// A log batch number was taken by a process that did not hold the index's write lock.
    #[error("log entry `{}` already exists; another art process wrote it without the index lock: retry", .0.display())]
    LogConflict(PathBuf),
    /// `art patch` of a version `latest` has moved past.
    #[error(
        "`{reference}` is not the latest version any more (latest is `{latest}`); patch `{latest}` instead, or pass --onto-latest to apply the same changes to it"
    )]
    PatchBehind {
        /// The version patched.
        reference: String,
        /// The artifact's latest version now.
        latest: String,
    },
    /// No pending collaborative version with this distributed id.
    #[error("no pending version `{id}` of `{name}`{}", if known.is_empty() { "; writers add to one with `art log NAME PATH --distributed-id ID`".to_owned() } else { format!(" (pending: {})", known.join(", ")) })]
    NoPendingVersion {
        /// The artifact.
        name: String,
        /// The distributed id asked for.
        id: String,
        /// The artifact's pending distributed ids.
        known: Vec<String>,
    },
    /// The parts a finish read were finished or dropped by another command before it committed.
    #[error(
        "the parts of pending version `{id}` of `{name}` were finished or dropped by another command meanwhile; see `art versions {name}` and `art versions {name} --pending`"
    )]
    PartsTaken {
        /// The artifact.
        name: String,
        /// The distributed id.
        id: String,
    },
    /// Writers of a collaborative version wrote one path with different content.
    #[error("cannot finish `{name}` (distributed id `{id}`): {} path(s) were written with different content:\n{}\nchoose with --prefer last or --prefer first, or fix the writers' files", .conflicts.len(), .conflicts.join("\n"))]
    PartConflicts {
        /// The artifact.
        name: String,
        /// The distributed id.
        id: String,
        /// One line per path: the path and the writers' runs.
        conflicts: Vec<String>,
    },
    /// A distributed id that is not a printable label.
    #[error("distributed id `{0}` must be 1 to 128 printable characters")]
    InvalidDistributedId(String),
    /// An `art patch` that cannot be applied as given.
    #[error("{0}")]
    InvalidPatch(String),
    /// A `--remove` pattern of `art patch` that matches nothing in the version.
    #[error(
        "--remove `{pattern}` matches no file of `{reference}`; list its files with `art ls {reference}`"
    )]
    RemoveMatchesNothing {
        /// The pattern.
        pattern: String,
        /// The version patched.
        reference: String,
    },
    /// The user asked art to stop.
    #[error("interrupted; the store is unchanged")]
    Interrupted,
}

fn suggest(names: &[String]) -> String {
    match names {
        [] => "; list artifacts with `art ls`".to_owned(),
        _ => format!(
            "; did you mean {}?",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn known_metrics(known: &[String]) -> String {
    if known.is_empty() {
        "; none of them has a summary yet".to_owned()
    } else {
        format!("; their summaries have {}", quoted(known))
    }
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!("; it has {}", known.join(", "))
    }
}

fn list(files: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut out: Vec<String> = files.iter().take(SHOWN).map(|f| format!("  {f}")).collect();
    if files.len() > SHOWN {
        out.push(format!("  … and {} more", files.len() - SHOWN));
    }
    out.join("\n")
}

impl Error {
    /// Whether this is a refusal to protect data or a plain failure.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Conflicts { .. }
            | Error::CaseCollision { .. }
            | Error::HasAliases { .. }
            | Error::ProtectedAlias { .. }
            | Error::CarriesProtected { .. }
            | Error::Linked { .. }
            | Error::RemoteHoldsEvicted { .. }
            | Error::PushNeedsPull { .. }
            | Error::PatchBehind { .. }
            | Error::PartConflicts { .. }
            | Error::Model(crate::model::Error::MergeConflict(_))
            | Error::ForeignOwner { .. } => ErrorKind::Refused,
            Error::InFile { source, .. } => source.kind(),
            _ => ErrorKind::Failure,
        }
    }

    /// Whether the operation stopped because the user interrupted it.
    #[must_use]
    pub fn is_interrupted(&self) -> bool {
        matches!(
            self,
            Error::Interrupted
                | Error::Store(crate::store::Error::Interrupted)
                | Error::Worktree(crate::worktree::Error::Interrupted)
        )
    }
}

/// Result of art operations.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}
