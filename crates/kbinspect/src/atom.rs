//! Interned strings: identity attributes, PE versions, hash algorithm names.
//!
//! Our own: `ustr`, the usual crate, preallocates 8 MiB of tables, and
//! measured +4.5 MB resident on `verify`, more than interning saves.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{LazyLock, Mutex, PoisonError};

use serde::{Serialize, Serializer};

/// An interned string: one pointer, copied freely, compared and hashed as
/// its text. Versions, architectures, languages, public key tokens and
/// scopes repeat across the thousands of identities of a package and the
/// distinct ones are few, so each is stored once for the life of the
/// process.
#[derive(Clone, Copy)]
pub struct Atom(&'static String);

static EMPTY: String = String::new();

/// Every distinct text interned so far.
static TABLE: LazyLock<Mutex<HashMap<&'static str, &'static String>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl Atom {
    /// The one atom of `s`.
    pub fn new(s: &str) -> Atom {
        if s.is_empty() {
            return Atom(&EMPTY);
        }
        // A poisoned table is still whole: entries are only ever added.
        let mut table = TABLE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&t) = table.get(s) {
            return Atom(t);
        }
        let t: &'static String = Box::leak(Box::new(s.to_string()));
        table.insert(t.as_str(), t);
        Atom(t)
    }

    pub fn as_str(&self) -> &'static str {
        self.0.as_str()
    }
}

impl Default for Atom {
    fn default() -> Atom {
        Atom(&EMPTY)
    }
}

impl Deref for Atom {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Atom {
        Atom::new(s)
    }
}

impl From<String> for Atom {
    fn from(s: String) -> Atom {
        Atom::new(&s)
    }
}

impl PartialEq for Atom {
    fn eq(&self, other: &Atom) -> bool {
        std::ptr::eq(self.0, other.0) || self.0 == other.0
    }
}

impl Eq for Atom {}

impl PartialEq<str> for Atom {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Atom {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Atom {
    fn eq(&self, other: &String) -> bool {
        self.0 == other
    }
}

impl PartialEq<Atom> for &str {
    fn eq(&self, other: &Atom) -> bool {
        *self == other.0.as_str()
    }
}

impl Hash for Atom {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Atom) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Atom {
    fn cmp(&self, other: &Atom) -> std::cmp::Ordering {
        self.0.as_str().cmp(other.0.as_str())
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Atom {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_are_one_atom() {
        let a = Atom::new("6.1.7601.24545");
        let b = Atom::from(String::from("6.1.7601.24545"));
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(a, b);
        assert_ne!(a, Atom::new("6.1.7601.24546"));
        assert_eq!(a, "6.1.7601.24545");
        assert_eq!(Atom::new(""), Atom::default());
        assert!(Atom::default().is_empty());
        assert_eq!(std::mem::size_of::<Atom>(), 8);
    }

    #[test]
    fn prints_and_serializes_as_its_text() {
        let a = Atom::new("amd64");
        assert_eq!(format!("{a} {a:?}"), "amd64 \"amd64\"");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"amd64\"");
    }
}
