//! Writes the man pages and shell completions of `nsjoin` and `nsls`, generated
//! from the same clap definitions that parse their command lines:
//! `nsjoin-docs DIR` → DIR/man1/{nsjoin.1,nsls.1},
//! DIR/completions/{nsjoin.bash,_nsjoin,nsjoin.fish,nsls.bash,_nsls,nsls.fish}.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;
use nsjoin_cli::args::Opts;
use nsjoin_cli::nsls_args::NslsOpts;

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
    for (name, mut cmd) in [("nsjoin", Opts::command()), ("nsls", NslsOpts::command())] {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
        std::fs::write(man_dir.join(format!("{name}.1")), page)?;
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            clap_complete::generate_to(shell, &mut cmd, name, &completions)?;
        }
    }
    Ok(())
}
