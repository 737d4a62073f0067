//! getopt_long's reading of argv, with a clap definition as its option table.
//!
//! clap holds both commands' definitions (help, man page, completions) but reads
//! argv by its own rules. [`getopt`] reads it by glibc's: long options matched
//! exactly or by a unique prefix, short options clustered (`-at42`), required
//! arguments attached or in the next word, optional arguments only attached
//! (`--net=FILE`, `-nFILE`), `--` ending the options; either in `+` mode (options
//! end at the first operand) or permuting (options and operands mixed). Each
//! command acts on the [`Item`]s in argv order and hands clap the normalized form
//! [`long_arg`] writes, which clap reads unambiguously.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use clap::ArgAction;

/// Takes-an-argument, as in getopt's option table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Takes {
    /// `no_argument`.
    Nothing,
    /// `required_argument`: attached, or the next word.
    Value,
    /// `optional_argument`: attached only.
    OptionalValue,
}

/// One row of getopt's option table.
#[derive(Debug, PartialEq, Eq)]
pub struct OptSpec {
    /// The long name, which is also clap's.
    pub long: String,
    /// The short option, if any.
    pub short: Option<char>,
    /// Whether it takes an argument.
    pub takes: Takes,
}

/// The option table of a built clap command (`cmd.build()`, so that `--help` and
/// `--version` are in it), in clap's order: the order getopt lists ambiguous
/// possibilities in. Arguments without a long name (operands) are left out.
pub fn option_table(cmd: &clap::Command) -> Vec<OptSpec> {
    cmd.get_arguments()
        .filter_map(|arg| {
            let takes = match arg.get_action() {
                ArgAction::Set | ArgAction::Append => {
                    if arg.get_num_args().is_some_and(|n| n.min_values() == 0) {
                        Takes::OptionalValue
                    } else {
                        Takes::Value
                    }
                }
                _ => Takes::Nothing,
            };
            Some(OptSpec {
                long: arg.get_long()?.to_owned(),
                short: arg.get_short(),
                takes,
            })
        })
        .collect()
}

/// What getopt returns, one at a time, in argv order.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'t> {
    /// An option (however it was spelled) and its argument.
    Opt(&'t OptSpec, Option<OsString>),
    /// A non-option argument.
    Operand(OsString),
    /// getopt's complaint, in its words; always the last item.
    Error(String),
}

/// Reads `args` (`args[0]` being the program name) as getopt_long does: with
/// `permute`, operands are collected and options read on after them; without
/// (`+` mode), the first operand and all after it are operands. Everything after
/// `--` is an operand. The items stop at the first error.
pub fn getopt<'t>(table: &'t [OptSpec], args: &[OsString], permute: bool) -> Vec<Item<'t>> {
    let mut items = Vec::new();
    if let Err(e) = walk(table, args, permute, &mut items) {
        items.push(Item::Error(e));
    }
    items
}

fn walk<'t>(
    table: &'t [OptSpec],
    args: &[OsString],
    permute: bool,
    items: &mut Vec<Item<'t>>,
) -> Result<(), String> {
    let mut i = 1;
    // The next word, as a required argument.
    let next = |i: &mut usize| {
        *i += 1;
        args.get(*i).map(|a| a.as_bytes())
    };
    while i < args.len() {
        let arg = args[i].as_bytes();
        if arg == b"--" {
            i += 1;
            break;
        }
        if let Some(body) = arg.strip_prefix(b"--") {
            let mut parts = body.splitn(2, |&b| b == b'=');
            let (name, attached) = (parts.next().unwrap_or_default(), parts.next());
            let spec = find_long(table, name, body)?;
            let long = &spec.long;
            let value = match (spec.takes, attached) {
                (Takes::Nothing, Some(_)) => {
                    return Err(format!("option '--{long}' doesn't allow an argument"));
                }
                (Takes::Value, None) => Some(
                    next(&mut i)
                        .ok_or_else(|| format!("option '--{long}' requires an argument"))?,
                ),
                _ => attached,
            };
            items.push(Item::Opt(spec, value.map(os)));
        } else if arg.len() > 1 && arg[0] == b'-' {
            for (j, &c) in arg.iter().enumerate().skip(1) {
                let c = char::from(c);
                let spec = table
                    .iter()
                    .find(|s| s.short == Some(c))
                    .ok_or_else(|| format!("invalid option -- '{}'", typed(&arg[j..])))?;
                let rest = &arg[j + 1..];
                let value = match spec.takes {
                    Takes::Nothing => {
                        items.push(Item::Opt(spec, None));
                        continue;
                    }
                    Takes::OptionalValue => (!rest.is_empty()).then_some(rest),
                    Takes::Value if !rest.is_empty() => Some(rest),
                    Takes::Value => Some(
                        next(&mut i)
                            .ok_or_else(|| format!("option requires an argument -- '{c}'"))?,
                    ),
                };
                items.push(Item::Opt(spec, value.map(os)));
                break;
            }
        } else if permute {
            items.push(Item::Operand(args[i].clone()));
        } else {
            break;
        }
        i += 1;
    }
    items.extend(args.iter().skip(i).cloned().map(Item::Operand));
    Ok(())
}

