//! The `scimd` binary: parse the command line, read the configuration, set up logging, hand over
//! to `app`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = scimd::cli::Cli::parse();
    let config = match scimd::app::config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scimd: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    scimd::logging::init(config.log_format);
    match scimd::app::main(cli, config) {
        Ok(code) => code,
        Err(e) => {
            // Once, on stderr (the journal under systemd): not also through the log.
            eprintln!("scimd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
