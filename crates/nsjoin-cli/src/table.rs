//! Table output the way util-linux prints it (libsmartcols 2.38/2.41 as `lsns` uses
//! it), so that `nsls` lines compare byte for byte with `lsns` lines.
//!
//! Written here rather than taken from a crate: the table crates (comfy-table,
//! tabled, prettytable) have their own layouts and none reproduces libsmartcols'
//! rules: width hints that apply only when the data is wider than the header,
//! right-aligned headers, an unpadded last column, tree art in one column, `-r`'s
//! `\x20` escaping, multi-line NSFS cells and its particular JSON indentation.

use std::fmt::Write;

use unicode_width::UnicodeWidthChar;

/// How a column's cells appear in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonType {
    /// `"text"`, `null` when empty.
    String,
    /// `123`, `null` when empty.
    Number,
}

/// A column: libsmartcols' name, width hint and flags.
#[derive(Clone, Debug)]
pub struct Column {
    /// Header text (lower-cased as the JSON key).
    pub name: String,
    /// Width hint: a column whose data is at least as wide as its header is made
    /// at least this wide.
    pub whint: usize,
    /// Right-aligned (SCOLS_FL_RIGHT).
    pub right: bool,
    /// May be truncated to fit a terminal (SCOLS_FL_TRUNC).
    pub trunc: bool,
    /// Carries the tree art (SCOLS_FL_TREE).
    pub tree: bool,
    /// Cells are split into lines at `\n` (SCOLS_FL_WRAP with scols_wrapnl_*).
    pub wrap_nl: bool,
    /// JSON type.
    pub json: JsonType,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns.
    Human,
    /// Space-separated, blanks and specials `\xHH`-escaped (`-r`).
    Raw,
    /// `{"NAME": [ {...}, ... ]}` (`-J`).
    Json,
}

/// Terminal facts that decide truncation and tree symbols.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// Width to fit when stdout is a terminal; `None` when it is not.
    pub term_width: Option<usize>,
    /// Line-drawing (UTF-8) rather than ASCII tree art.
    pub utf8: bool,
}

struct Line {
    cells: Vec<String>,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// A table to fill line by line and print once.
pub struct Table {
    name: String,
    columns: Vec<Column>,
    lines: Vec<Line>,
    format: Format,
    noheadings: bool,
}

struct Symbols {
    branch: &'static str,
    vert: &'static str,
    right: &'static str,
}

const UTF8_SYMBOLS: Symbols = Symbols {
    branch: "\u{251c}\u{2500}",
    vert: "\u{2502} ",
    right: "\u{2514}\u{2500}",
};
const ASCII_SYMBOLS: Symbols = Symbols {
    branch: "|-",
    vert: "| ",
    right: "`-",
};

impl Table {
    /// An empty table; `name` is the JSON array's key.
    pub fn new(name: &str, columns: Vec<Column>, format: Format, noheadings: bool) -> Table {
        Table {
            name: name.to_owned(),
            columns,
            lines: Vec::new(),
            format,
            noheadings,
        }
    }

    /// Adds a line (under `parent` in a tree) and returns its id.
    pub fn new_line(&mut self, parent: Option<usize>) -> usize {
        let id = self.lines.len();
        self.lines.push(Line {
            cells: vec![String::new(); self.columns.len()],
            parent,
            children: Vec::new(),
        });
        if let Some(p) = parent {
            self.lines[p].children.push(id);
        }
        id
    }

    /// Sets a cell.
    pub fn set(&mut self, line: usize, column: usize, data: String) {
        self.lines[line].cells[column] = data;
    }

    fn is_tree(&self) -> bool {
        self.columns.iter().any(|c| c.tree)
    }

    fn is_last_child(&self, ln: usize) -> bool {
        match self.lines[ln].parent {
            Some(p) => self.lines[p].children.last() == Some(&ln),
            None => false,
        }
    }

    /// The lines in print order: insertion order, or depth first for a tree.
    fn order(&self) -> Vec<usize> {
        if !self.is_tree() {
            return (0..self.lines.len()).collect();
        }
        let mut out = Vec::with_capacity(self.lines.len());
        let mut stack: Vec<usize> = Vec::new();
        for root in (0..self.lines.len()).filter(|&i| self.lines[i].parent.is_none()) {
            stack.push(root);
            while let Some(ln) = stack.pop() {
                out.push(ln);
                stack.extend(self.lines[ln].children.iter().rev());
            }
        }
        out
    }

