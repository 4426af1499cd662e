//! Go's string quoting and printability (strconv.Quote, strconv.IsPrint), as the messages
//! Grafana 8.5.4 answers with spell values.

/// Go's `%q` of a string (strconv.Quote): `\a`-style escapes for the usual control
/// characters, `\xNN` for the other runes below space and DEL, `\uNNNN` or
/// `\UNNNNNNNN` for runes that are not printable; printable runes as they are.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if go_is_print(c) => out.push(c),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. Without
/// Unicode category tables this treats control, space and the common format (Cf) and
/// private-use characters as unprintable; unassigned code points count as printable.
pub fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let format_or_private = matches!(
        u,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0xE000..=0xF8FF
            | 0xF0000..
    );
    !format_or_private && (u & 0xFFFE) != 0xFFFE && !(0xFDD0..=0xFDEF).contains(&u)
}
