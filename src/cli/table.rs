//! Plain aligned text tables for stdout: a header row, columns separated by two spaces, numeric
//! columns right-aligned, no trailing spaces. Widths are terminal columns ([`display_width`]):
//! CJK and other wide characters count two, combining marks none, so non-ASCII titles align.

/// Terminal columns a character takes: 0 for combining marks and zero-width characters, 2 for
/// East Asian wide and fullwidth characters and emoji, else 1 (a compact subset of UAX #11).
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    match u {
        0x0300..=0x036F
        | 0x0483..=0x0489
        | 0x0591..=0x05BD
        | 0x0610..=0x061A
        | 0x064B..=0x065F
        | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF
        | 0x200B..=0x200F
        | 0x20D0..=0x20FF
        | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// Terminal columns `s` takes (see [`char_width`]).
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Column alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Render `rows` under `headers` (each `(title, alignment)`).
pub fn render(headers: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let n = headers.len();
    let mut width: Vec<usize> = headers.iter().map(|(h, _)| display_width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().take(n).enumerate() {
            width[i] = width[i].max(display_width(c));
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate().take(n) {
            if i > 0 {
                l.push_str("  ");
            }
            let pad = width[i].saturating_sub(display_width(c));
            match headers[i].1 {
                Align::Left => {
                    l.push_str(c);
                    l.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    l.extend(std::iter::repeat_n(' ', pad));
                    l.push_str(c);
                }
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().map(|(h, _)| *h));
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned() {
        let t = render(
            &[("ID", Align::Left), ("SIZE", Align::Right), ("NAME", Align::Left)],
            &[vec!["1".into(), "10 B".into(), "x".into()], vec!["12345".into(), "1.5 MiB".into(), "".into()]],
        );
        assert_eq!(t, "ID        SIZE  NAME\n1         10 B  x\n12345  1.5 MiB\n");
    }

    #[test]
    fn non_ascii_aligns_by_terminal_columns() {
        assert_eq!(display_width("Café"), 4);
        assert_eq!(display_width("Cafe\u{301}"), 4, "combining accent takes no column");
        assert_eq!(display_width("東方"), 4);
        assert_eq!(display_width("Ｘ"), 2);
        let t = render(
            &[("TITLE", Align::Left), ("N", Align::Right)],
            &[vec!["東方の剣".into(), "1".into()], vec!["Żółw".into(), "22".into()], vec!["abc".into(), "3".into()]],
        );
        let cols: Vec<usize> = t.lines().map(display_width).collect();
        assert_eq!(cols, vec![12, 12, 12, 12], "{t}");
        assert!(t.contains("東方の剣   1\nŻółw      22\n"), "{t}");
    }
}
