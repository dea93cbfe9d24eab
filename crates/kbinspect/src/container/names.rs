//! Member names: the one rule that says which path a stored name means.
//!
//! [`sanitize`] turns a stored name into safe relative components (what
//! `extract` writes), and [`member_key`] is the lookup key every command
//! uses: the sanitized path, ASCII case folded. Names that the extractor
//! would write to the same file are the same member to `verify`, `list`,
//! `diff` and `extract` alike (`a\.\b.txt`, `a/b.txt.`, `\a\b.txt `).

use std::borrow::Cow;

/// A sanitized relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafePath {
    pub components: Vec<String>,
    /// What had to change, when something did.
    pub changed: Option<String>,
}

impl SafePath {
    pub fn to_slash(&self) -> String {
        self.components.join("/")
    }
}

const DEVICE_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "COM¹", "COM²", "COM³", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8",
    "LPT9", "LPT¹", "LPT²", "LPT³", "CONIN$", "CONOUT$",
];

pub(crate) fn is_device_name(component: &str) -> bool {
    // Every device name starts with one of these letters: most components
    // are told apart by their first byte (this runs on every name lookup).
    if !matches!(
        component.as_bytes().first().map(u8::to_ascii_uppercase),
        Some(b'A' | b'C' | b'L' | b'N' | b'P')
    ) {
        return false;
    }
    // Windows ignores everything from the first dot and trailing spaces:
    // `nul.txt` and `CON .log` open the device.
    let stem = component
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end_matches(' ');
    // The names are 3 to 7 bytes long.
    if !(3..=7).contains(&stem.len()) {
        return false;
    }
    DEVICE_NAMES.iter().any(|d| d.eq_ignore_ascii_case(stem))
}

/// Turn a stored name into safe relative components, or say why it cannot be.
/// Backslashes and slashes separate components; empty and `.` components
/// and a leading drive letter are dropped; a `..` component refuses the name
/// (dropping it would silently move the file elsewhere in the tree).
pub fn sanitize(name: &str) -> Result<SafePath, String> {
    let mut notes: Vec<&str> = Vec::new();
    let mut rest = name;
    if rest.starts_with(['/', '\\']) {
        notes.push("absolute path made relative");
        rest = rest.trim_start_matches(['/', '\\']);
    }
    let b = rest.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        notes.push("drive letter removed");
        rest = rest.get(2..).unwrap_or("").trim_start_matches(['/', '\\']);
    }
    let mut components = Vec::new();
    for raw in rest.split(['/', '\\']) {
        if raw.is_empty() || raw == "." {
            if !raw.is_empty() {
                notes.push("'.' component removed");
            }
            continue;
        }
        if raw == ".." {
            return Err(format!("{name:?} has a '..' component"));
        }
        let mut c: String = raw
            .chars()
            .map(|ch| {
                if ch.is_control() || matches!(ch, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                    '_'
                } else {
                    ch
                }
            })
            .collect();
        if c != raw {
            notes.push("control or reserved characters replaced by '_'");
        }
        let trimmed = c.trim_end_matches(['.', ' ']).to_string();
        if trimmed != c {
            notes.push("trailing dots or spaces removed");
            c = if trimmed.is_empty() {
                "_".into()
            } else {
                trimmed
            };
        }
        if is_device_name(&c) {
            notes.push("Windows device name prefixed with '_'");
            c.insert(0, '_');
        }
        if c.len() > 255 {
            return Err(format!("{name:?} has a component longer than 255 bytes"));
        }
        components.push(c);
    }
    if components.is_empty() {
        return Err(format!("{name:?} names no file"));
    }
    notes.dedup();
    Ok(SafePath {
        components,
        changed: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}

/// Whether `p` may sanitize to something other than itself with slashes
/// unified (the rare case: most names are plain).
fn needs_sanitizing(p: &str) -> bool {
    let b = p.as_bytes();
    if b.first().is_some_and(|&c| c == b'/' || c == b'\\') || (b.len() >= 2 && b[1] == b':') {
        return true;
    }
    let mut prev_sep = true;
    // Whether some component starts with a letter a device name starts
    // with: only then are the components compared with the names.
    let mut maybe_device = false;
    for (i, &c) in b.iter().enumerate() {
        // Most bytes of most names are plain: one table lookup each (this
        // runs on every name lookup, several per member of a package).
        if !SPECIAL[c as usize] {
            if prev_sep {
                maybe_device |= matches!(c.to_ascii_uppercase(), b'A' | b'C' | b'L' | b'N' | b'P');
            }
            prev_sep = false;
            continue;
        }
        let sep = c == b'/' || c == b'\\';
        if sep && prev_sep {
            return true; // empty component
        }
        if c < 0x20 || c == 0x7f || matches!(c, b'<' | b'>' | b':' | b'"' | b'|' | b'?' | b'*') {
            return true;
        }
        let next_is_end = b.get(i + 1).is_none_or(|&n| n == b'/' || n == b'\\');
        if (c == b'.' || c == b' ') && next_is_end {
            return true; // `.` component, trailing dot or space
        }
        prev_sep = sep;
    }
    // Unicode control characters (C1) are replaced too, and device names
    // (`COM¹` among them) are prefixed.
    (!b.is_ascii() && p.chars().any(char::is_control))
        || (maybe_device && p.split(['/', '\\']).any(is_device_name))
}

/// The bytes [`needs_sanitizing`] looks at: separators, controls, the
/// characters Windows refuses, dots and spaces.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b < 0x20
            || b == 0x7f
            || matches!(
                b,
                b'/' | b'\\' | b'<' | b'>' | b':' | b'"' | b'|' | b'?' | b'*' | b'.' | b' '
            );
        c += 1;
    }
    t
};