    /// tree_ascii_art_to_buffer(): the art of `ln`'s ancestors' columns.
    fn art_of(&self, ln: usize, sym: &Symbols, out: &mut String) {
        let Some(parent) = self.lines[ln].parent else {
            return;
        };
        self.art_of(parent, sym, out);
        out.push_str(if self.is_last_child(ln) {
            "  "
        } else {
            sym.vert
        });
    }

    /// A cell's data with the tree art in front (for a tree column, not in JSON).
    fn cell_data(&self, ln: usize, col: usize, sym: &Symbols) -> String {
        let data = &self.lines[ln].cells[col];
        if !self.columns[col].tree || self.format == Format::Json {
            return data.clone();
        }
        let mut out = String::new();
        if let Some(parent) = self.lines[ln].parent {
            self.art_of(parent, sym, &mut out);
            out.push_str(if self.is_last_child(ln) {
                sym.right
            } else {
                sym.branch
            });
        }
        out.push_str(data);
        out
    }

    /// The table as util-linux prints it.
    pub fn render(&self, output: Output) -> String {
        let mut out = String::new();
        if self.format == Format::Json {
            self.render_json(&mut out);
            return out;
        }
        if self.lines.is_empty() {
            return out;
        }
        let sym = if output.utf8 {
            &UTF8_SYMBOLS
        } else {
            &ASCII_SYMBOLS
        };
        let order = self.order();
        if self.format == Format::Raw {
            if !self.noheadings {
                let names: Vec<String> = self.columns.iter().map(|c| nonblank(&c.name)).collect();
                out.push_str(&names.join(" "));
                out.push('\n');
            }
            for &ln in &order {
                let cells: Vec<String> = (0..self.columns.len())
                    .map(|c| nonblank(&self.cell_data(ln, c, sym)))
                    .collect();
                out.push_str(&cells.join(" "));
                out.push('\n');
            }
            return out;
        }
        self.render_human(&order, sym, output, &mut out);
        out
    }

