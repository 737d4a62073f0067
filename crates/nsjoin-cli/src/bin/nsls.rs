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
                        warn(&msg);
                    }
                    return ExitCode::FAILURE;
                }
            }
        }
        Err(UsageError::Getopt(msg)) => {
            warn(&format!("{msg}\nTry 'nsls --help' for more information."));
            return ExitCode::FAILURE;
        }
        Err(UsageError::Message(msg)) => {
            warn(&msg);
            return ExitCode::FAILURE;
        }
    };
    print(&text)
}

/// Writes the whole output. Output that cannot be written is an error, as in
/// util-linux's close_stdout(): `nsls: write error: REASON`, exit status 1. That
/// covers a full disk and a closed stdout (`>&-`), which Rust's runtime would
/// otherwise have turned into /dev/null. A reader that went away (EPIPE, as in
/// `nsls | head -1`) ends nsls silently with status 141, what a shell reports for
/// lsns, which dies of SIGPIPE there (Rust ignores the signal).
fn print(text: &str) -> ExitCode {
    if text.is_empty() {
        return ExitCode::SUCCESS;
    }
    let result = if nsjoin::os::stdout_was_closed() {
        Err(std::io::Error::from_raw_os_error(
            rustix::io::Errno::BADF.raw_os_error(),
        ))
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(128 + 13),
        Err(e) => {
            warn(&format!("write error: {}", nsjoin::os_text(&e)));
            ExitCode::FAILURE
        }
    }
}

/// `nsls: MESSAGE` on stderr. A stderr that cannot be written is ignored (the exit
/// status still tells), where `eprintln!` would panic.
fn warn(msg: &str) {
    let _ = writeln!(std::io::stderr(), "nsls: {msg}");
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
        utf8: nsjoin::os::locale_is_utf8(),
    }
}
