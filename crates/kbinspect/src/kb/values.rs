//! Cell values: sizes with any thousands separator, dates in many spellings,
//! times. Each parser returns a short reason on failure; the caller adds
//! the line number.

use super::words;

/// A calendar date, validated (month 1..=12, day within the month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ymd(pub u16, pub u8, pub u8);

impl std::fmt::Display for Ymd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0, self.1, self.2)
    }
}

/// What a date cell can mean. `a/b/yyyy` with both parts ≤ 12 is ambiguous;
/// the table decides (the table builder, `build`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateValue {
    Exact(Ymd),
    /// `(month first, day first)` readings, both valid.
    Ambiguous {
        mdy: Ymd,
        dmy: Ymd,
    },
    /// `10/13/2009`: numeric, only valid month first (evidence for the table).
    MonthFirst(Ymd),
    /// `13/10/2009`: numeric, only valid day first.
    DayFirst(Ymd),
}

fn is_thousands_sep(c: char) -> bool {
    matches!(
        c,
        ',' | '.' | ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '\'' | '’'
    )
}

/// A file size: an integer written with `,` `.` space, no-break space or
/// apostrophe as thousands separators, or none (`1,124,352`, `16.384`,
/// `1 124 352`, `2776`). A trailing "bytes" is allowed. Groups after the
/// first must have exactly three digits, so `1,5` (a decimal) is rejected.
pub fn parse_size(cell: &str) -> Result<u64, String> {
    let mut s = cell.trim();
    for suffix in [
        "bytes",
        "byte",
        "octets",
        "Bytes",
        "Byte",
        "bytů",
        "bajtów",
        "バイト",
        "字节",
    ] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest.trim_end();
            break;
        }
    }
    if s.is_empty() {
        return Err("empty size".into());
    }
    let mut value: u64 = 0;
    let mut group_len = 0usize;
    let mut groups = 0usize;
    let mut sep: Option<char> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            group_len += 1;
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d)))
                .ok_or_else(|| format!("size {s:?} is too large"))?;
        } else if is_thousands_sep(c) {
            if group_len == 0 || (groups == 0 && group_len > 3) || (groups > 0 && group_len != 3) {
                return Err(format!("size {s:?} has misplaced separators"));
            }
            // One number uses one separator; `1.124,352` is not a size.
            let class = if c == '\u{202f}' || c == '\u{2009}' || c == '\u{a0}' {
                ' '
            } else {
                c
            };
            if sep.is_some_and(|p| p != class) {
                return Err(format!("size {s:?} mixes separators"));
            }
            sep = Some(class);
            groups += 1;
            group_len = 0;
        } else {
            return Err(format!("size {s:?} is not a number"));
        }
    }
    if groups > 0 && group_len != 3 {
        return Err(format!("size {s:?} has misplaced separators"));
    }
    if group_len == 0 {
        return Err(format!("size {s:?} is not a number"));
    }
    Ok(value)
}

/// A time of day: `05:51`, `5:51`, `05:51:12`, `5.51`, `05h51`, `5:51 PM`.
/// Returns `HH:MM`.
pub fn parse_time(cell: &str) -> Result<String, String> {
    let t = cell.trim();
    let lower = t.to_lowercase();
    let (body, meridiem) = if let Some(b) = strip_meridiem(&lower, &["am", "a.m.", "午前"]) {
        (b, Some(false))
    } else if let Some(b) = strip_meridiem(&lower, &["pm", "p.m.", "午後"]) {
        (b, Some(true))
    } else {
        (lower.as_str(), None)
    };
    let parts: Vec<&str> = body.split([':', '.', 'h', '：']).map(str::trim).collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("time {t:?} is not HH:MM"));
    }
    let num = |i: usize| parts.get(i).and_then(|p| p.parse::<u8>().ok());
    let (Some(mut h), Some(m)) = (num(0), num(1)) else {
        return Err(format!("time {t:?} is not HH:MM"));
    };
    if parts.len() == 3 && num(2).is_none_or(|s| s > 59) {
        return Err(format!("time {t:?} has bad seconds"));
    }
    if let Some(pm) = meridiem {
        if !(1..=12).contains(&h) {
            return Err(format!("time {t:?} has a bad 12-hour value"));
        }
        h = match (pm, h) {
            (false, 12) => 0,
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, h) => h,
        };
    }
    if h > 23 || m > 59 {
        return Err(format!("time {t:?} is out of range"));
    }
    Ok(format!("{h:02}:{m:02}"))
}

