//! The man page and completions are generated from the parser's own definition:
//! every option `nsjoin --help` lists must appear in each of them.

use std::process::Command;

fn long_options_in_help() -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_nsjoin"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let mut longs: Vec<String> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_owned()
        })
        .collect();
    longs.sort();
    longs.dedup();
    longs
}

#[test]
fn man_page_and_completions_cover_every_option_of_help() {
    let dir = std::env::temp_dir().join(format!("nsjoin-docs-test-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_nsjoin-docs"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let longs = long_options_in_help();
    for wanted in [
        "--all",
        "--target",
        "--net-socket",
        "--user-parent",
        "--keep-caps",
        "--wdns",
        "--follow-context",
    ] {
        assert!(
            longs.iter().any(|l| l == wanted),
            "--help lacks {wanted}: {longs:?}"
        );
    }
    let man = std::fs::read_to_string(dir.join("man1/nsjoin.1")).unwrap();
    let bash = std::fs::read_to_string(dir.join("completions/nsjoin.bash")).unwrap();
    let fish = std::fs::read_to_string(dir.join("completions/nsjoin.fish")).unwrap();
    for long in &longs {
        // roff escapes '-' as '\-'.
        assert!(
            man.contains(&long.replace('-', "\\-")),
            "man page lacks {long}"
        );
        assert!(bash.contains(long.as_str()), "bash completion lacks {long}");
        assert!(
            fish.contains(&format!("-l {}", &long[2..])),
            "fish completion lacks {long}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_are_one_line_and_exit_1() {
    for args in [
        &["-x"][..],
        &["--nope"],
        &["-t"],
        &["-t1", "-t2", "-n"],
        &["--all=1"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_nsjoin"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("nsjoin: "), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
