//! `hoist deploy`, `setup`, `redeploy` and `rollback`: the pipeline.

use std::process::ExitCode;

use clap::Args;

use super::common::{Common, mode};
use crate::events::Reporter;
use crate::pipeline;
use crate::run::{DeployKind, DeployRequest};

/// `hoist deploy` options.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Skip image build and push: deploy an image that already exists.
    #[arg(short = 'P', long)]
    pub skip_push: bool,
    /// Print the stages, hosts, roles, plugins and Docker operations; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON object per event on stdout.
    #[arg(long)]
    pub json: bool,
    /// Rollout strategy plugin to use (overrides deploy.strategy).
    #[arg(long, value_name = "NAME")]
    pub strategy: Option<String>,
    /// Don't run deploy.release_command.
    #[arg(long)]
    pub skip_release_command: bool,
    /// With --dry-run: make a step fail on a target, HOST[/ROLE][@STEP]
    /// (step start, wait-healthy (default), route or retire), to see what
    /// the strategy does then. Repeatable.
    #[arg(long, value_name = "HOST[/ROLE][@STEP]", requires = "dry_run")]
    pub fail_at: Vec<String>,
}

/// Runs the pipeline for `hoist deploy`, `setup`, `redeploy` and `rollback`.
pub async fn deploy(common: Common, args: DeployArgs, kind: DeployKind) -> ExitCode {
    let events = Reporter::stdout(mode(&common, args.json));
    let req = DeployRequest {
        kind,
        config: common.load_options(),
        version: common.app_version.clone(),
        skip_push: args.skip_push || kind == DeployKind::Rollback,
        skip_hooks: common.skip_hooks,
        filters: common.filters(),
        dry_run: args.dry_run,
        strategy: args.strategy,
        skip_release_command: args.skip_release_command || kind == DeployKind::Rollback,
        lock_wait: common.lock_wait(),
        command: common.invocation.clone(),
        fail_at: match args
            .fail_at
            .iter()
            .map(|f| crate::steps::FailAt::parse(f))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    match pipeline::deploy(req, events).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
