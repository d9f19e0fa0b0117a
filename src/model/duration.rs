//! Durations given by users: `0s`, `90s`, `15m`, `1h`, `30d`, `2w`.

use super::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// A span of time in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub i64);

impl FromStr for Span {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidDuration(s.to_owned());
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (num, unit) = t.split_at(split);
        let n: i64 = num.parse().map_err(|_| bad())?;
        let ms = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return Err(bad()),
        };
        n.checked_mul(ms).map(Span).ok_or_else(bad)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        for (unit, len) in [
            ("w", 7 * 86_400_000),
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
        ] {
            if ms != 0 && ms % len == 0 {
                return write!(f, "{}{unit}", ms / len);
            }
        }
        if ms == 0 {
            f.write_str("0s")
        } else {
            write!(f, "{ms}ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Span;

    #[test]
    fn parses_and_prints() {
        let p = |s: &str| s.parse::<Span>().unwrap().0;
        assert_eq!(p("0s"), 0);
        assert_eq!(p("90s"), 90_000);
        assert_eq!(p("15m"), 900_000);
        assert_eq!(p("1h"), 3_600_000);
        assert_eq!(p("30d"), 2_592_000_000);
        assert_eq!(Span(3_600_000).to_string(), "1h");
        assert_eq!(Span(0).to_string(), "0s");
        for bad in ["", "1", "h", "1y", "-1h", "1.5h", "99999999999999999w"] {
            assert!(bad.parse::<Span>().is_err(), "{bad}");
        }
    }
}
