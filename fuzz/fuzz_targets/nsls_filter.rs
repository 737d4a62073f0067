#![no_main]
//! `nsls -Q EXPR`: the expression (up to the first NUL), bound to lsns's columns
//! and evaluated on a row whose cells are the rest of the input (NUL-separated).
use libfuzzer_sys::fuzz_target;
use nsjoin_cli::nsls::filter::{Filter, Row};

const COLUMNS: [&str; 13] = [
    "NS", "TYPE", "PATH", "NPROCS", "PID", "PPID", "COMMAND", "UID", "USER", "NETNSID",
    "NSFS", "PNS", "ONS",
];
const NUMERIC: [&str; 8] = ["NS", "NPROCS", "PID", "PPID", "UID", "NETNSID", "PNS", "ONS"];

struct Cells(Vec<String>);

impl Row for Cells {
    fn cell(&mut self, i: usize) -> String {
        self.0.get(i).cloned().unwrap_or_default()
    }
    fn numeric(&self, i: usize) -> bool {
        NUMERIC.contains(&COLUMNS[i])
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let Ok(text) = std::str::from_utf8(parts.next().unwrap_or_default()) else {
        return;
    };
    let Ok(filter) = Filter::parse(text) else {
        return;
    };
    let Ok(bound) = filter.bind(&COLUMNS) else {
        return;
    };
    let mut row = Cells(parts.map(|p| String::from_utf8_lossy(p).into_owned()).collect());
    let _ = bound.matches(&mut row);
});
