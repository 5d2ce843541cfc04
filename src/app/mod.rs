//! Wiring: turn a parsed command line into a running server or a finished admin command.
//! [`main`] dispatches: `serve` goes to [`serve`] (the HTTP server, signals, reload, watchdog),
//! every other command to `offline` (they open the store, or ask the running server over the
//! admin socket). The data-directory helpers both sides need live here.
//! [`run`] takes an already bound listener, so tests can bind `127.0.0.1:0`.

mod offline;
mod serve;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::cli::{AdminCommand, Cli, CliCommand};
use crate::config::Config;
use crate::store::Store;

pub use self::serve::{run, run_on, serve};

/// The configuration a command line asks for: defaults < file < environment < flags.
pub fn config(cli: &Cli) -> anyhow::Result<Config> {
    Ok(Config::resolve(
        cli.common.config.as_deref(),
        |k| std::env::var(k).ok(),
        cli.settings(),
    )?)
}

/// Run a command line; the exit code is the command's verdict (verify: 1 on differences).
pub fn main(cli: Cli, config: Config) -> anyhow::Result<ExitCode> {
    match cli.command {
        CliCommand::Serve(_) => {
            serve(config)?;
            Ok(ExitCode::SUCCESS)
        }
        CliCommand::Token(cmd) => offline::token(&config, cmd),
        CliCommand::Webhook(cmd) => offline::webhook(&config, cmd),
        CliCommand::Admin(AdminCommand::SetPassword { name }) => {
            offline::set_password(&config, name)
        }
        CliCommand::Verify => offline::verify(&config),
        CliCommand::Backup { out } => offline::backup(&config, &out),
        CliCommand::Restore { file, force } => offline::restore(&config, &file, force),
        CliCommand::ExportLog { format, out } => {
            offline::export_log(&config, &format, out.as_deref())
        }
        CliCommand::CheckConfig { file } => offline::check_config(config, file.as_deref()),
        CliCommand::RebuildViews => offline::rebuild_views(&config),
    }
}

/// Make every file and directory this process creates owner-only (umask 077): sled creates its
/// files with the process's umask, and a shell's usual 022 would leave the database readable by
/// every local user. Called first thing by the binary, so every command is covered.
pub fn private_files() {
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
}

fn open_store(config: &Config) -> anyhow::Result<Store> {
    let dir = &config.data_dir;
    create_private_dir(dir)?;
    refuse_foreign_owner(dir)?;
    restrict_existing(dir);
    Store::open_with_cache(dir, config.cache_mb)
        .with_context(|| format!("opening the database in {}", dir.display()))
}

/// Root must not write into a data directory that belongs to the service user: the files it
/// created would be root's, and the service could no longer open its own database.
fn refuse_foreign_owner(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user of this process.
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let owner = std::fs::metadata(dir).map(|m| m.uid()).ok();
    if let (Some(0), Some(owner)) = (me, owner) {
        if owner != 0 {
            bail!(
                "{} belongs to uid {owner}, not root: run this as that user (e.g. `sudo -u scimd scimd …`) so the service can still open its database",
                dir.display()
            );
        }
    }
    Ok(())
}

/// Take group and other access away from a data directory an older scimd (or a command run
/// under a lax umask) left readable, and from what is directly in it.
fn restrict_existing(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let tighten = |p: &Path| {
        if let Ok(m) = std::fs::symlink_metadata(p) {
            let mode = m.permissions().mode();
            if !m.file_type().is_symlink() && mode & 0o077 != 0 {
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode & 0o700));
            }
        }
    };
    tighten(dir);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            tighten(&e.path());
        }
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}
