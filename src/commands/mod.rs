//! Command implementations: each takes parsed arguments, does the work through the library,
//! prints its result, and returns an [`Outcome`]; `main` maps it to an exit code.

mod analyze;
mod bench;
mod bench_scale;
mod bench_visualize;
mod diff;
mod embed;
mod import;
mod inspect;
mod model_card;
mod probes;
mod run;
mod search;
mod stimuli;
mod validate;
mod visualize;

use std::process::ExitCode;

use crate::cli::{BenchCommand, Cli, Command, ModelCommand, ProbesCommand, RuntimeArgs, StimuliCommand};
use crate::model::SessionConfig;

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing at or above the failure level.
    Pass,
    /// Findings at or above the failure level (exit 1).
    Findings,
}

impl Outcome {
    /// The process exit code: 0 pass, 1 findings.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Pass => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
        }
    }
}

/// Runs the command the user asked for.
pub fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    crate::imaging::decode::set_max_pixels(cli.max_image_pixels);
    match cli.command {
        Command::Model(ModelCommand::Inspect { target, json, runtime }) => {
            inspect::run(&target, json, &session_config(&runtime))
        }
        Command::Model(ModelCommand::Import { dir, out, force }) => import::run(&dir, out.as_deref(), force),
        Command::Embed(args) => embed::run(&args),
        Command::Search(args) => search::run(&args),
        Command::Visualize(args) => visualize::run(&args),
        Command::Bench(BenchCommand::Embed(args)) => bench::run(&args),
        Command::Bench(BenchCommand::Run(args)) => bench::run_pipeline(&args),
        Command::Bench(BenchCommand::Analyze(args)) => bench_scale::run(&args),
        Command::Bench(BenchCommand::Visualize(args)) => bench_visualize::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Analyze(args) => analyze::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::ModelCard(args) => model_card::run(&args),
        Command::Tui { report } => {
            crate::tui::run(report.as_deref())?;
            Ok(Outcome::Pass)
        }
        Command::Validate(args) => validate::run(&args.specs, &args.vars.set),
        Command::Probes(ProbesCommand::List { library, family, json }) => {
            probes::list(library.as_deref(), family.as_deref(), json)
        }
        Command::Stimuli(StimuliCommand::List { spec, json, vars }) => stimuli::list(&spec, json, &vars.set),
        Command::Stimuli(StimuliCommand::Preview { spec, out, per_family, vars }) => {
            stimuli::preview(&spec, &out, per_family, &vars.set)
        }
        Command::Schema { kind } => {
            use crate::cli::SchemaKind;
            let schema = match kind {
                SchemaKind::Audit => crate::spec::audit_schema_json(),
                SchemaKind::ProbeLibrary => crate::spec::probe_library_schema_json(),
                SchemaKind::Report => crate::report::schema_json(),
            };
            println!("{schema}");
            Ok(Outcome::Pass)
        }
    }
}

/// Session options from the shared runtime flags.
pub(crate) fn session_config(args: &RuntimeArgs) -> SessionConfig {
    SessionConfig::default().with_device(args.device).with_threads(args.threads)
}

/// Renders an error and its causes for the terminal, skipping causes whose text the
/// message above them already includes.
pub fn render_error(err: &anyhow::Error) -> String {
    let mut out = format!("error: {err}");
    let mut shown = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if shown.contains(&text) {
            continue;
        }
        if text.contains('\n') {
            // Diagnostics carry their own layout: print them as they are.
            out.push_str(&format!("\n\n{text}"));
        } else {
            out.push_str(&format!("\n  caused by: {text}"));
        }
        shown.push_str(&text);
    }
    out
}
