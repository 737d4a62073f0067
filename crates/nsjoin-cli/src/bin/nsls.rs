//! `nsls`: list namespaces like util-linux lsns, with container names and the
//! namespaces held only by bind mounts, fds or sockets. See `nsls --help`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use nsjoin_cli::nsls::{self, Failure};
use nsjoin_cli::nsls_args::{self, Parsed, UsageError};
use nsjoin_cli::table::Output;

fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    let text = match nsls_args::parse(&argv) {
        Ok(Parsed::Print(text)) => text,
        Ok(Parsed::ListColumns { raw, json }) => nsls::list_columns(raw, json, output(false)),
        Ok(Parsed::Run(cfg)) => {
            let human = !cfg.opts.json && !cfg.opts.raw;
            match nsls::run(&cfg, output(human)) {
                Ok(text) => text,
                Err(Failure(msg)) => {
                    if !msg.is_empty() {
                        eprintln!("nsls: {msg}");
                    }
                    return ExitCode::FAILURE;
                }
            }
        }
        Err(UsageError::Getopt(msg)) => {
            eprintln!("nsls: {msg}\nTry 'nsls --help' for more information.");
            return ExitCode::FAILURE;
        }
        Err(UsageError::Message(msg)) => {
            eprintln!("nsls: {msg}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`nsls | head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nsls: write error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// libsmartcols' view of the terminal: its width (TIOCGWINSZ on stdout, else
/// $COLUMNS, else 80) when stdout is one and the table is for humans, and whether
/// the locale draws trees with line characters.
fn output(human: bool) -> Output {
    let stdout = std::io::stdout();
    let term_width = (human && stdout.is_terminal()).then(|| {
        rustix::termios::tcgetwinsize(&stdout)
            .ok()
            .map(|w| usize::from(w.ws_col))
            .filter(|&w| w > 0)
            .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
            .filter(|&w: &usize| w > 0)
            .unwrap_or(80)
    });
    Output {
        term_width,
        utf8: nsjoin::list::locale_is_utf8(),
    }
}
