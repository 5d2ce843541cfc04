//! The `scimd` binary: parse the command line, read the configuration, set up logging, hand over
//! to `app`.

use clap::Parser;

/// Requests allocate many small, short-lived values (JSON trees, strings); mimalloc serves them
/// from per-thread pages where glibc's malloc took a fifth of the CPU (perf, lookup and PATCH).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Owner-only for everything any command creates: the database (token and password hashes,
    // every user's data), its directory, keys, backups, exports.
    scimd::app::private_files();
    let cli = scimd::cli::Cli::parse();
    let config = match scimd::app::config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scimd: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    scimd::logging::init(config.log_format);
    // After logging is set up (its format is a setting), so the warnings reach the journal.
    let names = std::env::vars_os().map(|(name, _)| name.to_string_lossy().into_owned());
    for name in scimd::config::unknown_env_vars(names) {
        tracing::warn!("{name} is set but is not a scimd setting; ignored (a typo?)");
    }
    match scimd::app::main(cli, config) {
        Ok(code) => code,
        Err(e) => {
            // Once, on stderr (the journal under systemd): not also through the log.
            eprintln!("scimd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
