//! `nsls`'s command line: util-linux lsns' options, read by getopt_long's rules.
//!
//! As in [`crate::args`], clap holds the definition (help text, option table) and
//! reads a normalized argv. [`crate::getopt`] walks argv as GNU getopt_long does,
//! permuting (options and operands may be mixed, `--` ends options, long options
//! may be abbreviated, `-T` takes its value only attached), and [`parse`] makes,
//! in argv order, the checks lsns makes while it reads options, so that the first
//! error reported is lsns' first error: mutually exclusive options, `-t` and `-T`
//! values, `-p`'s number, and `-H`/`-h`/`-V` that end parsing where they stand.

use std::ffi::{OsStr, OsString};

use clap::{ArgAction, CommandFactory, Parser};
use nsjoin::Kind;

use super::filter::Filter;
use crate::getopt::{self, Item, OptSpec};

/// List system namespaces.
///
/// Like util-linux lsns: the same options, columns and output formats, plus a
/// CONTAINER column (-c, or -o +CONTAINER), and namespaces held only by bind
/// mounts, open fds or sockets.
#[derive(Parser, Debug, Default)]
#[command(
    name = "nsls",
    version,
    override_usage = "nsls [options] [<namespace>]",
    args_override_self = true,
    after_help = "Every row can be entered with nsjoin: `nsjoin --net=PATH ...` with the \
                  PATH column, or `nsjoin -t PID -a ...` with the PID column. \
                  Exit status: 0 on success, 1 on errors."
)]
pub struct NslsOpts {
    /// Use JSON output format
    #[arg(short = 'J', long)]
    pub json: bool,

    /// Use list format output
    #[arg(short = 'l', long)]
    pub list: bool,

    /// Don't print headings
    #[arg(short = 'n', long)]
    pub noheadings: bool,

    /// Define which output columns to use (+LIST appends to the defaults)
    #[arg(short = 'o', long, value_name = "list")]
    pub output: Option<String>,

    /// Output all columns
    #[arg(long = "output-all")]
    pub output_all: bool,

    /// Namespaces without processes
    #[arg(short = 'P', long)]
    pub persistent: bool,

    /// Apply display filter (lsns' expression language, see scols-filter(5))
    #[arg(short = 'Q', long, value_name = "expr")]
    pub filter: Option<String>,

    /// Add a CONTAINER column: the container target (docker://NAME, ...) of each row
    #[arg(short = 'c', long)]
    pub containers: bool,

    /// Print process namespaces
    #[arg(short = 'p', long = "task", value_name = "pid")]
    pub task: Option<String>,

    /// Use the raw output format
    #[arg(short = 'r', long)]
    pub raw: bool,

    /// Don't truncate text in columns
    #[arg(short = 'u', long)]
    pub notruncate: bool,

    /// Don't use multi-line representation
    #[arg(short = 'W', long)]
    pub nowrap: bool,

    /// Namespace type (mnt, net, ipc, user, pid, uts, cgroup, time)
    #[arg(short = 't', long = "type", value_name = "name", action = ArgAction::Append)]
    pub types: Vec<String>,

    /// Use tree format (parent, owner, or process)
    #[arg(
        short = 'T',
        long,
        value_name = "rel",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "owner"
    )]
    pub tree: Option<String>,

    /// List the available columns
    #[arg(short = 'H', long = "list-columns")]
    pub list_columns: bool,

    /// A namespace (inode number): list its processes
    #[arg(value_name = "namespace", allow_hyphen_values = true)]
    pub namespace: Vec<String>,
}

/// How to show relations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tree {
    /// A flat list.
    None,
    /// Processes under their parent process.
    Process,
    /// Namespaces under their owner user namespace.
    Owner,
    /// Pid and user namespaces under their parent.
    Parent,
}

/// What parsing the command line led to.
#[derive(Debug)]
pub enum Parsed {
    /// Options to act on.
    Run(Box<Config>),
    /// `--help` or `--version`: print this on stdout and exit 0.
    Print(String),
    /// `-H`: list the columns, in this format.
    ListColumns {
        /// `-r` came before it.
        raw: bool,
        /// `-J` came before it.
        json: bool,
    },
}

/// An error and how lsns reports it.
#[derive(Debug, PartialEq, Eq)]
pub enum UsageError {
    /// getopt's complaint: printed with "Try 'nsls --help'...".
    Getopt(String),
    /// lsns' own message (`unknown namespace type: x`).
    Message(String),
}

