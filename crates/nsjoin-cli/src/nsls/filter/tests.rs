//! The filter language, expression by expression (no root needed).

use super::*;

const NAMES: [&str; 5] = ["NS", "TYPE", "NPROCS", "USER", "MAJ:MIN"];

struct R(Vec<&'static str>);

impl Row for R {
    fn cell(&mut self, i: usize) -> String {
        self.0[i].to_owned()
    }
    fn numeric(&self, i: usize) -> bool {
        matches!(i, 0 | 2)
    }
}

fn check(expr: &str, row: &[&'static str]) -> bool {
    let f = Filter::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    let b = f.bind(&NAMES).unwrap_or_else(|e| panic!("{expr}: {e:?}"));
    b.matches(&mut R(row.to_vec()))
}

const NET: [&str; 5] = ["4026531840", "net", "12", "root", "8:1"];
const UTS: [&str; 5] = ["4026532200", "uts", "1", "alice", ""];

#[test]
fn comparisons_symbols_and_words() {
    assert!(check(r#"TYPE == "net""#, &NET));
    assert!(!check(r#"TYPE == "net""#, &UTS));
    assert!(check(r#"TYPE eq 'net' AND NPROCS gt 1"#, &NET));
    assert!(check("NPROCS > 1 && NPROCS >= 12 && NPROCS <= 12", &NET));
    assert!(check("NPROCS < 2 and NPROCS lt 2 and NPROCS le 1", &UTS));
    assert!(check("NPROCS != 3 && NPROCS ne 3 && NPROCS GE 1", &UTS));
    assert!(check("NS == 4026531840", &NET));
    // A numeric column compares as numbers: 12 > 9, though "12" < "9".
    assert!(check("NPROCS > 9", &NET));
    // Strings compare as text.
    assert!(check(r#"USER < "bob""#, &UTS));
}

#[test]
fn logic_binds_or_loosest_then_and_then_not() {
    assert!(check(
        r#"TYPE == "uts" || TYPE == "net" && NPROCS > 1"#,
        &NET
    ));
    assert!(check(
        r#"TYPE == "uts" || TYPE == "net" && NPROCS > 1"#,
        &UTS
    ));
    assert!(!check(
        r#"(TYPE == "uts" || TYPE == "net") && NPROCS > 1"#,
        &UTS
    ));
    assert!(check(r#"!TYPE == "net""#, &UTS));
    assert!(!check(r#"NOT TYPE == "net""#, &NET));
    assert!(check(r#"not (TYPE == "net" or USER == "root")"#, &UTS));
    assert!(check(r#"!(NPROCS > 1)"#, &UTS));
}

#[test]
fn regex_numbers_booleans_and_holders() {
    assert!(check(r#"USER =~ "^al""#, &UTS));
    assert!(!check(r#"USER =~ "^al""#, &NET));
    assert!(check(r#"USER !~ "o+t$""#, &UTS));
    assert!(check("NPROCS < 1K && NPROCS < 1KiB && NPROCS > 0.5", &NET));
    assert!(check("true", &NET) && !check("FALSE", &NET));
    assert!(check("TYPE && NPROCS", &NET));
    // An empty cell is false alone, equal to no number.
    assert!(check("!MAJ:MIN", &UTS));
    assert!(check(r#"maj:min == "8:1""#, &NET));
    assert!(!check("NPROCS > FALSE && USER == 1", &UTS));
}

#[test]
fn bad_expressions_are_refused_with_a_reason() {
    let err = |e: &str| Filter::parse(e).unwrap_err();
    assert_eq!(err("TYPE =="), "syntax error, unexpected end of expression");
    assert_eq!(err("(TYPE"), "syntax error, unexpected end of expression");
    assert_eq!(err("TYPE )"), "syntax error, unexpected ')'");
    assert_eq!(err("&& TYPE"), "syntax error, unexpected AND");
    assert_eq!(err(r#"TYPE == "net"#), "syntax error, unterminated string");
    assert_eq!(err("TYPE = 1"), "syntax error, unexpected character '='");
    assert_eq!(err("TYPE =~ USER"), "syntax error, unexpected holder");
    assert_eq!(err("NPROCS > 12x"), "syntax error, bad number '12x'");
    assert!(err(r#"USER =~ "(""#).starts_with("invalid regular expression '(': "));
    assert_eq!(
        Filter::parse("FOO == 1 || TYPE || bar")
            .unwrap()
            .bind(&NAMES)
            .unwrap_err(),
        ["FOO", "bar"]
    );
}
