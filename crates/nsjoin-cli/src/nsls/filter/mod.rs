//! `-Q/--filter EXPR`: lsns' row filter, in the expression language its manual
//! and scols-filter(5) document.
//!
//! ```text
//! expr:    param | ( expr ) | expr && expr | expr AND expr | expr || expr
//!          | expr OR expr | !expr | NOT expr | expr == expr | expr EQ expr
//!          | expr != expr | expr NE expr | expr >= expr | expr GE expr
//!          | expr <= expr | expr LE expr | expr > expr | expr GT expr
//!          | expr < expr | expr LT expr | expr =~ string | expr !~ string
//! param:   integer | float | string | boolean | holder
//! integer: [0-9]+ | [0-9]+[KMGTPEZY] | [0-9]+[KMGTPEZY]iB
//! float:   integer.integer
//! boolean: true | false | TRUE | FALSE
//! string:  "[^\n"]*" | '[^\n']*'
//! holder:  [a-zA-Z][a-zA-Z_.%:/\-0-9]*      (a column name, any case)
//! ```
//!
//! Word operators are written all in lower or all in upper case (`and`, `AND`).
//! Binding, loosest first: `||`, `&&`, `!`, then the comparisons; parentheses
//! group. A column of numbers (NS, NPROCS, PID, ...) compares as a number, so
//! does a side that is a number literal; otherwise text compares byte by byte.
//! An empty cell is no number: ordered comparisons with it are false. A param
//! alone is true when it is non-empty (text), non-zero (number) or `true`. `=~`
//! matches a regular expression anywhere in the text (`^`/`$` anchor it).
//!
//! The expression is parsed when the option is read; column names are checked
//! against the table ([`Filter::bind`]) before any row is shown.

use regex::Regex;

/// A parsed filter, its column names not yet checked.
#[derive(Debug)]
pub struct Filter {
    expr: Expr,
}

/// A filter whose column names were found: holders are column indexes.
#[derive(Debug)]
pub struct Bound {
    expr: Expr,
    /// The columns it reads, by index into the names it was bound to.
    pub columns: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Cmp, Box<Expr>, Box<Expr>),
    Match(Box<Expr>, Regex, bool),
    Param(Param),
}

#[derive(Debug, Clone)]
enum Param {
    Number(f64),
    Text(String),
    Bool(bool),
    /// A column, by name until bound, then by index.
    Holder(String, Option<usize>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    Cmp(Cmp),
    Match(bool),
    Number(f64),
    Text(String),
    Bool(bool),
    Name(String),
}

impl Tok {
    /// How a syntax error names the token.
    fn describe(&self) -> String {
        match self {
            Tok::Open => "'('".into(),
            Tok::Close => "')'".into(),
            Tok::And => "AND".into(),
            Tok::Or => "OR".into(),
            Tok::Not => "NOT".into(),
            Tok::Cmp(c) => format!("{c:?}").to_uppercase(),
            Tok::Match(true) => "'=~'".into(),
            Tok::Match(false) => "'!~'".into(),
            Tok::Number(_) => "number".into(),
            Tok::Text(_) => "string".into(),
            Tok::Bool(_) => "boolean".into(),
            Tok::Name(_) => "holder".into(),
        }
    }
}

fn syntax(unexpected: Option<&Tok>) -> String {
    match unexpected {
        Some(t) => format!("syntax error, unexpected {}", t.describe()),
        None => "syntax error, unexpected end of expression".into(),
    }
}

fn word(w: &str) -> Option<Tok> {
    let lower = w.to_ascii_lowercase();
    // All lower or all upper case only.
    if w != lower && w != w.to_ascii_uppercase() {
        return None;
    }
    Some(match lower.as_str() {
        "and" => Tok::And,
        "or" => Tok::Or,
        "not" => Tok::Not,
        "eq" => Tok::Cmp(Cmp::Eq),
        "ne" => Tok::Cmp(Cmp::Ne),
        "lt" => Tok::Cmp(Cmp::Lt),
        "le" => Tok::Cmp(Cmp::Le),
        "gt" => Tok::Cmp(Cmp::Gt),
        "ge" => Tok::Cmp(Cmp::Ge),
        "true" => Tok::Bool(true),
        "false" => Tok::Bool(false),
        _ => return None,
    })
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let two = |s: &[u8]| b[i..].starts_with(s);
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let (tok, len) = if two(b"&&") {
            (Tok::And, 2)
        } else if two(b"||") {
            (Tok::Or, 2)
        } else if two(b"==") {
            (Tok::Cmp(Cmp::Eq), 2)
        } else if two(b"!=") {
            (Tok::Cmp(Cmp::Ne), 2)
        } else if two(b"<=") {
            (Tok::Cmp(Cmp::Le), 2)
        } else if two(b">=") {
            (Tok::Cmp(Cmp::Ge), 2)
        } else if two(b"=~") {
            (Tok::Match(true), 2)
        } else if two(b"!~") {
            (Tok::Match(false), 2)
        } else {
            match c {
                b'(' => (Tok::Open, 1),
                b')' => (Tok::Close, 1),
                b'!' => (Tok::Not, 1),
                b'<' => (Tok::Cmp(Cmp::Lt), 1),
                b'>' => (Tok::Cmp(Cmp::Gt), 1),
                b'"' | b'\'' => {
                    let end = b[i + 1..]
                        .iter()
                        .position(|&x| x == c || x == b'\n')
                        .filter(|&n| b[i + 1 + n] == c)
                        .ok_or_else(|| "syntax error, unterminated string".to_owned())?;
                    (Tok::Text(text[i + 1..i + 1 + end].to_owned()), end + 2)
                }
                b'0'..=b'9' => number(&text[i..])?,
                b'a'..=b'z' | b'A'..=b'Z' => {
                    let n = b[i..]
                        .iter()
                        .position(|&x| !(x.is_ascii_alphanumeric() || b"_.%:/-".contains(&x)))
                        .unwrap_or(b.len() - i);
                    let w = &text[i..i + n];
                    (word(w).unwrap_or_else(|| Tok::Name(w.to_owned())), n)
                }
                _ => {
                    let ch = text[i..].chars().next().unwrap_or('?');
                    return Err(format!("syntax error, unexpected character '{ch}'"));
                }
            }
        };
        out.push(tok);
        i += len;
    }
    Ok(out)
}

