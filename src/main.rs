//! The `scimd` binary: parse the command line, set up logging, hand over to `app`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = scimd::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SCIMD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never into files or the journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match scimd::app::main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scimd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
