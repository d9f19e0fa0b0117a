//! References to versions: `NAME`, `NAME:ALIAS`, `NAME:vN`, `NAME@DIGESTPREFIX`.

use super::name::version_number;
use super::{AliasName, ArtifactName, Error, Result};
use std::fmt;
use std::str::FromStr;

/// Which version of an artifact a reference selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// An alias, `latest` included.
    Alias(AliasName),
    /// A version number (`vN`).
    Index(u64),
    /// A lowercase hex prefix (≥ 8 characters) of the version digest.
    DigestPrefix(String),
}

/// A parsed reference to one version of one artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    /// The artifact.
    pub name: ArtifactName,
    /// The version within it.
    pub selector: Selector,
}

impl Ref {
    /// The reference to `latest` of `name`.
    #[must_use]
    pub fn latest(name: ArtifactName) -> Self {
        Ref {
            name,
            selector: Selector::Alias(AliasName::latest()),
        }
    }

    /// The reference to version `idx` of `name`.
    #[must_use]
    pub fn index(name: ArtifactName, idx: u64) -> Self {
        Ref {
            name,
            selector: Selector::Index(idx),
        }
    }
}

/// Minimum length of a digest prefix, so a prefix stays unambiguous in practice.
pub const MIN_DIGEST_PREFIX: usize = 8;

impl FromStr for Ref {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidRef(s.to_owned());
        if let Some((name, prefix)) = s.split_once('@') {
            let name: ArtifactName = name.parse()?;
            let prefix = prefix.to_ascii_lowercase();
            if prefix.len() < MIN_DIGEST_PREFIX
                || prefix.len() > 64
                || !prefix.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(bad());
            }
            return Ok(Ref {
                name,
                selector: Selector::DigestPrefix(prefix),
            });
        }
        if let Some((name, sel)) = s.split_once(':') {
            let name: ArtifactName = name.parse()?;
            if let Some(n) = version_number(sel) {
                return Ok(Ref::index(name, n));
            }
            let alias = AliasName::parse_any(sel).map_err(|_| bad())?;
            return Ok(Ref {
                name,
                selector: Selector::Alias(alias),
            });
        }
        Ok(Ref::latest(s.parse()?))
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.selector {
            Selector::Alias(a) => write!(f, "{}:{}", self.name, a),
            Selector::Index(n) => write!(f, "{}:v{}", self.name, n),
            Selector::DigestPrefix(p) => write!(f, "{}@{}", self.name, p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Ref {
        s.parse().unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(parse("model").to_string(), "model:latest");
        assert_eq!(
            parse("model:best").selector,
            Selector::Alias(AliasName::parse_any("best").unwrap())
        );
        assert_eq!(parse("model:v3").selector, Selector::Index(3));
        assert_eq!(
            parse("model@ABCDEF0123").selector,
            Selector::DigestPrefix("abcdef0123".into())
        );
        assert_eq!(parse("model:v3").to_string(), "model:v3");
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            ":v1",
            "model:",
            "model@abc",
            "model@zzzzzzzzzz",
            "mo del",
            "model:a b",
            "a:b:c",
        ] {
            assert!(bad.parse::<Ref>().is_err(), "{bad}");
        }
    }
}