/// A number literal at the start of `s`: digits, an optional `.digits`, an
/// optional size suffix (K, M, ... Y, or KiB ... YiB: powers of 1024).
fn number(s: &str) -> Result<(Tok, usize), String> {
    let b = s.as_bytes();
    let mut n = b.iter().take_while(|x| x.is_ascii_digit()).count();
    if b.get(n) == Some(&b'.') && b.get(n + 1).is_some_and(u8::is_ascii_digit) {
        n += 1 + b[n + 1..].iter().take_while(|x| x.is_ascii_digit()).count();
    }
    let mut value: f64 = s[..n]
        .parse()
        .map_err(|_| format!("syntax error, bad number '{}'", &s[..n]))?;
    if let Some(p) = b
        .get(n)
        .and_then(|&x| b"KMGTPEZY".iter().position(|&u| u == x))
    {
        value *= 1024f64.powi(p as i32 + 1);
        n += 1;
        if s[n..].starts_with("iB") {
            n += 2;
        }
    }
    if b.get(n)
        .is_some_and(|x| x.is_ascii_alphanumeric() || *x == b'_')
    {
        return Err(format!("syntax error, bad number '{}'", word_at(s)));
    }
    Ok((Tok::Number(value), n))
}

fn word_at(s: &str) -> &str {
    let n = s
        .bytes()
        .position(|x| !(x.is_ascii_alphanumeric() || b"_.".contains(&x)))
        .unwrap_or(s.len());
    &s[..n]
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, String> {
        let mut left = self.primary()?;
        loop {
            match self.peek().cloned() {
                Some(Tok::Cmp(c)) => {
                    self.pos += 1;
                    left = Expr::Cmp(c, Box::new(left), Box::new(self.primary()?));
                }
                Some(Tok::Match(yes)) => {
                    self.pos += 1;
                    let pattern = match self.next() {
                        Some(Tok::Text(p)) => p,
                        other => return Err(syntax(other.as_ref())),
                    };
                    let re = Regex::new(&pattern)
                        .map_err(|e| format!("invalid regular expression '{pattern}': {e}"))
                        .map_err(|e| e.lines().next().unwrap_or_default().to_owned())?;
                    left = Expr::Match(Box::new(left), re, yes);
                }
                _ => return Ok(left),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Open) => {
                let e = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(e),
                    other => Err(syntax(other.as_ref())),
                }
            }
            Some(Tok::Not) => Ok(Expr::Not(Box::new(self.primary()?))),
            Some(Tok::Number(n)) => Ok(Expr::Param(Param::Number(n))),
            Some(Tok::Text(s)) => Ok(Expr::Param(Param::Text(s))),
            Some(Tok::Bool(b)) => Ok(Expr::Param(Param::Bool(b))),
            Some(Tok::Name(n)) => Ok(Expr::Param(Param::Holder(n, None))),
            other => Err(syntax(other.as_ref())),
        }
    }
}

impl Filter {
    /// Parses `text`; the error is what follows `failed to parse "TEXT": `.
    pub fn parse(text: &str) -> Result<Filter, String> {
        let mut p = Parser {
            toks: lex(text)?,
            pos: 0,
        };
        let expr = p.or()?;
        if let Some(t) = p.peek() {
            return Err(syntax(Some(t)));
        }
        Ok(Filter { expr })
    }

    /// Finds each column the filter names among `names` (any case). Unknown names
    /// are all returned, in the order they appear.
    pub fn bind(&self, names: &[&str]) -> Result<Bound, Vec<String>> {
        let mut unknown = Vec::new();
        let mut columns = Vec::new();
        let expr = bind(&self.expr, names, &mut unknown, &mut columns);
        if unknown.is_empty() {
            Ok(Bound { expr, columns })
        } else {
            Err(unknown)
        }
    }
}

