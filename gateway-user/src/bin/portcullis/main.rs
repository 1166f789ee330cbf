//! The `portcullis` command line.

mod cli;
mod ctl;
mod keys;
mod run;
mod scan;
mod token;
mod tools;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.log_json);
    let result = match cli.command {
        cli::Command::Scan(args) => return scan_exit(scan::scan(args)),
        cli::Command::Run(args) => run::run(args),
        cli::Command::Ctl(args) => ctl::ctl(args),
        cli::Command::Tools(args) => tools::tools(args),
        cli::Command::Keys(args) => keys::keys(args),
        cli::Command::Token(args) => token::token(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `portcullis scan` exit codes: 0 clean, 1 findings, 2 error.
fn scan_exit(result: anyhow::Result<bool>) -> std::process::ExitCode {
    match result {
        Ok(false) => std::process::ExitCode::SUCCESS,
        Ok(true) => std::process::ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
