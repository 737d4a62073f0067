//! lsns' columns (names, width hints, flags, help) and `-o`'s column lists.

use super::Failure;
use crate::table::{Column, Format, JsonType, Output, Table};

/// The columns, in lsns' order, then nsls' own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
    /// NS
    Ns,
    /// TYPE
    Type,
    /// PATH
    Path,
    /// NPROCS
    Nprocs,
    /// PID
    Pid,
    /// PPID
    Ppid,
    /// COMMAND
    Command,
    /// UID
    Uid,
    /// USER
    User,
    /// NETNSID
    Netnsid,
    /// NSFS
    Nsfs,
    /// PNS
    Pns,
    /// ONS
    Ons,
    /// CONTAINER (nsls only)
    Container,
}

pub(super) struct Info {
    pub(super) col: Col,
    pub(super) name: &'static str,
    pub(super) whint: usize,
    pub(super) right: bool,
    pub(super) trunc: bool,
    pub(super) wrap: bool,
    pub(super) number: bool,
    help: &'static str,
}

const fn has(flags: &[u8], c: u8) -> bool {
    let mut i = 0;
    while i < flags.len() {
        if flags[i] == c {
            return true;
        }
        i += 1;
    }
    false
}

const fn info(col: Col, name: &'static str, whint: usize, flags: &str, help: &'static str) -> Info {
    let f = flags.as_bytes();
    Info {
        col,
        name,
        whint,
        right: has(f, b'R'),
        trunc: has(f, b'T'),
        wrap: has(f, b'W'),
        number: has(f, b'N'),
        help,
    }
}

/// lsns' `infos[]` (R right, T trunc, W wrap, N JSON number), plus CONTAINER.
pub(super) const INFOS: [Info; 14] = [
    info(
        Col::Ns,
        "NS",
        10,
        "RN",
        "namespace identifier (inode number)",
    ),
    info(Col::Type, "TYPE", 5, "", "kind of namespace"),
    info(Col::Path, "PATH", 0, "", "path to the namespace"),
    info(
        Col::Nprocs,
        "NPROCS",
        5,
        "RN",
        "number of processes in the namespace",
    ),
    info(Col::Pid, "PID", 5, "RN", "lowest PID in the namespace"),
    info(Col::Ppid, "PPID", 5, "RN", "PPID of the PID"),
    info(Col::Command, "COMMAND", 0, "T", "command line of the PID"),
    info(Col::Uid, "UID", 0, "RN", "UID of the PID"),
    info(Col::User, "USER", 0, "", "username of the PID"),
    info(
        Col::Netnsid,
        "NETNSID",
        0,
        "R",
        "namespace ID as used by network subsystem",
    ),
    info(
        Col::Nsfs,
        "NSFS",
        0,
        "W",
        "nsfs mountpoint (usually used network subsystem)",
    ),
    info(
        Col::Pns,
        "PNS",
        10,
        "RN",
        "parent namespace identifier (inode number)",
    ),
    info(
        Col::Ons,
        "ONS",
        10,
        "RN",
        "owner namespace identifier (inode number)",
    ),
    info(
        Col::Container,
        "CONTAINER",
        0,
        "",
        "container owning the namespace (ENGINE://ID)",
    ),
];

pub(super) fn info_of(col: Col) -> &'static Info {
    INFOS
        .iter()
        .find(|i| i.col == col)
        .expect("every column has an info")
}

/// The -H listing: every column, its JSON type and description.
pub fn list_columns(raw: bool, json: bool, output: Output) -> String {
    let col = |name: &str, right: bool| Column {
        name: name.into(),
        whint: 0,
        right,
        trunc: false,
        tree: false,
        wrap_nl: false,
        json: JsonType::String,
    };
    let format = Format::of(json, raw);
    let mut t = Table::new(
        "lsns-columns",
        vec![
            col("HOLDER", true),
            col("TYPE", false),
            col("DESCRIPTION", false),
        ],
        format,
        true,
    );
    for i in &INFOS {
        let l = t.new_line(None);
        t.set(l, 0, i.name.into());
        t.set(l, 1, if i.number { "<integer>" } else { "<string>" }.into());
        t.set(l, 2, i.help.into());
    }
    t.render(output)
}

/// string_add_to_idarray(): `-o LIST` replaces the columns, `-o +LIST` appends.
pub(super) fn add_columns(columns: &mut Vec<Col>, list: &str) -> Result<(), Failure> {
    let silent = || Failure(String::new());
    if list.is_empty() {
        return Err(silent());
    }
    let list = match list.strip_prefix('+') {
        Some(rest) => rest,
        None => {
            columns.clear();
            list
        }
    };
    if list.is_empty() {
        return Err(silent());
    }
    let max = INFOS.len() * 2;
    let bytes = list.as_bytes();
    let mut begin: Option<usize> = None;
    for p in 0..bytes.len() {
        if columns.len() >= max {
            return Err(silent());
        }
        let b = *begin.get_or_insert(p);
        let mut end = None;
        if bytes[p] == b',' {
            end = Some(p);
        }
        if p + 1 == bytes.len() {
            end = Some(p + 1);
        }
        let Some(end) = end else { continue };
        if end <= b {
            return Err(silent());
        }
        let name = &list[b..end];
        match INFOS.iter().find(|i| i.name.eq_ignore_ascii_case(name)) {
            Some(i) => columns.push(i.col),
            // lsns prints the rest of the list from the unknown name on.
            None => return Err(Failure(format!("unknown column: {}", &list[b..]))),
        }
        begin = None;
        if end == bytes.len() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lists_like_string_add_to_idarray() {
        let mut cols = vec![Col::Ns];
        add_columns(&mut cols, "+pns,ONS").unwrap();
        assert_eq!(cols, [Col::Ns, Col::Pns, Col::Ons]);
        add_columns(&mut cols, "type").unwrap();
        assert_eq!(cols, [Col::Type]);
        assert_eq!(
            add_columns(&mut cols, "FOO,TYPE").unwrap_err().0,
            "unknown column: FOO,TYPE"
        );
        assert_eq!(
            add_columns(&mut cols, "NS,").unwrap_err().0,
            "unknown column: NS,"
        );
        assert_eq!(add_columns(&mut cols, "NS,,TYPE").unwrap_err().0, "");
        assert_eq!(add_columns(&mut cols, "").unwrap_err().0, "");
    }

    #[test]
    fn column_list_is_lsns_plus_container() {
        let out = list_columns(
            false,
            false,
            Output {
                term_width: None,
                utf8: true,
            },
        );
        assert!(out.starts_with("       NS <integer> namespace identifier (inode number)\n"));
        assert!(out.contains("CONTAINER <string>  container owning"));
        assert_eq!(out.lines().count(), 14);
    }
}