fn bind(e: &Expr, names: &[&str], unknown: &mut Vec<String>, cols: &mut Vec<usize>) -> Expr {
    let mut b = |x: &Expr| Box::new(bind(x, names, unknown, cols));
    match e {
        Expr::Or(l, r) => Expr::Or(b(l), b(r)),
        Expr::And(l, r) => Expr::And(b(l), b(r)),
        Expr::Not(x) => Expr::Not(b(x)),
        Expr::Cmp(c, l, r) => Expr::Cmp(*c, b(l), b(r)),
        Expr::Match(x, re, yes) => Expr::Match(b(x), re.clone(), *yes),
        Expr::Param(Param::Holder(name, _)) => {
            let i = names.iter().position(|n| n.eq_ignore_ascii_case(name));
            match i {
                Some(i) if !cols.contains(&i) => cols.push(i),
                Some(_) => {}
                None => unknown.push(name.clone()),
            }
            Expr::Param(Param::Holder(name.clone(), i))
        }
        Expr::Param(p) => Expr::Param(p.clone()),
    }
}

/// A value as the evaluation sees it.
#[derive(Debug)]
enum Val {
    Number(f64),
    Text(String),
    Bool(bool),
    /// An empty cell of a column of numbers.
    Empty,
}

impl Val {
    fn truth(&self) -> bool {
        match self {
            Val::Number(n) => *n != 0.0,
            Val::Text(s) => !s.is_empty(),
            Val::Bool(b) => *b,
            Val::Empty => false,
        }
    }

    fn text(&self) -> String {
        match self {
            Val::Number(n) => format!("{n}"),
            Val::Text(s) => s.clone(),
            Val::Bool(b) => b.to_string(),
            Val::Empty => String::new(),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Val::Number(n) => Some(*n),
            Val::Text(s) => s.trim().parse().ok(),
            Val::Bool(b) => Some(f64::from(u8::from(*b))),
            Val::Empty => None,
        }
    }
}

/// One row's cells, by column index, and which columns hold numbers.
pub trait Row {
    /// The cell of column `i`.
    fn cell(&mut self, i: usize) -> String;
    /// Whether column `i` holds numbers.
    fn numeric(&self, i: usize) -> bool;
}

impl Bound {
    /// Whether the row passes.
    pub fn matches(&self, row: &mut dyn Row) -> bool {
        eval(&self.expr, row).truth()
    }
}

fn eval(e: &Expr, row: &mut dyn Row) -> Val {
    match e {
        Expr::Or(l, r) => Val::Bool(eval(l, row).truth() || eval(r, row).truth()),
        Expr::And(l, r) => Val::Bool(eval(l, row).truth() && eval(r, row).truth()),
        Expr::Not(x) => Val::Bool(!eval(x, row).truth()),
        Expr::Match(x, re, yes) => {
            let v = eval(x, row);
            Val::Bool(re.is_match(&v.text()) == *yes)
        }
        Expr::Cmp(c, l, r) => {
            let (a, b) = (eval(l, row), eval(r, row));
            Val::Bool(compare(*c, &a, &b))
        }
        Expr::Param(Param::Number(n)) => Val::Number(*n),
        Expr::Param(Param::Text(s)) => Val::Text(s.clone()),
        Expr::Param(Param::Bool(b)) => Val::Bool(*b),
        Expr::Param(Param::Holder(_, i)) => {
            let Some(i) = *i else { return Val::Empty };
            let cell = row.cell(i);
            if !row.numeric(i) {
                return Val::Text(cell);
            }
            match cell.trim().parse::<f64>() {
                Ok(n) => Val::Number(n),
                Err(_) if cell.is_empty() => Val::Empty,
                Err(_) => Val::Text(cell),
            }
        }
    }
}

fn compare(c: Cmp, a: &Val, b: &Val) -> bool {
    use std::cmp::Ordering;
    let order: Option<Ordering> = match (a, b) {
        (Val::Bool(_), _) | (_, Val::Bool(_)) => Some(a.truth().cmp(&b.truth())),
        (Val::Number(_), _) | (_, Val::Number(_)) | (Val::Empty, _) | (_, Val::Empty) => {
            match (a.number(), b.number()) {
                (Some(x), Some(y)) => x.partial_cmp(&y),
                _ => None,
            }
        }
        (Val::Text(x), Val::Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
    };
    match (c, order) {
        (Cmp::Ne, None) => true,
        (_, None) => false,
        (Cmp::Eq, Some(o)) => o == Ordering::Equal,
        (Cmp::Ne, Some(o)) => o != Ordering::Equal,
        (Cmp::Lt, Some(o)) => o == Ordering::Less,
        (Cmp::Le, Some(o)) => o != Ordering::Greater,
        (Cmp::Gt, Some(o)) => o == Ordering::Greater,
        (Cmp::Ge, Some(o)) => o != Ordering::Less,
    }
}

#[cfg(test)]
mod tests;
