//! Artifact names, alias names and types.

use super::{Error, Result};
use std::fmt;
use std::str::FromStr;

fn valid_word(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

macro_rules! word_type {
    ($(#[$doc:meta])* $ty:ident, $max:expr, $err:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $ty(String);

        impl $ty {
            /// The name as a string slice.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

word_type!(
    /// An artifact name: `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`.
    ArtifactName, 128, InvalidName
);
word_type!(
    /// An alias such as `best` or `prod`. `latest` and `vN` are managed by art.
    AliasName, 128, InvalidAlias
);
word_type!(
    /// An artifact type: a free word (`dataset`, `model`, `code`), fixed at the first log.
    ArtifactType, 64, InvalidType
);

impl FromStr for ArtifactName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if valid_word(s, 128) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::InvalidName(s.to_owned()))
        }
    }
}

impl FromStr for ArtifactType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if valid_word(s, 64) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::InvalidType(s.to_owned()))
        }
    }
}

impl AliasName {
    /// The alias art moves to the newest version on every log.
    pub const LATEST: &'static str = "latest";

    /// `latest`, which art manages.
    #[must_use]
    pub fn latest() -> Self {
        Self(Self::LATEST.to_owned())
    }

    /// Parses any syntactically valid alias, including the managed ones (`latest`, `vN`), for lookups.
    ///
    /// # Errors
    /// When the text is not a valid alias.
    pub fn parse_any(s: &str) -> Result<Self> {
        if valid_word(s, 128) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::InvalidAlias(s.to_owned()))
        }
    }

    /// Whether art manages this alias (`latest` or a version number such as `v3`).
    #[must_use]
    pub fn is_reserved(s: &str) -> bool {
        s == Self::LATEST || version_number(s).is_some()
    }
}

/// Parses `vN` into N; `None` for anything else (`v`, `v01` is accepted as 1).
#[must_use]
pub(crate) fn version_number(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('v')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl FromStr for AliasName {
    type Err = Error;
    /// Parses an alias a user may set: valid and not reserved.
    fn from_str(s: &str) -> Result<Self> {
        let alias = Self::parse_any(s)?;
        if Self::is_reserved(s) {
            return Err(Error::ReservedAlias(s.to_owned()));
        }
        Ok(alias)
    }
}

/// The names among `candidates` closest to `wanted` (edit distance ≤ 2, or a shared prefix), best first.
#[must_use]
pub fn closest_names<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let wanted_lower = wanted.to_lowercase();
    let mut scored: Vec<(usize, String)> = candidates
        .into_iter()
        .filter_map(|c| {
            let lower = c.to_lowercase();
            let d = edit_distance(&wanted_lower, &lower);
            let prefix = wanted_lower.len() >= 3
                && (lower.starts_with(&wanted_lower) || wanted_lower.starts_with(&lower));
            (d <= 2 || prefix).then(|| (d, c.to_owned()))
        })
        .collect();
    scored.sort();
    scored.into_iter().map(|(_, c)| c).take(3).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Optimal string alignment: a swap of two neighbours (`modle`) costs one edit.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j - 1] + cost)
                .min(d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_names() {
        for ok in ["a", "dataset", "my-model_v2.1", "0abc", &"x".repeat(128)] {
            assert!(ok.parse::<ArtifactName>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "_a",
            "a b",
            "a/b",
            "a:b",
            "a@b",
            "é",
            &"x".repeat(129),
        ] {
            assert!(bad.parse::<ArtifactName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn aliases_reserve_latest_and_version_numbers() {
        assert!("best".parse::<AliasName>().is_ok());
        assert!("v1x".parse::<AliasName>().is_ok());
        for reserved in ["latest", "v0", "v12"] {
            assert!(matches!(
                reserved.parse::<AliasName>(),
                Err(Error::ReservedAlias(_))
            ));
            assert!(AliasName::parse_any(reserved).is_ok());
        }
        assert!("a b".parse::<AliasName>().is_err());
    }

    #[test]
    fn suggestions() {
        let names = ["dataset", "model", "datasets-raw", "code"];
        assert_eq!(closest_names("datset", names), vec!["dataset"]);
        assert_eq!(
            closest_names("modle", names).first().map(String::as_str),
            Some("model")
        );
        assert!(closest_names("zzzzzz", names).is_empty());
    }
}
