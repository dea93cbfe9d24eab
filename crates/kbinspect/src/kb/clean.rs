//! Text clean-up shared by the front-ends and the table builder: HTML
//! character references, white space, and markdown inline markup. Depends
//! on nothing else in `kb`.

use std::borrow::Cow;

/// Character references (`&amp;` `&#233;` `&#xE9;` and all 2,231 HTML5
/// names: `&Eacute;` `&oslash;` `&rsquo;`), decoded as a browser does in
/// text by the `htmlize` crate. `&nbsp;` stays U+00A0 (it can be a
/// thousands separator), `&shy;` stands for nothing, a reference to a
/// control character reads as U+FFFD; unknown names stay as written.
pub(crate) fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let decoded = htmlize::unescape(s.replace("&shy;", ""));
    if !decoded.contains(|c: char| c.is_control() && !c.is_whitespace()) {
        return Cow::Owned(decoded.into_owned());
    }
    Cow::Owned(
        decoded
            .chars()
            .map(|c| {
                if c.is_control() && !c.is_whitespace() {
                    '\u{fffd}'
                } else {
                    c
                }
            })
            .collect(),
    )
}

/// Remove `<br/>` (a long name split over lines joins without a space),
/// emphasis, escapes, links and entities.
pub(crate) fn clean_cell(c: &str) -> String {
    let mut s = String::with_capacity(c.len());
    let mut rest = c;
    while let Some(pos) = rest.find('<') {
        let (before, after) = rest.split_at(pos);
        let tag_end = after.find('>');
        let is_br = tag_end.is_some_and(|e| {
            let inner = after
                .get(1..e)
                .unwrap_or_default()
                .trim()
                .trim_end_matches('/')
                .trim();
            inner.eq_ignore_ascii_case("br") || inner.eq_ignore_ascii_case("wbr")
        });
        if is_br {
            s.push_str(before.trim_end());
            rest = after
                .get(tag_end.unwrap_or(0) + 1..)
                .unwrap_or_default()
                .trim_start();
        } else {
            s.push_str(before);
            s.push('<');
            rest = after.get(1..).unwrap_or_default();
        }
    }
    s.push_str(rest);
    let s = strip_links(&s);
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                if let Some(&n) = chars.peek()
                    && n.is_ascii_punctuation()
                {
                    out.push(n);
                    chars.next();
                } else {
                    out.push(ch);
                }
            }
            '*' | '`' => {}
            _ => out.push(ch),
        }
    }
    let decoded = decode_entities(&out);
    collapse_ws(&decoded)
}

/// `[text](url)` → `text`
fn strip_links(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let Some(close_rel) = rest.get(open..).and_then(|r| r.find("](")) else {
            break;
        };
        let close = open + close_rel;
        let Some(end_rel) = rest.get(close..).and_then(|r| r.find(')')) else {
            break;
        };
        out.push_str(rest.get(..open).unwrap_or_default());
        out.push_str(rest.get(open + 1..close).unwrap_or_default());
        rest = rest.get(close + end_rel + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split(|c: char| c.is_whitespace() && c != '\u{a0}' && c != '\u{202f}') {
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out.trim_matches(|c: char| c.is_whitespace()).to_string()
}

/// A line of prose or a heading without its markup (`##### `, `- `, `**`).
pub(crate) fn clean_heading(t: &str) -> Cow<'_, str> {
    let mut s = t.trim();
    s = s.trim_start_matches('#').trim_start();
    for marker in ["- ", "* ", "+ "] {
        if let Some(r) = s.strip_prefix(marker) {
            s = r.trim_start();
            break;
        }
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if digits > 0
        && let Some(r) = s.get(digits..).and_then(|r| r.strip_prefix(". "))
    {
        s = r.trim_start();
    }
    s = s.trim_end_matches('#').trim_end();
    if s.contains(['*', '[', '&', '<', '\\', '`']) {
        Cow::Owned(clean_cell(s))
    } else {
        Cow::Borrowed(s)
    }
}

/// Display columns of a character in a monospaced font: two for East
/// Asian wide characters (CJK, kana, hangul, full-width forms), else one.
pub(crate) fn char_width(c: char) -> usize {
    let wide = matches!(u32::from(c),
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6);
    if wide { 2 } else { 1 }
}

/// Display columns of a text (see [`char_width`]).
pub(crate) fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities() {
        assert_eq!(
            decode_entities("a &amp; b &#233; &#xE9; &nbsp;&zz; & x"),
            "a & b é é \u{a0}&zz; & x"
        );
        assert_eq!(decode_entities("so&shy;ft"), "soft");
        // Names beyond the few a hand table knows.
        assert_eq!(
            decode_entities("&Eacute;t&eacute; &oslash; l&rsquo;&eacute;t&eacute; &hellip; &#x1;"),
            "Été ø l’été … \u{fffd}"
        );
        assert_eq!(decode_entities("AT&T R&D"), "AT&T R&D");
    }

    #[test]
    fn cells() {
        assert_eq!(
            clean_cell("X86_c1405_31bf3856ad364e35_<br/>6.0.6002.22774_none.manifest"),
            "X86_c1405_31bf3856ad364e35_6.0.6002.22774_none.manifest"
        );
        assert_eq!(clean_cell(" **Vssapi.dll** "), "Vssapi.dll");
        assert_eq!(clean_cell("a\\_b"), "a_b");
        assert_eq!(clean_cell("[Update.mum](http://x)"), "Update.mum");
        assert_eq!(clean_cell("1&nbsp;124"), "1\u{a0}124");
        assert_eq!(clean_heading("##### For all x86"), "For all x86");
        assert_eq!(clean_heading("- For all x86"), "For all x86");
        assert_eq!(clean_heading("**For all x64**"), "For all x64");
    }
}
