//! Writes the man page and shell completions of `nsjoin`, generated from the
//! same clap definition that parses its command line:
//! `nsjoin-docs DIR` → DIR/man1/nsjoin.1, DIR/completions/{nsjoin.bash,_nsjoin,nsjoin.fish}.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;
use nsjoin_cli::args::Opts;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: nsjoin-docs DIR");
        return ExitCode::FAILURE;
    };
    match write(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nsjoin-docs: {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

fn write(dir: &std::path::Path) -> std::io::Result<()> {
    let man_dir = dir.join("man1");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man_dir)?;
    std::fs::create_dir_all(&completions)?;
    let mut page = Vec::new();
    clap_mangen::Man::new(Opts::command()).render(&mut page)?;
    std::fs::write(man_dir.join("nsjoin.1"), page)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut Opts::command(), "nsjoin", &completions)?;
    }
    Ok(())
}
