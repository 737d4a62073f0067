//! The aligned table: libsmartcols' column widths, truncation to the terminal,
//! multi-line cells and tree art.

use std::fmt::Write;

use unicode_width::UnicodeWidthChar;

use super::{Column, Output, Symbols, Table};

impl Table {
    pub(super) fn render_human(
        &self,
        order: &[usize],
        sym: &Symbols,
        output: Output,
        out: &mut String,
    ) {
        let ncols = self.columns.len();
        // Encoded cells and their widths.
        let cells: Vec<Vec<Cell>> = order
            .iter()
            .map(|&ln| {
                (0..ncols)
                    .map(|c| Cell::new(&self.cell_data(ln, c, sym), &self.columns[c], output.utf8))
                    .collect()
            })
            .collect();
        let mut widths = Vec::with_capacity(ncols);
        let mut mins = Vec::with_capacity(ncols);
        for (c, col) in self.columns.iter().enumerate() {
            let min = safe_width(&col.name, output.utf8).max(1);
            let data = cells.iter().map(|row| row[c].width).max().unwrap_or(0);
            let width = if data < min {
                min
            } else if col.whint >= 1 && data < col.whint && min < col.whint {
                col.whint
            } else {
                data
            };
            widths.push(width);
            mins.push(min);
        }
        let mut hidden = vec![false; ncols];
        if let Some(term) = output.term_width {
            // __scols_calculate(): narrow the truncatable columns until the table
            // fits (the only stage lsns' absolute hints leave in play).
            let mut total: usize = widths.iter().sum::<usize>() + ncols.saturating_sub(1);
            while total > term {
                let before = total;
                for c in 0..ncols {
                    if total <= term {
                        break;
                    }
                    if hidden[c] || widths[c] == mins[c] || widths[c] == 0 || !self.columns[c].trunc
                    {
                        continue;
                    }
                    widths[c] -= 1;
                    total -= 1;
                    if widths[c] == 0 {
                        hidden[c] = true;
                    }
                }
                if before == total {
                    break;
                }
            }
        }
        let visible: Vec<usize> = (0..ncols).filter(|&c| !hidden[c]).collect();
        let last = visible.last().copied();
        if !self.noheadings {
            for &c in &visible {
                let name = Cell::new(&self.columns[c].name, &self.columns[c], output.utf8);
                print_cell(
                    out,
                    &name.lines[0],
                    name.width,
                    widths[c],
                    &self.columns[c],
                    Some(c) == last,
                );
            }
            out.push('\n');
        }
        for (row, &ln) in cells.iter().zip(order) {
            let mut pending: Vec<std::slice::Iter<(String, usize)>> = Vec::new();
            for &c in &visible {
                let cell = &row[c];
                let mut chunks = cell.chunks.iter();
                let (text, width) = chunks.next().map_or(("", 0), |(t, w)| (t.as_str(), *w));
                pending.push(chunks);
                print_cell(
                    out,
                    text,
                    width,
                    widths[c],
                    &self.columns[c],
                    Some(c) == last,
                );
            }
            out.push('\n');
            // Extra lines for the rest of multi-line cells.
            while pending.iter().any(|p| p.len() > 0) {
                for (i, &c) in visible.iter().enumerate() {
                    let col = &self.columns[c];
                    let is_last = Some(c) == last;
                    match pending[i].next() {
                        Some((text, width)) => {
                            print_cell(out, text, *width, widths[c], col, is_last)
                        }
                        None => {
                            let mut art = String::new();
                            if col.tree {
                                self.art_of(ln, sym, &mut art);
                                if !self.lines[ln].children.is_empty()
                                    && pending.iter().any(|p| p.len() > 0)
                                {
                                    art.push_str(sym.vert);
                                }
                            }
                            let w = safe_width(&art, output.utf8);
                            out.push_str(&art);
                            if !is_last {
                                pad(out, widths[c].saturating_sub(w));
                                out.push(' ');
                            }
                        }
                    }
                }
                out.push('\n');
            }
        }
    }
}

/// print_data(): one cell of a human table, then its separator.
fn print_cell(out: &mut String, text: &str, len: usize, width: usize, col: &Column, is_last: bool) {
    let (text, len) = if len > width && col.trunc {
        truncate(text, width)
    } else {
        (text.to_owned(), len)
    };
    let mut len = len;
    if !text.is_empty() {
        if col.right {
            pad(out, width.saturating_sub(len));
            len = len.max(width);
        }
        out.push_str(&text);
    }
    if is_last {
        return;
    }
    pad(out, width.saturating_sub(len));
    out.push(' ');
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A cell made safe to print: its chunks (lines, for `\n`-wrapped columns) and widths.
struct Cell {
    lines: Vec<String>,
    chunks: Vec<(String, usize)>,
    width: usize,
}

impl Cell {
    fn new(data: &str, col: &Column, utf8: bool) -> Cell {
        let encoded = safe_encode(data, col.wrap_nl, utf8);
        let chunks: Vec<(String, usize)> = if col.wrap_nl {
            encoded
                .split('\n')
                .map(|s| (s.to_owned(), safe_width(s, utf8)))
                .collect()
        } else {
            let w = safe_width(&encoded, utf8);
            vec![(encoded.clone(), w)]
        };
        let width = chunks.iter().map(|c| c.1).max().unwrap_or(0);
        Cell {
            lines: vec![encoded],
            chunks: if data.is_empty() { Vec::new() } else { chunks },
            width,
        }
    }
}

/// mbs_safe_encode_to_buffer(): control characters, `\x` and (in a non-UTF-8
/// locale) every non-ASCII byte become `\xHH`; `\n` stays where the column wraps.
pub(super) fn safe_encode(data: &str, keep_nl: bool, utf8: bool) -> String {
    let mut out = String::with_capacity(data.len());
    let mut chars = data.chars().peekable();
    while let Some(ch) = chars.next() {
        if keep_nl && ch == '\n' {
            out.push(ch);
        } else if (ch == '\\' && chars.peek() == Some(&'x')) || (ch as u32) < 0x20 || ch == '\x7f' {
            let _ = write!(out, "\\x{:02x}", ch as u32);
        } else if !utf8 && !ch.is_ascii() || utf8 && ch.is_control() {
            let mut buf = [0; 4];
            for b in ch.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        } else {
            out.push(ch);
        }
    }
    out
}

/// The display width of already-encoded text.
fn safe_width(s: &str, _utf8: bool) -> usize {
    s.chars()
        .filter(|&c| c != '\n')
        .map(|c| c.width().unwrap_or(0))
        .sum()
}

/// mbs_truncate(): the longest prefix at most `width` cells wide.
fn truncate(s: &str, width: usize) -> (String, usize) {
    let mut w = 0;
    let mut out = String::new();
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > width {
            break;
        }
        w += cw;
        out.push(c);
    }
    (out, w)
}
