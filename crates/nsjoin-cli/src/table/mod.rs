//! Table output the way util-linux prints it (libsmartcols 2.38/2.41 as `lsns` uses
//! it), so that `nsls` lines compare byte for byte with `lsns` lines.
//!
//! Written here rather than taken from a crate: the table crates (comfy-table,
//! tabled, prettytable) have their own layouts and none reproduces libsmartcols'
//! rules: width hints that apply only when the data is wider than the header,
//! right-aligned headers, an unpadded last column, tree art in one column, `-r`'s
//! `\x20` escaping, multi-line NSFS cells and its particular JSON indentation.

mod human;
mod json;
mod raw;

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

impl Format {
    /// `-J` (JSON) over `-r` (raw) over the aligned default.
    pub fn of(json: bool, raw: bool) -> Format {
        if json {
            Format::Json
        } else if raw {
            Format::Raw
        } else {
            Format::Human
        }
    }
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
            self.render_raw(&order, sym, &mut out);
            return out;
        }
        self.render_human(&order, sym, output, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::human::safe_encode;
    use super::raw::nonblank;
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
