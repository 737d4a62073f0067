//! `-J`: libsmartcols' JSON, its indentation and nesting of tree children included.

use std::fmt::Write;

use super::{JsonType, Table, ASCII_SYMBOLS};

impl Table {
    pub(super) fn render_json(&self, out: &mut String) {
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
