//! Byte sizes and growth limits as people write them: "8 KiB", "1.5 MB", "94kB", "5%".
//!
//! Parsed with integer arithmetic so "1.5 MB" is exactly 1,500,000 bytes. Decimal units are
//! powers of 1000 (kB = KB = 1000, MB = 1000²…), binary units powers of 1024 (KiB = 1024,
//! MiB = 1024²…); the unit is case-insensitive, the `i` is what makes it binary. A bare "K" or
//! "M" is refused because it is ambiguous. Fractions of a byte are dropped (rounded down).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number of bytes, written by the user with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

/// How much a measure may grow against its baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growth {
    /// A percentage of the baseline, kept exact as `numerator / 10^scale` percent.
    Percent {
        /// The digits of the percentage without its decimal point.
        numerator: u128,
        /// How many of those digits are after the decimal point.
        scale: u32,
    },
    /// An absolute number of bytes.
    Bytes(u64),
}

const UNITS: &[(&str, u128)] = &[
    ("", 1),
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

/// A decimal number split into its digits and the count of digits after the point.
fn parse_decimal(s: &str) -> Option<(u128, u32)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits_ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) || frac.len() > 18 {
        return None;
    }
    let all: String = [int, frac].concat();
    let value = if all.is_empty() { 0 } else { all.parse::<u128>().ok()? };
    Some((value, frac.len() as u32))
}

impl FromStr for Size {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim().replace('_', "");
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let unit = unit.trim().to_ascii_lowercase();
        let bad = || {
            format!(
                "'{text}' is not a size: write a number and a unit, like \"8 KiB\", \"1.5 MB\" or \"94kB\" (kB = 1000 bytes, KiB = 1024)"
            )
        };
        let (digits, scale) = parse_decimal(num).ok_or_else(bad)?;
        let Some(&(_, factor)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            if matches!(unit.as_str(), "k" | "m" | "g" | "t") {
                let up = unit.to_ascii_uppercase();
                return Err(format!(
                    "'{text}': the unit {up} is ambiguous; write {up}B (powers of 1000) or {up}iB (powers of 1024)"
                ));
            }
            return Err(bad());
        };
        let bytes = digits
            .checked_mul(factor)
            .map(|b| b / 10u128.pow(scale))
            .and_then(|b| u64::try_from(b).ok())
            .ok_or_else(|| format!("'{text}' is too large"))?;
        Ok(Size(bytes))
    }
}

impl FromStr for Growth {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        match t.strip_suffix('%') {
            Some(p) => {
                let (numerator, scale) = parse_decimal(p.trim()).ok_or_else(|| {
                    format!("'{text}' is not a growth limit: write a percentage like \"5%\" or a size like \"512 B\"")
                })?;
                Ok(Growth::Percent { numerator, scale })
            }
            None => t
                .parse::<Size>()
                .map(|s| Growth::Bytes(s.0))
                .map_err(|e| format!("{e}; a growth limit is a percentage like \"5%\" or a size like \"512 B\"")),
        }
    }
}

impl Growth {
    /// The largest value allowed for a measure whose baseline is `base` (rounded down).
    pub fn limit(self, base: u64) -> u64 {
        match self {
            Growth::Bytes(b) => base.saturating_add(b),
            Growth::Percent { numerator, scale } => {
                let extra = u128::from(base) * numerator / (100 * 10u128.pow(scale));
                u64::try_from(u128::from(base) + extra).unwrap_or(u64::MAX)
            }
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::report::human_size(self.0))
    }
}

impl fmt::Display for Growth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Growth::Bytes(b) => write!(f, "+{}", crate::report::human_size(b)),
            Growth::Percent { numerator, scale } => {
                let div = 10u128.pow(scale);
                let (int, frac) = (numerator / div, numerator % div);
                if scale == 0 {
                    write!(f, "+{int}%")
                } else {
                    let frac = format!("{frac:0width$}", width = scale as usize);
                    write!(f, "+{int}.{}%", frac.trim_end_matches('0'))
                }
            }
        }
    }
}

/// A size in a config: a string with a unit, or a plain integer of bytes.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Text(String),
    Number(i64),
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Written::deserialize(d)? {
            Written::Text(s) => s.parse().map_err(serde::de::Error::custom),
            Written::Number(n) => u64::try_from(n)
                .map(Size)
                .map_err(|_| serde::de::Error::custom(format!("{n} is not a size: sizes cannot be negative"))),
        }
    }
}

impl<'de> Deserialize<'de> for Growth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl Serialize for Growth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(s: &str) -> u64 {
        s.parse::<Size>().unwrap_or_else(|e| panic!("{s}: {e}")).0
    }

    #[test]
    fn decimal_and_binary_units() {
        assert_eq!(size("8 KiB"), 8192);
        assert_eq!(size("1.5 MB"), 1_500_000);
        assert_eq!(size("94kB"), 94_000);
        assert_eq!(size("94 KB"), 94_000);
        assert_eq!(size("1.5 MiB"), 1_572_864);
        assert_eq!(size("2 GiB"), 2 << 30);
        assert_eq!(size("8192"), 8192);
        assert_eq!(size("8192 B"), 8192);
        assert_eq!(size("1_000 b"), 1000);
        assert_eq!(size(".5 KiB"), 512);
        assert_eq!(size("0.1 KiB"), 102, "fractions of a byte round down");
        assert_eq!(size("1.000000001 GB"), 1_000_000_001);
    }

    #[test]
    fn bad_sizes_say_why() {
        for bad in ["", "KiB", "8 KiBs", "1.2.3 MB", "-1 KB", "8 kilobytes", "1e3"] {
            let e = bad.parse::<Size>().unwrap_err();
            assert!(e.contains("is not a size"), "{bad}: {e}");
        }
        assert!("8 K".parse::<Size>().unwrap_err().contains("ambiguous"));
        assert!("99999999999 TiB".parse::<Size>().unwrap_err().contains("too large"));
    }

    #[test]
    fn growth_limits() {
        let g: Growth = "5%".parse().unwrap();
        assert_eq!(g.limit(1000), 1050);
        assert_eq!(g.limit(7999), 8398, "rounded down");
        assert_eq!(g.to_string(), "+5%");
        let g: Growth = "0.5%".parse().unwrap();
        assert_eq!(g.limit(10_000), 10_050);
        assert_eq!(g.to_string(), "+0.5%");
        let g: Growth = "512 B".parse().unwrap();
        assert_eq!(g.limit(1000), 1512);
        assert_eq!("0%".parse::<Growth>().unwrap().limit(1234), 1234);
        assert!("five%".parse::<Growth>().unwrap_err().contains("percentage"));
    }

    #[test]
    fn config_values() {
        #[derive(Deserialize)]
        struct T {
            a: Size,
            b: Size,
        }
        let t: T = toml::from_str("a = \"8 KiB\"\nb = 100\n").unwrap();
        assert_eq!((t.a.0, t.b.0), (8192, 100));
        let e = toml::from_str::<T>("a = \"8 KiB\"\nb = -3\n").err().unwrap();
        assert!(e.to_string().contains("negative"), "{e}");
    }
}
