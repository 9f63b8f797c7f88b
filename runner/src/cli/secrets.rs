//! `hoist secrets fetch|extract|print`, as `kamal secrets`.

use std::process::ExitCode;

use super::common::Common;
use crate::config;
use crate::secrets::Secrets;
use crate::secrets::adapters::SystemVendor;
use crate::secrets::commands::{self, SecretsCommand};

/// Runs `hoist secrets ...`.
pub fn secrets(common: &Common, command: &SecretsCommand) -> anyhow::Result<()> {
    match command {
        SecretsCommand::Print => {
            let c = config::load(&common.load_options())?;
            let s = Secrets::load(&c.secrets_files, &c.app_root)?;
            for note in s.notes() {
                eprintln!("warning: {note}");
            }
            for (k, v) in s.entries() {
                println!("{k}={}", v.expose());
            }
            Ok(())
        }
        other => {
            println!("{}", commands::answer(other, &mut SystemVendor)?);
            Ok(())
        }
    }
}

/// The exit status of `hoist secrets ...`.
pub fn main(common: &Common, command: &SecretsCommand) -> ExitCode {
    super::report(secrets(common, command))
}
