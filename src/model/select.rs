//! Path selections for partial access (`--only GLOB…`, `art ls REF GLOB`): gitignore-style
//! patterns matched against manifest paths.

use super::{Error, Result};
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// A set of gitignore-style patterns choosing paths of a version. A pattern without a `/`
/// matches a name at any depth (`*.png`), one with a `/` is anchored at the version's root
/// (`images/train`), a pattern matching a directory selects everything under it, and a
/// leading `!` takes paths back out (`!*.tmp`); later patterns win.
#[derive(Clone, Debug)]
pub struct Selection {
    patterns: Vec<String>,
    matcher: Gitignore,
}

impl Selection {
    /// Builds a selection from `patterns` (at least one).
    ///
    /// # Errors
    /// [`Error::InvalidGlob`] naming the pattern that does not parse.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self> {
        let mut builder = GitignoreBuilder::new(".");
        let mut kept = Vec::with_capacity(patterns.len());
        for p in patterns {
            let p = p.as_ref();
            if p.trim().is_empty() {
                return Err(Error::InvalidGlob {
                    glob: p.to_owned(),
                    reason: "empty pattern".into(),
                });
            }
            builder.add_line(None, p).map_err(|e| Error::InvalidGlob {
                glob: p.to_owned(),
                reason: e.to_string(),
            })?;
            kept.push(p.to_owned());
        }
        let matcher = builder.build().map_err(|e| Error::InvalidGlob {
            glob: kept.join(" "),
            reason: e.to_string(),
        })?;
        Ok(Selection {
            patterns: kept,
            matcher,
        })
    }

    /// Checks one pattern on its own (for argument parsing) and returns it.
    ///
    /// # Errors
    /// [`Error::InvalidGlob`].
    pub fn check_pattern(pattern: &str) -> Result<String> {
        Selection::new(&[pattern])?;
        Ok(pattern.to_owned())
    }

    /// Whether the entry at `path` (relative, `/`-separated) is selected, by itself or
    /// through one of its directories.
    #[must_use]
    pub fn contains(&self, path: &str) -> bool {
        !path.is_empty()
            && self
                .matcher
                .matched_path_or_any_parents(path, false)
                .is_ignore()
    }

    /// The patterns, as given.
    #[must_use]
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(p: &[&str]) -> Selection {
        Selection::new(p).expect("valid patterns")
    }

    #[test]
    fn gitignore_rules() {
        let s = sel(&["*.png"]);
        assert!(s.contains("a.png") && s.contains("x/y/a.png"));
        assert!(!s.contains("a.jpg"));

        let s = sel(&["images/train"]);
        assert!(s.contains("images/train/a.png") && s.contains("images/train"));
        assert!(!s.contains("x/images/train/a.png") && !s.contains("images/test/a"));

        let s = sel(&["images/", "!images/*.tmp"]);
        assert!(s.contains("images/a.png") && !s.contains("images/b.tmp"));
        assert!(
            !s.contains("images"),
            "a trailing slash selects directories only"
        );

        let s = sel(&["/top.txt"]);
        assert!(s.contains("top.txt") && !s.contains("d/top.txt"));

        let s = sel(&["data/**/*.csv"]);
        assert!(s.contains("data/a.csv") && s.contains("data/x/y/b.csv"));
        assert!(!s.contains("other/a.csv"));
    }

    #[test]
    fn bad_patterns() {
        let err = Selection::new(&["a{b"]).expect_err("unclosed alternates");
        assert!(err.to_string().contains("`a{b`"), "{err}");
        assert!(Selection::new(&[" "]).is_err());
    }
}
