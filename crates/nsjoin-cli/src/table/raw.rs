//! `-r`: one line per row, cells separated by one space, blanks and specials
//! `\xHH`-escaped.

use std::fmt::Write;

use super::{Symbols, Table};

impl Table {
    pub(super) fn render_raw(&self, order: &[usize], sym: &Symbols, out: &mut String) {
        if !self.noheadings {
            let names: Vec<String> = self.columns.iter().map(|c| nonblank(&c.name)).collect();
            out.push_str(&names.join(" "));
            out.push('\n');
        }
        for &ln in order {
            let cells: Vec<String> = (0..self.columns.len())
                .map(|c| nonblank(&self.cell_data(ln, c, sym)))
                .collect();
            out.push_str(&cells.join(" "));
            out.push('\n');
        }
    }
}

/// fputs_nonblank(): raw output, every blank, backslash, control and non-ASCII
/// byte as `\xHH`.
pub(super) fn nonblank(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b == b' ' || b == b'\t' || b == b'\\' || !(0x21..0x7f).contains(&b) {
            let _ = write!(out, "\\x{b:02x}");
        } else {
            out.push(b as char);
        }
    }
    out
}