/// The option `--name` stands for (`arg`: all after the `--`, for the messages):
/// the one so named, else the only one whose name starts with it.
fn find_long<'t>(table: &'t [OptSpec], name: &[u8], arg: &[u8]) -> Result<&'t OptSpec, String> {
    let (name, arg) = (String::from_utf8_lossy(name), String::from_utf8_lossy(arg));
    if let Some(exact) = table.iter().find(|s| s.long == name) {
        return Ok(exact);
    }
    let matches: Vec<_> = table
        .iter()
        .filter(|s| !name.is_empty() && s.long.starts_with(&*name))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("unrecognized option '--{arg}'")),
        many => {
            let list: String = many.iter().map(|s| format!(" '--{}'", s.long)).collect();
            Err(format!(
                "option '--{arg}' is ambiguous; possibilities:{list}"
            ))
        }
    }
}

/// The character a bad short option starts with: as typed where argv is UTF-8,
/// else its byte.
fn typed(at: &[u8]) -> char {
    let valid = at.utf8_chunks().next().map(|chunk| chunk.valid());
    valid
        .and_then(|s| s.chars().next())
        .unwrap_or(char::from(at[0]))
}

fn os(bytes: &[u8]) -> OsString {
    OsStr::from_bytes(bytes).to_owned()
}

/// An option in the form clap is given: `--long` or `--long=value`.
pub fn long_arg(long: &str, value: Option<&OsStr>) -> OsString {
    let mut out = format!("--{long}").into_bytes();
    if let Some(v) = value {
        out.push(b'=');
        out.extend_from_slice(v.as_bytes());
    }
    OsString::from_vec(out)
}

/// A clap error as one line, for the getopt-style message.
pub fn clap_error(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let line = text.lines().next().unwrap_or("invalid arguments");
    line.trim_start_matches("error: ").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Takes::*;

    /// The items for `args` (split at spaces), written as `--long[=value]`,
    /// `operand` or `!error`, bytes outside ASCII escaped.
    fn read(permute: bool, args: &[u8]) -> String {
        let table = [
            ("all", Some('a'), Nothing),
            ("target", Some('t'), Value),
            ("net", Some('n'), OptionalValue),
            ("user", Some('U'), OptionalValue),
            ("user-parent", None, Nothing),
            ("uts", Some('u'), OptionalValue),
        ]
        .map(|(long, short, takes)| OptSpec {
            long: long.into(),
            short,
            takes,
        });
        let argv: Vec<OsString> = [&b"prog"[..]]
            .into_iter()
            .chain(args.split(|&b| b == b' '))
            .map(os)
            .collect();
        let items = getopt(&table, &argv, permute)
            .into_iter()
            .map(|item| match item {
                Item::Opt(spec, v) => long_arg(&spec.long, v.as_deref())
                    .as_bytes()
                    .escape_ascii()
                    .to_string(),
                Item::Operand(a) => a.as_bytes().escape_ascii().to_string(),
                Item::Error(e) => format!("!{e}"),
            });
        items.collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn plus_mode_stops_at_the_first_operand() {
        assert_eq!(read(false, b"-a prog -t 1 --all"), "--all prog -t 1 --all");
        assert_eq!(read(false, b"- -a"), "- -a");
    }

    #[test]
    fn permuting_mode_reads_options_after_operands() {
        let got = read(true, b"x -a y --target 1 - z");
        assert_eq!(got, "x --all y --target=1 - z");
    }

    #[test]
    fn double_dash_ends_options_in_both_modes() {
        assert_eq!(read(false, b"-a -- -t -- x"), "--all -t -- x");
        assert_eq!(read(true, b"-a -- -t -- x"), "--all -t -- x");
        assert_eq!(read(true, b"x -- -a"), "x -a");
    }

    #[test]
    fn long_options_match_exactly_or_by_unique_prefix() {
        assert_eq!(read(true, b"--tar=1 --ta 2"), "--target=1 --target=2");
        // An exact name wins over the longer ones it is a prefix of.
        assert_eq!(read(true, b"--user --user-"), "--user --user-parent");
        let ambiguous =
            "!option '--u=x' is ambiguous; possibilities: '--user' '--user-parent' '--uts'";
        assert_eq!(read(true, b"--u=x"), ambiguous);
        let unknown = "--all !unrecognized option '--bogus=1'";
        assert_eq!(read(true, b"-a --bogus=1 -a"), unknown);
        assert_eq!(read(true, b"--="), "!unrecognized option '--='");
    }

    #[test]
    fn long_option_arguments() {
        assert_eq!(
            read(true, b"--net x --net= --net=x=y"),
            "--net x --net= --net=x=y"
        );
        assert_eq!(read(true, b"--target --all"), "--target=--all");
        let refused = "!option '--all' doesn't allow an argument";
        assert_eq!(read(true, b"--al=1"), refused);
        let missing = "--all !option '--target' requires an argument";
        assert_eq!(read(false, b"-a --tar"), missing);
    }

    #[test]
    fn short_clusters_split_like_getopt() {
        assert_eq!(
            read(true, b"-aat42 -at -n"),
            "--all --all --target=42 --all --target=-n"
        );
        // Optional arguments: the rest of the word, never the next one.
        assert_eq!(read(true, b"-anu -u x"), "--all --net=u --uts x");
        assert_eq!(read(true, b"-a -ax"), "--all --all !invalid option -- 'x'");
        let missing = "--all !option requires an argument -- 't'";
        assert_eq!(read(false, b"-at"), missing);
        // A bad option is named as typed, or by its byte where argv is not UTF-8.
        assert_eq!(read(true, "-aé".as_bytes()), "--all !invalid option -- 'é'");
        assert_eq!(read(true, b"-\xff"), "!invalid option -- '\u{ff}'");
        // Values keep their bytes.
        assert_eq!(
            read(false, b"-n\xff/x -t \xfe"),
            r"--net=\xff/x --target=\xfe"
        );
    }
}