/// The name as the extractor would write it (slash-separated), or the name
/// with slashes unified when it cannot be made safe (it is never written;
/// its key still has to be one).
pub fn canonical(p: &str) -> Cow<'_, str> {
    if !needs_sanitizing(p) {
        return Cow::Borrowed(p);
    }
    match sanitize(p) {
        Ok(s) => Cow::Owned(s.to_slash()),
        Err(_) => Cow::Owned(p.replace('\\', "/")),
    }
}

/// The lookup key of a member path: [`canonical`], `\` as `/`, ASCII
/// lower case.
pub fn member_key(p: &str) -> String {
    let bytes: Vec<u8> = key_bytes(p).collect();
    // Folding ASCII bytes keeps UTF-8 valid.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `a` and `b` compared as their [`member_key`]s, without building them.
pub fn key_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    // The same text has the same key: most comparisons are of a name with
    // itself (a lookup meeting its entry), and canonicalizing both costs
    // ~20 instructions a byte.
    if a == b {
        return std::cmp::Ordering::Equal;
    }
    let (a, b) = (canonical(a), canonical(b));
    a.bytes().map(fold).cmp(b.bytes().map(fold))
}

/// One byte of a key: `\` as `/`, ASCII lower case.
pub fn fold(b: u8) -> u8 {
    if b == b'\\' {
        b'/'
    } else {
        b.to_ascii_lowercase()
    }
}

/// The bytes of [`member_key`] without building it for plain names.
pub fn key_bytes(p: &str) -> impl Iterator<Item = u8> + '_ {
    let c = canonical(p);
    let owned: Option<Vec<u8>> = match c {
        Cow::Owned(s) => Some(s.into_bytes()),
        Cow::Borrowed(_) => None,
    };
    let plain = owned.is_none().then(|| p.bytes());
    plain
        .into_iter()
        .flatten()
        .chain(owned.into_iter().flatten())
        .map(fold)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check byte by byte, without the table: what the fast path of
    /// [`needs_sanitizing`] must agree with.
    fn needs_sanitizing_slow(p: &str) -> bool {
        let b = p.as_bytes();
        if b.first().is_some_and(|&c| c == b'/' || c == b'\\') || (b.len() >= 2 && b[1] == b':') {
            return true;
        }
        let mut prev_sep = true;
        for (i, &c) in b.iter().enumerate() {
            let sep = c == b'/' || c == b'\\';
            if (sep && prev_sep)
                || c < 0x20
                || c == 0x7f
                || matches!(c, b'<' | b'>' | b':' | b'"' | b'|' | b'?' | b'*')
            {
                return true;
            }
            let next_is_end = b.get(i + 1).is_none_or(|&n| n == b'/' || n == b'\\');
            if (c == b'.' || c == b' ') && next_is_end {
                return true;
            }
            prev_sep = sep;
        }
        p.chars().any(char::is_control) || p.split(['/', '\\']).any(is_device_name)
    }

    /// Every string of up to four symbols over an alphabet of the cases.
    fn names() -> Vec<String> {
        let alphabet = [
            "a", ".", " ", "/", "\\", ":", "*", "\x01", "\u{85}", "é", "nul", "COM¹", "conout$",
            "lpt1 ", "Aux.txt",
        ];
        let mut all = vec![String::new()];
        let mut level = vec![String::new()];
        for _ in 0..4 {
            level = level
                .iter()
                .flat_map(|p| alphabet.iter().map(move |s| format!("{p}{s}")))
                .collect();
            all.extend(level.iter().cloned());
        }
        all
    }

    #[test]
    fn fast_path_agrees_with_the_byte_by_byte_check() {
        let mut flagged = 0;
        for p in names() {
            assert_eq!(needs_sanitizing(&p), needs_sanitizing_slow(&p), "{p:?}");
            flagged += usize::from(needs_sanitizing(&p));
        }
        // The alphabet exercises both answers.
        assert!(flagged > 1000, "{flagged}");
        assert!(!needs_sanitizing("Windows/System32/ntdll.dll"));
        assert!(needs_sanitizing("x86_foo/CON.txt"));
        assert!(needs_sanitizing("a/conin$"));
        assert!(!needs_sanitizing("a/console"));
    }

    #[test]
    fn key_cmp_orders_as_member_keys() {
        let names = names();
        for a in names.iter().step_by(97) {
            for b in names.iter().step_by(89) {
                assert_eq!(
                    key_cmp(a, b),
                    member_key(a).cmp(&member_key(b)),
                    "{a:?} {b:?}"
                );
            }
        }
        assert_eq!(key_cmp("A\\B.DLL", "a/b.dll"), std::cmp::Ordering::Equal);
    }
}
