//! `hoist config`.

use std::process::ExitCode;

use super::common::Common;
use crate::config;

/// `hoist config`: the merged config, secrets redacted.
pub fn print_config(common: &Common) -> ExitCode {
    match config::load(&common.load_options()) {
        Ok(c) => {
            for note in &c.notes {
                eprintln!("warning: {note}");
            }
            for r in &c.refusals {
                eprintln!("warning: deploys are refused: {r}");
            }
            print!("{}", config::redacted_yaml(&c));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
