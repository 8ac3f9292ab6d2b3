//! The `clip-audit` binary: parse the command line, call the library, map the outcome to an
//! exit code (0 pass, 1 findings at error level, 2 the run itself failed).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout goes away (`clip-audit schema
    // report | head`) instead of panicking on the failed write.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = clip_audit::cli::Cli::parse();
    match clip_audit::commands::dispatch(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("{}", clip_audit::commands::render_error(&err));
            ExitCode::from(2)
        }
    }
}
