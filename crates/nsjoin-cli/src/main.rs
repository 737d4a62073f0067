//! `nsjoin`: run a program with namespaces of other processes (a drop-in for
//! util-linux nsenter). See `nsjoin --help`.

use std::process::ExitCode;

use nsjoin_cli::args::{self, Parsed};
use nsjoin_cli::enter::{self, Failure};

fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    let opts = match args::parse(&argv) {
        Ok(Parsed::Run(opts)) => opts,
        Ok(Parsed::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(usage) => {
            eprintln!("nsjoin: {} (try 'nsjoin --help')", usage.0);
            return ExitCode::FAILURE;
        }
    };
    init_tracing(opts.verbose);
    match enter::run(*opts) {
        Failure::Own(msg) => {
            eprintln!("nsjoin: {msg}");
            ExitCode::FAILURE
        }
        Failure::Exec(msg, code) => {
            eprintln!("nsjoin: {msg}");
            ExitCode::from(code as u8)
        }
    }
}

/// `-v` traces the steps on stderr; so does RUST_LOG. Nothing is set up (and no
/// time spent) otherwise.
fn init_tracing(verbose: u8) {
    let filter = match (verbose, std::env::var("RUST_LOG")) {
        (0, Err(_)) => return,
        (0, Ok(env)) => env,
        (1, _) => "nsjoin_cli=debug".to_owned(),
        _ => "trace".to_owned(),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
}