/// The options, interpreted as lsns interprets them.
#[derive(Debug)]
pub struct Config {
    /// The clap-parsed options.
    pub opts: NslsOpts,
    /// `-t` kinds (empty: all).
    pub kinds: Vec<Kind>,
    /// `-T`, or its default.
    pub tree: Tree,
    /// `-p`.
    pub task: Option<i32>,
    /// The `<namespace>` argument.
    pub namespace: Option<u64>,
    /// `-Q`, parsed (the last one given).
    pub filter: Option<Filter>,
}

/// lsns' `excl[]` as err_exclusive_options() walks it: groups in ASCII order, each
/// scanned only while its members sort at or below the option. (lsns lists
/// `{'l','T'}` out of ASCII order, so `-l` and `-T` are never refused together.)
const EXCLUSIVE: [&[char]; 3] = [&['J', 'r'], &['P', 'p'], &['l', 'T']];

struct Exclusive([Option<char>; 3]);

impl Exclusive {
    fn check(&mut self, c: char, table: &[OptSpec]) -> Result<(), UsageError> {
        for (e, group) in EXCLUSIVE.iter().enumerate() {
            if group[0] > c {
                break;
            }
            for &op in group.iter() {
                if op > c {
                    break;
                }
                if op != c {
                    continue;
                }
                match self.0[e] {
                    None => self.0[e] = Some(c),
                    Some(seen) if seen != c => {
                        let names: Vec<String> = group
                            .iter()
                            .map(|o| match table.iter().find(|s| s.short == Some(*o)) {
                                Some(s) => format!("--{}", s.long),
                                None => format!("-{o}"),
                            })
                            .collect();
                        return Err(UsageError::Message(format!(
                            "mutually exclusive arguments: {}",
                            names.join(" ")
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }
}

/// The value lsns' strtos32_or_err() accepts.
pub fn parse_s32(s: &str) -> Option<i32> {
    let v = parse_c_integer(s)?;
    i32::try_from(v).ok()
}

/// The value lsns' strtou64_or_err() accepts (negative numbers refused).
pub fn parse_u64(s: &str) -> Option<u64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    if t.starts_with('-') {
        return None;
    }
    t.strip_prefix('+')
        .unwrap_or(t)
        .parse()
        .ok()
        .filter(|_| !t.is_empty())
}

/// strtoimax(s, &end, 10) with the whole string consumed.
fn parse_c_integer(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

fn tree_value(v: &str) -> Result<Tree, UsageError> {
    let v = v.strip_prefix('=').unwrap_or(v);
    match v {
        "owner" => Ok(Tree::Owner),
        "parent" => Ok(Tree::Parent),
        "process" => Ok(Tree::Process),
        _ => Err(UsageError::Message(format!("unknown tree type: {v}"))),
    }
}

/// Parses argv as lsns would: getopt_long("JlPp:o:nruhVt:T::WQ:H", and nsls' -c) with
/// permutation, each option acted on as getopt returns it.
pub fn parse(args: &[OsString]) -> Result<Parsed, UsageError> {
    let mut cmd = NslsOpts::command();
    cmd.build();
    let table = getopt::option_table(&cmd);
    // As text (invalid UTF-8 as U+FFFD): the values are Strings, and a bad short
    // option is named as the character typed.
    let args: Vec<OsString> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned().into())
        .collect();
    let mut excl = Exclusive([None; 3]);
    let (mut raw, mut json) = (false, false);
    let mut filter = None;
    let mut normalized: Vec<OsString> = vec!["nsls".into()];
    let mut operands = Vec::new();
    for item in getopt::getopt(&table, &args, true) {
        let (spec, value) = match item {
            Item::Opt(spec, value) => (spec, value),
            Item::Operand(arg) => {
                operands.push(arg);
                continue;
            }
            Item::Error(e) => return Err(UsageError::Getopt(e)),
        };
        excl.check(spec.short.unwrap_or('\0'), &table)?;
        let text = value.as_deref().map(OsStr::to_string_lossy);
        let v = text.as_deref().unwrap_or_default();
        match spec.long.as_str() {
            "json" => json = true,
            "raw" => raw = true,
            // lsns' names only: no "mount" alias.
            "type" if !Kind::ALL.iter().any(|k| k.name() == v) => {
                return Err(UsageError::Message(format!("unknown namespace type: {v}")));
            }
            "task" if parse_s32(v).is_none() => {
                return Err(UsageError::Message(format!("invalid PID argument: '{v}'")));
            }
            "tree" if text.is_some() => {
                tree_value(v)?;
            }
            "filter" => {
                filter = Some(Filter::parse(v).map_err(|why| {
                    UsageError::Message(format!("failed to parse \"{v}\": {why}"))
                })?);
            }
            "list-columns" => return Ok(Parsed::ListColumns { raw, json }),
            "help" => return Ok(Parsed::Print(cmd.render_help().to_string())),
            "version" => {
                let version = format!("nsls from nsjoin {}\n", env!("CARGO_PKG_VERSION"));
                return Ok(Parsed::Print(version));
            }
            _ => {}
        }
        normalized.push(getopt::long_arg(&spec.long, value.as_deref()));
    }
    normalized.push("--".into());
    normalized.extend(operands);
    let opts = NslsOpts::try_parse_from(&normalized)
        .map_err(|e| UsageError::Getopt(getopt::clap_error(&e)))?;
    let kinds = opts
        .types
        .iter()
        .filter_map(|t| t.parse::<Kind>().ok())
        .collect();
    let task = opts.task.as_deref().and_then(parse_s32);
    let mut tree = match opts.tree.as_deref() {
        Some(v) => tree_value(v)?,
        None => Tree::None,
    };
    let mut namespace = None;
    if let Some(ns) = opts.namespace.first() {
        if task.is_some() {
            return Err(UsageError::Message(
                "--task is mutually exclusive with <namespace>".into(),
            ));
        }
        namespace =
            Some(parse_u64(ns).ok_or_else(|| {
                UsageError::Message(format!("invalid namespace argument: '{ns}'"))
            })?);
    }
    // lsns makes the process tree the default only where it picks the columns.
    if tree == Tree::None && !opts.list && !opts.output_all {
        tree = Tree::Process;
    }
    Ok(Parsed::Run(Box::new(Config {
        opts,
        kinds,
        tree,
        task,
        namespace,
        filter,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Config, UsageError> {
        let argv: Vec<OsString> = std::iter::once("nsls")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        match parse(&argv)? {
            Parsed::Run(c) => Ok(*c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn options_and_operands_mix_like_getopt() {
        let c = run(&["4026531836", "-l", "-tnet", "--type", "pid", "-Tparent"]).unwrap();
        assert_eq!(c.namespace, Some(4026531836));
        assert_eq!(c.kinds, [Kind::Net, Kind::Pid]);
        assert_eq!(c.tree, Tree::Parent);
        assert!(c.opts.list);
        let c = run(&["--tr", "--output=+PNS", "-p", "42"]).unwrap();
        assert_eq!((c.tree, c.task), (Tree::Owner, Some(42)));
        assert_eq!(c.opts.output.as_deref(), Some("+PNS"));
        assert_eq!(run(&["-l"]).unwrap().tree, Tree::None);
        assert_eq!(run(&[]).unwrap().tree, Tree::Process);
    }

    #[test]
    fn errors_come_in_argv_order() {
        let err = |a: &[&str]| run(a).unwrap_err();
        assert_eq!(
            err(&["-x"]),
            UsageError::Getopt("invalid option -- 'x'".into())
        );
        assert_eq!(
            err(&["-t", "foo", "-x"]),
            UsageError::Message("unknown namespace type: foo".into())
        );
        assert_eq!(
            err(&["-J", "-r"]),
            UsageError::Message("mutually exclusive arguments: --json --raw".into())
        );
        assert_eq!(
            err(&["-p", "1", "-P"]),
            UsageError::Message("mutually exclusive arguments: --persistent --task".into())
        );
        assert!(run(&["-l", "-T"]).is_ok());
        assert_eq!(
            err(&["-T", "bad"]),
            UsageError::Message("invalid namespace argument: 'bad'".into())
        );
        assert_eq!(
            err(&["--tree=bad"]),
            UsageError::Message("unknown tree type: bad".into())
        );
        assert_eq!(
            err(&["-p", "abc"]),
            UsageError::Message("invalid PID argument: 'abc'".into())
        );
        assert_eq!(
            err(&["-p", "1", "12"]),
            UsageError::Message("--task is mutually exclusive with <namespace>".into())
        );
        assert_eq!(
            err(&["--t"]),
            UsageError::Getopt(
                "option '--t' is ambiguous; possibilities: '--task' '--type' '--tree'".into()
            )
        );
        assert_eq!(
            err(&["--json=1"]),
            UsageError::Getopt("option '--json' doesn't allow an argument".into())
        );
        assert_eq!(
            err(&["-o"]),
            UsageError::Getopt("option requires an argument -- 'o'".into())
        );
    }

    #[test]
    fn numbers_like_strtol() {
        assert_eq!(parse_s32(" 42"), Some(42));
        assert_eq!(parse_s32("+7"), Some(7));
        assert_eq!(parse_s32("-3"), Some(-3));
        assert_eq!(parse_s32("4x"), None);
        assert_eq!(parse_s32(""), None);
        assert_eq!(parse_s32("99999999999"), None);
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_u64("4026531836"), Some(4026531836));
    }
}