fn strip_meridiem<'a>(s: &'a str, words: &[&str]) -> Option<&'a str> {
    for w in words {
        if let Some(b) = s.strip_suffix(w) {
            return Some(b.trim_end());
        }
        if let Some(b) = s.strip_prefix(w) {
            return Some(b.trim_start());
        }
    }
    None
}

fn days_in_month(y: u16, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        _ => 0,
    }
}

fn ymd(y: u32, m: u32, d: u32) -> Option<Ymd> {
    let y = u16::try_from(y).ok()?;
    let m = u8::try_from(m).ok()?;
    let d = u8::try_from(d).ok()?;
    if !(1900..=2200).contains(&y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(Ymd(y, m, d))
}

fn year(token: &str) -> Option<u32> {
    let v: u32 = token.parse().ok()?;
    match token.len() {
        4 => Some(v),
        // Two-digit years: KB tables start in the 1990s.
        2 if v >= 70 => Some(1900 + v),
        2 => Some(2000 + v),
        _ => None,
    }
}

fn small(token: &str) -> Option<u32> {
    if token.is_empty() || token.len() > 2 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

/// A date in any of the spellings KB articles use: `05-Oct-2009`,
/// `5-okt-2009`, `5. Okt. 2009`, `October 5, 2009`, `05.10.2009`,
/// `2009-10-05`, `2009/10/05`, `2009年10月5日`, `10/05/2009`.
pub fn parse_date(cell: &str) -> Result<DateValue, String> {
    let s = cell.trim();
    let bad = || format!("date {s:?} is not a date");
    if s.len() > 64 {
        return Err(bad());
    }
    if s.contains('年') {
        let digits: Vec<&str> = s
            .split(|c: char| !c.is_ascii_digit())
            .filter(|t| !t.is_empty())
            .collect();
        if let [y, m, d] = digits.as_slice() {
            let (y, m, d) = (
                year(y).ok_or_else(bad)?,
                small(m).ok_or_else(bad)?,
                small(d).ok_or_else(bad)?,
            );
            return ymd(y, m, d).map(DateValue::Exact).ok_or_else(bad);
        }
        return Err(bad());
    }
    let seps = |c: char| matches!(c, '-' | '/' | '.' | ',' | ' ' | '\u{a0}' | '\u{202f}');
    let tokens: Vec<&str> = s.split(seps).filter(|t| !t.is_empty()).collect();
    let [a, b, c] = tokens.as_slice() else {
        return Err(bad());
    };
    let numeric = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    // A month written as a word (or `10月`) fixes the reading.
    for (i, t) in tokens.iter().enumerate() {
        if numeric(t) {
            continue;
        }
        let m =
            u32::from(words::month(t).ok_or_else(|| format!("date {s:?}: unknown month {t:?}"))?);
        let others: Vec<&str> = tokens
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, t)| *t)
            .collect();
        let [x, y] = others.as_slice() else {
            return Err(bad());
        };
        if !numeric(x) || !numeric(y) {
            return Err(bad());
        }
        // `yyyy-Mon-dd` when the first number is a year, else day … year.
        let (yy, dd) = if x.len() == 4 {
            (year(x), small(y))
        } else {
            (year(y), small(x))
        };
        let (Some(yy), Some(dd)) = (yy, dd) else {
            return Err(bad());
        };
        return ymd(yy, m, dd).map(DateValue::Exact).ok_or_else(bad);
    }
    if a.len() == 4 {
        let (y, m, d) = (
            year(a).ok_or_else(bad)?,
            small(b).ok_or_else(bad)?,
            small(c).ok_or_else(bad)?,
        );
        return ymd(y, m, d).map(DateValue::Exact).ok_or_else(bad);
    }
    let (p, q, y) = (
        small(a).ok_or_else(bad)?,
        small(b).ok_or_else(bad)?,
        year(c).ok_or_else(bad)?,
    );
    let dmy = ymd(y, q, p);
    // Nobody writes month first with dots: `05.10.2009` is 5 October.
    if s.contains('.') {
        return dmy.map(DateValue::Exact).ok_or_else(bad);
    }
    let mdy = ymd(y, p, q);
    match (mdy, dmy) {
        (Some(mdy), Some(dmy)) if mdy == dmy => Ok(DateValue::Exact(mdy)),
        (Some(mdy), Some(dmy)) => Ok(DateValue::Ambiguous { mdy, dmy }),
        (Some(mdy), None) => Ok(DateValue::MonthFirst(mdy)),
        (None, Some(dmy)) => Ok(DateValue::DayFirst(dmy)),
        (None, None) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(s: &str) -> String {
        match parse_date(s) {
            Ok(DateValue::Exact(d) | DateValue::MonthFirst(d) | DateValue::DayFirst(d)) => {
                d.to_string()
            }
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn sizes() {
        for (cell, want) in [
            ("1,124,352", 1_124_352),
            ("16.384", 16_384),
            ("1 124 352", 1_124_352),
            ("1\u{a0}124\u{a0}352", 1_124_352),
            ("1\u{202f}124\u{a0}352", 1_124_352),
            ("2776", 2776),
            (" 61,008 ", 61_008),
            ("2,776 bytes", 2776),
        ] {
            assert_eq!(parse_size(cell), Ok(want), "{cell:?}");
        }
        for bad in [
            "1,5",
            "1.124,352",
            "1,1243",
            ",123",
            "123,",
            "12a",
            "",
            "99999999999999999999999",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times() {
        for (cell, want) in [
            ("05:51", "05:51"),
            ("5:51", "05:51"),
            ("05:51:12", "05:51"),
            ("5.51", "05:51"),
            ("05h51", "05:51"),
            ("5:51 PM", "17:51"),
            ("12:05 AM", "00:05"),
            ("午後 5:51", "17:51"),
        ] {
            assert_eq!(parse_time(cell).as_deref(), Ok(want), "{cell:?}");
        }
        for bad in ["24:00", "05:60", "0551", "x86"] {
            assert!(parse_time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_month_word_of_every_language() {
        for lang in words::LANGS {
            for (mi, names) in lang.months.iter().enumerate() {
                for name in names.iter() {
                    for s in [
                        format!("5-{name}-2009"),
                        format!("5 {name} 2009"),
                        format!("2009-{name}-05"),
                    ] {
                        let want = Ymd(2009, mi as u8 + 1, 5);
                        assert_eq!(
                            parse_date(&s),
                            Ok(DateValue::Exact(want)),
                            "{} {s}",
                            lang.code
                        );
                    }
                    let upper = name.to_uppercase();
                    assert!(parse_date(&format!("05-{upper}.-2009")).is_ok(), "{upper}");
                }
            }
        }
    }

    #[test]
    fn dates() {
        assert_eq!(exact("05-Oct-2009"), "2009-10-05");
        assert_eq!(exact("5-okt-2009"), "2009-10-05");
        assert_eq!(exact("5. Okt. 2009"), "2009-10-05");
        assert_eq!(exact("5 oct. 2009"), "2009-10-05");
        assert_eq!(exact("October 5, 2009"), "2009-10-05");
        assert_eq!(exact("05.10.2009"), "2009-10-05");
        assert_eq!(exact("2009-10-05"), "2009-10-05");
        assert_eq!(exact("2009/10/05"), "2009-10-05");
        assert_eq!(exact("2009年10月5日"), "2009-10-05");
        assert_eq!(exact("5-października-2009"), "2009-10-05");
        assert_eq!(exact("5-říj-2009"), "2009-10-05");
        assert_eq!(exact("05-10月-2009"), "2009-10-05");
        assert_eq!(exact("13/10/2009"), "2009-10-13");
        assert_eq!(exact("10/13/2009"), "2009-10-13");
        assert_eq!(exact("05-Oct-09"), "2009-10-05");
        assert_eq!(
            parse_date("10/05/2009"),
            Ok(DateValue::Ambiguous {
                mdy: Ymd(2009, 10, 5),
                dmy: Ymd(2009, 5, 10)
            })
        );
        assert!(parse_date("30-Feb-2009").is_err());
        assert!(parse_date("29-Feb-2008").is_ok());
        assert!(parse_date("05-Foo-2009").is_err());
        assert!(parse_date("Vssapi.dll").is_err());
        assert!(parse_date("21:47").is_err());
    }
}
