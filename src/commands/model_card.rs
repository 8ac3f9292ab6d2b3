//! `clip-audit model-card`: an audit's result as a Hugging Face model-card section, printed
//! or written between clip-audit's markers in an existing card.

use std::path::Path;

use anyhow::Context as _;

use super::Outcome;
use crate::cli::ModelCardArgs;
use crate::files::write_atomic;

/// `clip-audit model-card`.
pub fn run(args: &ModelCardArgs) -> anyhow::Result<Outcome> {
    use crate::report::model_card as mc;
    let (sum, meta) = crate::report::read::load_summary(&args.report)?;
    let name = args.name.clone().unwrap_or_else(|| {
        let model = sum.model.as_str();
        Path::new(model).file_name().map_or_else(|| model.to_owned(), |n| n.to_string_lossy().into_owned())
    });
    let reviews = crate::report::review::Review::load(args.report.parent().unwrap_or(Path::new(".")))?;
    let section = mc::section(&sum, meta.as_ref(), &reviews.decisions);
    let index = mc::model_index(&sum, &name);
    match &args.into {
        None => {
            println!("{}\n{section}{}", mc::START, mc::END);
            println!("\n# front matter (YAML):\n{index}");
        }
        Some(card) => {
            let old = match std::fs::read_to_string(card) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", card.display())),
            };
            let new = mc::into(&old, &section, &index);
            if new != old {
                write_atomic(card, new.as_bytes())?;
                eprintln!("updated {}", card.display());
            } else {
                eprintln!("{} is up to date", card.display());
            }
        }
    }
    Ok(Outcome::Pass)
}