    fn render_human(&self, order: &[usize], sym: &Symbols, output: Output, out: &mut String) {
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

    fn render_json(&self, out: &mut String) {
        let mut w = JsonWriter::default();
        w.open(out, None, Kind::Object);
        w.open(out, Some(&self.name), Kind::Array);
        let sym = &ASCII_SYMBOLS;
        let tree = self.is_tree();
        let order = self.order();
        let last_root = (0..self.lines.len())
            .rev()
            .find(|&i| self.lines[i].parent.is_none());
        for &ln in &order {
            w.open(out, None, Kind::Object);
            for (c, col) in self.columns.iter().enumerate() {
                let data = self.cell_data(ln, c, sym);
                let key = col.name.to_lowercase();
                match col.json {
                    JsonType::Number if !data.is_empty() => w.value_raw(out, &key, &data),
                    JsonType::String if !data.is_empty() => {
                        w.value_raw(out, &key, &json_quote(&data))
                    }
                    _ => w.value_raw(out, &key, "null"),
                }
            }
            if !tree {
                w.close(out, Kind::Object);
                continue;
            }
            if !self.lines[ln].children.is_empty() {
                w.open(out, Some("children"), Kind::Array);
                continue;
            }
            let mut cur = Some(ln);
            while let Some(l) = cur {
                let is_child = self.lines[l].parent.is_some();
                let last =
                    (is_child && self.is_last_child(l)) || (!is_child && Some(l) == last_root);
                w.close(out, Kind::Object);
                if last && is_child {
                    w.close(out, Kind::Array);
                }
                if !last {
                    break;
                }
                cur = self.lines[l].parent;
            }
        }
        w.close(out, Kind::Array);
        w.close(out, Kind::Object);
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
fn safe_encode(data: &str, keep_nl: bool, utf8: bool) -> String {
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

/// fputs_nonblank(): raw output, every blank, backslash, control and non-ASCII
/// byte as `\xHH`.
fn nonblank(s: &str) -> String {
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

/// fputs_quoted_json(): `"` and `\` escaped, controls as `\n`, `\t`... or `\u00HH`.
fn json_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u00{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
}

/// ul_jsonwrt: three-space indents, `},{` between array members.
#[derive(Default)]
struct JsonWriter {
    indent: usize,
    after_close: bool,
}

impl JsonWriter {
    fn indent(&self, out: &mut String) {
        for _ in 0..self.indent {
            out.push_str("   ");
        }
    }

    fn open(&mut self, out: &mut String, name: Option<&str>, kind: Kind) {
        match name {
            Some(name) => {
                if self.after_close {
                    out.push_str(",\n");
                }
                self.indent(out);
                out.push_str(&json_quote(&name.to_lowercase()));
            }
            None => {
                if self.after_close {
                    out.push(',');
                } else {
                    self.indent(out);
                }
            }
        }
        let brace = if kind == Kind::Object { '{' } else { '[' };
        if name.is_some() {
            out.push_str(": ");
        }
        out.push(brace);
        out.push('\n');
        self.indent += 1;
        self.after_close = false;
    }

    fn close(&mut self, out: &mut String, kind: Kind) {
        if self.indent == 1 {
            out.push_str("\n}\n");
            self.indent = 0;
            self.after_close = true;
            return;
        }
        self.indent -= 1;
        out.push('\n');
        self.indent(out);
        out.push(if kind == Kind::Object { '}' } else { ']' });
        self.after_close = true;
    }

    fn value_raw(&mut self, out: &mut String, name: &str, data: &str) {
        if self.after_close {
            out.push_str(",\n");
        }
        self.indent(out);
        out.push_str(&json_quote(name));
        out.push_str(": ");
        out.push_str(data);
        self.after_close = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, whint: usize, right: bool) -> Column {
        Column {
            name: name.into(),
            whint,
            right,
            trunc: false,
            tree: false,
            wrap_nl: false,
            json: if right {
                JsonType::Number
            } else {
                JsonType::String
            },
        }
    }

    const PIPE: Output = Output {
        term_width: None,
        utf8: true,
    };

    #[test]
    fn widths_follow_libsmartcols() {
        let mut t = Table::new(
            "namespaces",
            vec![
                col("NS", 10, true),
                col("TYPE", 5, false),
                col("PID", 5, true),
                col("CMD", 0, false),
            ],
            Format::Human,
            false,
        );
        let l = t.new_line(None);
        for (c, v) in ["4026531834", "time", "2", "kthreadd"]
            .into_iter()
            .enumerate()
        {
            t.set(l, c, v.into());
        }
        // TYPE's data is as wide as its header: the hint (5) applies. PID's data is
        // narrower than its header: the header decides (3), not the hint.
        assert_eq!(
            t.render(PIPE),
            "        NS TYPE  PID CMD\n4026531834 time    2 kthreadd\n"
        );
    }

    #[test]
    fn empty_tables() {
        let t = Table::new("namespaces", vec![col("NS", 10, true)], Format::Json, false);
        assert_eq!(t.render(PIPE), "{\n   \"namespaces\": [\n\n   ]\n}\n");
        let t = Table::new(
            "namespaces",
            vec![col("NS", 10, true)],
            Format::Human,
            false,
        );
        assert_eq!(t.render(PIPE), "");
    }

    #[test]
    fn raw_escapes_blanks_and_backslashes() {
        assert_eq!(
            nonblank("sleep 1\\x\u{2514}"),
            "sleep\\x201\\x5cx\\xe2\\x94\\x94"
        );
        assert_eq!(safe_encode("a\tb\\xc", false, true), "a\\x09b\\x5cxc");
        assert_eq!(safe_encode("é", false, false), "\\xc3\\xa9");
    }

    #[test]
    fn json_trees_nest_children() {
        let mut c = col("CMD", 0, false);
        c.tree = true;
        let mut t = Table::new(
            "namespaces",
            vec![col("NS", 10, true), c],
            Format::Json,
            false,
        );
        let a = t.new_line(None);
        let b = t.new_line(Some(a));
        t.set(a, 0, "1".into());
        t.set(b, 0, "2".into());
        t.set(b, 1, "x \"y\"".into());
        assert_eq!(
            t.render(PIPE),
            "{\n   \"namespaces\": [\n      {\n         \"ns\": 1,\n         \"cmd\": null,\n         \"children\": [\n            {\n               \"ns\": 2,\n               \"cmd\": \"x \\\"y\\\"\"\n            }\n         ]\n      }\n   ]\n}\n"
        );
    }
}
