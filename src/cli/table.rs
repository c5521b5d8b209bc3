//! Plain aligned text tables for stdout: a header row, columns separated by two spaces, numeric
//! columns right-aligned, no trailing spaces.

/// Column alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Render `rows` under `headers` (each `(title, alignment)`).
pub fn render(headers: &[(&str, Align)], rows: &[Vec<String>]) -> String {
    let n = headers.len();
    let mut width: Vec<usize> = headers.iter().map(|(h, _)| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().take(n).enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate().take(n) {
            if i > 0 {
                l.push_str("  ");
            }
            let pad = width[i].saturating_sub(c.chars().count());
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
}
