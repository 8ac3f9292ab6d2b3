//! The command line, declared with clap's derive API. Only commands that work are listed.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::model::Device;

/// Audit CLIP-family vision-language models for bias and overgeneralization.
///
/// An audit is a YAML spec (audits/) that picks concept probes from probe libraries
/// (probes/), expands them into stimuli (prompts, rendered text, images, typographic
/// composites) and reads a CLIP model's embeddings and the activations of its internal units
/// ("taps") through ONNX Runtime. Start with `clip-audit validate audits/regions.yaml` and
/// `clip-audit stimuli preview audits/typographic.yaml --out sheet.png`.
///
/// Exit codes: 0 success, 1 findings at error level, 2 the command itself failed.
#[derive(Debug, Parser)]
#[command(name = "clip-audit", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Refuse images larger than this many pixels (width x height), reading the size from
    /// the file's header before decoding: a file of a few hundred bytes can declare
    /// 100000x100000 pixels (a decompression bomb). The default is Pillow's limit.
    #[arg(long, global = true, value_name = "PIXELS", default_value_t = crate::imaging::decode::DEFAULT_MAX_PIXELS)]
    pub max_image_pixels: u64,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Look inside model bundles and ONNX exports; import Hugging Face model folders.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Print embeddings and tap activations for images and texts.
    ///
    /// Images are preprocessed exactly as CLIP does; texts are tokenized with CLIP's BPE.
    /// Embeddings are printed normalized; with both images and texts, also the cosine
    /// similarities and zero-shot probabilities (softmax over the texts at the model's
    /// logit scale).
    ///
    /// Example: clip-audit embed --model fixtures/models/tiny-clip --image cat.png --text "a photo of a cat"
    Embed(EmbedArgs),
    /// Find a tap's units from a word: the query rendered and prompted against a background of other words.
    ///
    /// Renders the query as text on a blank canvas (image taps: as written and in upper case,
    /// at three sizes, black on white) or writes it into prompts (text taps), does the same for
    /// a fixed background of about 100 everyday words, and ranks the tap's units by Cohen's d
    /// of their responses to the query against the background (95% CI over the renderings,
    /// which are sizes and cases of one word: a ranking, not a test), so a unit that answers
    /// any ink does not rank. With --report, each unit links to its neuron card.
    ///
    /// Example: clip-audit search "immigration" --model fixtures/models/organism --tap image.mlp --report reports/demo/latest
    Search(SearchArgs),
    /// Feature visualization: an image optimised to excite a unit of an image tap.
    ///
    /// Optimises an image, with no Python, to maximise the unit's activation as the audit
    /// pools it (Olah et al., Distill 2017: a decorrelated Fourier-space image, jittered,
    /// scaled and rotated at every step, climbed with Adam; seeded). The gradient comes from a
    /// gradient graph of the image tower run in ONNX Runtime (CPU or CUDA). --objective
    /// negative minimises the unit instead, diverse optimises --count images that must differ
    /// from each other, and text climbs the image embedding's dot product with a prompt's
    /// normalised text embedding (--tap is then not needed). A ReLU tap is climbed at its input
    /// (Lucid's pre-ReLU convention: a unit that is off has no gradient). With --compare, the
    /// unit's activation on those images (the best dataset examples, say) is printed beside the
    /// visualization's, with their ratio. On a 2-core CPU a 224-pixel ViT-B/32 takes about 0.08
    /// s per step, 22 s per unit at 256 steps (`bench visualize`, BENCHMARKS.md).
    ///
    /// Example: clip-audit visualize --model fixtures/models/organism --tap image.mlp --unit 12 --out unit12.png
    Visualize(VisualizeArgs),
    /// Measure throughput against a bare ONNX Runtime session (and a Python reference).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run an audit: its stimuli through the model into an activation store, then the analyses and reports.
    ///
    /// Writes, under the run folder (default runs/AUDIT): the store (parquet parts of
    /// embeddings and pooled tap activations, keyed by model hashes, taps and stimulus ids),
    /// the stimulus table, the skipped stimuli with reasons, and provenance.json. A rerun
    /// with the same model and taps computes only what is missing; a killed run resumes.
    /// Then, unless --no-analyze or --shard, the analyses (RUN/analysis/summary.json) and the
    /// reports the spec asks for (reports/AUDIT/TIMESTAMP/, with a `latest` link).
    /// Exit code 1 when a finding reaches --fail-on; 2 when more than --max-skipped of the
    /// stimuli could not be made, or the audit could not be done.
    ///
    /// Example: clip-audit run audits/regions.yaml --set model=/models/vit-b-32 --shard 0/4
    Run(RunArgs),
    /// Compute the audit's analyses from one or more run folders, and its findings.
    ///
    /// Reads the store of each folder (the shards of one run may be given together: they are
    /// merged by stimulus id), reloads the spec recorded in the run's provenance (or --spec)
    /// and runs every analysis the spec switches on: selectivity, multimodality, resolution,
    /// associations, denigration, typographic. Writes ANALYSIS_DIR/summary.json (the typed
    /// summary with findings) and selectivity.parquet (the full unit x concept grid).
    /// Exit code 1 when a finding is at or above --fail-on (default: the spec's fail_on).
    ///
    /// Example: clip-audit analyze runs/regions-0 runs/regions-1 runs/regions-2 runs/regions-3
    Analyze(AnalyzeArgs),
    /// Compare two reports: new, worsened, resolved and unchanged findings.
    ///
    /// Give two report.json (or summary.json) files, e.g. of two checkpoints of one model.
    /// With --fail-on-regression, exit 1 when a finding is new or worse (at or above
    /// --fail-on, default error); otherwise exit 0.
    ///
    /// Example: clip-audit diff reports/demo/2026-11-01T10-00-00Z/report.json reports/demo/latest/report.json
    Diff(DiffArgs),
    /// Write an audit's result as a model-card section (Hugging Face layout).
    ///
    /// Prints "Bias, Risks, and Limitations", evaluation results with CIs, method and
    /// provenance, and model-index YAML for the front matter. With --into, replaces the part
    /// between clip-audit's markers in that file (adding them the first time) and keeps the
    /// rest of the file byte for byte; rerunning it changes nothing else.
    ///
    /// Example: clip-audit model-card reports/demo/latest/report.json --into README.md
    ModelCard(ModelCardArgs),
    /// Browse a report in the terminal and record review decisions.
    ///
    /// Views: findings (sort, filter, search), a unit's evidence, a family's heat map and
    /// resolution, the map, and every analysis's report sections (tables, charts, text). `c`/`d` confirm or dismiss the selected finding
    /// with a note, saved to review.json beside the report; later reports, diffs and model
    /// cards show the decisions. `?` lists the keys.
    ///
    /// Example: clip-audit tui reports/demo/latest
    Tui {
        /// A report folder or report.json (default: the newest reports/*/latest).
        report: Option<PathBuf>,
    },
    /// Check audit specs and the probe libraries, model bundles and data they name.
    ///
    /// Reports every problem with file:line:column, a code, the source line and a hint.
    /// Exit code 0 when all specs are valid, 2 otherwise.
    ///
    /// Example: clip-audit validate audits/*.yaml --set fairface=/data/fairface
    Validate(ValidateArgs),
    /// Browse probe libraries.
    #[command(subcommand)]
    Probes(ProbesCommand),
    /// Look at the stimuli an audit spec expands to.
    #[command(subcommand)]
    Stimuli(StimuliCommand),
    /// Print the JSON Schema of audit specs, probe libraries (for editors) or report.json.
    Schema {
        /// Which file kind.
        #[arg(value_enum)]
        kind: SchemaKind,
    },
}

/// File kinds with a JSON Schema.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SchemaKind {
    /// Audit specs (`audits/*.yaml`).
    Audit,
    /// Probe libraries (`probes/*.yaml`).
    ProbeLibrary,
    /// Reports (`report.json`).
    Report,
}

/// `--set name=value` for spec variables.
#[derive(Debug, Clone, Args)]
pub struct SetArgs {
    /// Set a spec variable (`${name}` in the spec); repeat for more.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = crate::spec::vars::parse_assignment)]
    pub set: Vec<(String, String)>,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The audit spec.
    pub spec: PathBuf,
    /// Run folder (default: runs/AUDIT).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Images per inference batch (default: chosen from the model's input size and device).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Process a deterministic slice I of N (0-based) of the stimuli, e.g. 0/4.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<crate::run::Shard>,
    /// Largest fraction of stimuli that may be skipped (unreadable, undecodable, non-finite).
    #[arg(long, default_value_t = 0.05)]
    pub max_skipped: f64,
    /// Rows per parquet part: the unit of resume.
    #[arg(long, default_value_t = 512)]
    pub part_rows: usize,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Only fill the store; do not analyse (as a shard of a bigger run should).
    #[arg(long)]
    pub no_analyze: bool,
    /// When the command fails.
    #[command(flatten)]
    pub gate: GateArgs,
    /// Reports.
    #[command(flatten)]
    pub reports: ReportArgs,
    /// Device and threads.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Spec variables.
    #[command(flatten)]
    pub vars: SetArgs,
}

pub use crate::spec::analyses::FailOn;

/// `--fail-on` parses the spec's own vocabulary (`outputs.fail_on`), so the two cannot drift.
impl clap::ValueEnum for FailOn {
    fn value_variants<'a>() -> &'a [Self] {
        &FailOn::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self {
            FailOn::Info => "Any finding",
            FailOn::Warning => "Warnings and errors",
            FailOn::Error => "Errors only",
            FailOn::Never => "Never fail on findings",
        };
        Some(clap::builder::PossibleValue::new(self.name()).help(help))
    }
}

/// Where reports go and what they are compared with.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Folder for reports (default: the spec's outputs.dir, `reports/`); they go to
    /// DIR/AUDIT/TIMESTAMP/ with a DIR/AUDIT/latest link.
    #[arg(long, value_name = "DIR")]
    pub reports: Option<PathBuf>,
    /// Write no reports (summary.json only).
    #[arg(long)]
    pub no_reports: bool,
    /// A previous report.json to compare with: prints new, worsened and resolved findings.
    #[arg(long, value_name = "REPORT")]
    pub baseline: Option<PathBuf>,
    /// With --baseline: fail (exit 1) only on new or worsened findings at or above --fail-on
    /// (and, with --fail-on-inconclusive, on checks the data could not decide).
    #[arg(long, requires = "baseline")]
    pub fail_on_regression: bool,
    /// How many neuron cards get a feature visualization, overriding the spec's
    /// outputs.feature_visualization.units (0: none). Units already cached in the run folder
    /// are read back, not made again. Needs the html format.
    #[arg(long, value_name = "N", conflicts_with = "no_reports")]
    pub visualize_units: Option<usize>,
}

/// When `run` and `analyze` fail (exit 1).
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Lowest finding severity that fails the command (exit 1); default: the spec's fail_on.
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Exit 1 also when a check at or above --fail-on is inconclusive (too few observations,
    /// or an interval across the limit), for reviewers who need every check decided; with
    /// --fail-on-regression too.
    #[arg(long)]
    pub fail_on_inconclusive: bool,
}

/// Arguments of `model-card`.
#[derive(Debug, Args)]
pub struct ModelCardArgs {
    /// The report.json.
    pub report: PathBuf,
    /// The model card (README.md) to put the section into.
    #[arg(long)]
    pub into: Option<PathBuf>,
    /// Model name for the model-index (default: the report's model bundle folder name).
    #[arg(long)]
    pub name: Option<String>,
}

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier report.json (or summary.json).
    pub old: PathBuf,
    /// The later one.
    pub new: PathBuf,
    /// Exit 1 when a finding is new or worse.
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Lowest severity that counts as a regression.
    #[arg(long, value_enum, default_value = "error")]
    pub fail_on: FailOn,
    /// Print the diff as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Run folders written by `clip-audit run` (several: the shards of one run).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The audit spec (default: the one recorded in the run's provenance, with its --set values).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Where to write summary.json and selectivity.parquet (default: FIRST_RUN/analysis).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// When the command fails.
    #[command(flatten)]
    pub gate: GateArgs,
    /// Reports.
    #[command(flatten)]
    pub reports: ReportArgs,
    /// No summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Device and threads (the model runs of the null baseline and of ablation).
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Spec variables (override those recorded in the run).
    #[command(flatten)]
    pub vars: SetArgs,
}

fn parse_shard(s: &str) -> Result<crate::run::Shard, String> {
    s.parse()
}

/// Arguments of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Audit spec files.
    #[arg(required = true)]
    pub specs: Vec<PathBuf>,
    /// Spec variables.
    #[command(flatten)]
    pub vars: SetArgs,
}

/// `probes` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProbesCommand {
    /// List the families of a probe library, or the members of one family.
    ///
    /// Without LIBRARY, lists every library in probes/.
    List {
        /// A probe library file (default: every .yaml in probes/).
        library: Option<PathBuf>,
        /// Show the members of this family.
        #[arg(long, short)]
        family: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `stimuli` subcommands.
#[derive(Debug, Subcommand)]
pub enum StimuliCommand {
    /// Count the stimuli of an audit spec per selection and modality, and list what is skipped.
    List {
        /// The audit spec.
        spec: PathBuf,
        /// Print every stimulus as JSON lines.
        #[arg(long)]
        json: bool,
        /// Spec variables.
        #[command(flatten)]
        vars: SetArgs,
    },
    /// Draw a contact sheet of sampled stimuli per selection, with captions.
    Preview {
        /// The audit spec.
        spec: PathBuf,
        /// Output PNG.
        #[arg(long, short)]
        out: PathBuf,
        /// Stimuli per selection.
        #[arg(long, default_value_t = 8)]
        per_family: usize,
        /// Spec variables.
        #[command(flatten)]
        vars: SetArgs,
    },
}

/// `model` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// List inputs, outputs and candidate tap points with their shapes.
    ///
    /// Takes a bundle folder, its model.yaml, or a single .onnx file. Candidates are the
    /// activation outputs of MLP blocks and the outputs of residual convolutional blocks,
    /// grouped by layer, with shapes measured by one dummy inference, and ready-to-paste
    /// tap entries for model.yaml.
    Inspect {
        /// A bundle folder, a model.yaml, or an .onnx file.
        target: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Device and threads.
        #[command(flatten)]
        runtime: RuntimeArgs,
    },
    /// Write a model.yaml for a Hugging Face model folder (CLIP or SigLIP, exported to ONNX).
    ///
    /// Reads config.json, preprocessor_config.json, the tokenizer files and the ONNX files of
    /// either layout the hub holds: transformers.js' onnx/vision_model.onnx +
    /// onnx/text_model.onnx, or optimum's single model.onnx (quantized variants only when no
    /// float32 file exists). The manifest it writes needs no editing: the towers' inputs and
    /// outputs are read from the graphs, the preprocessing from the processor's config, the
    /// learned logit scale from the weights of a file holding both towers, and the taps (the
    /// last MLP activation of each tower) from `model inspect`'s suggestions. It prints what
    /// it found. Paths in the manifest are relative to the folder it is written to.
    ///
    /// Example: clip-audit model import ~/models/clip-vit-base-patch32, then clip-audit embed
    /// --model ~/models/clip-vit-base-patch32 -i cat.jpg -t "a photo of a cat" to check it.
    ///
    /// Example: clip-audit model import hub/siglip-base --out bundles/siglip writes
    /// bundles/siglip/model.yaml, naming ../../hub/siglip-base/onnx/vision_model.onnx and so on.
    Import {
        /// The downloaded model folder (the one holding config.json).
        dir: PathBuf,
        /// Where to write: a folder (its model.yaml) or a .yaml file; default DIR/model.yaml.
        #[arg(long, value_name = "BUNDLE")]
        out: Option<PathBuf>,
        /// Overwrite an existing manifest.
        #[arg(long)]
        force: bool,
    },
}

/// Options for running a model.
#[derive(Debug, Clone, Args)]
pub struct RuntimeArgs {
    /// Where to run: cpu, cuda, cuda:N, or auto (CUDA when usable, else CPU with a warning).
    #[arg(long, default_value = "auto", value_parser = parse_device)]
    pub device: Device,
    /// Threads for ONNX Runtime (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

fn parse_device(s: &str) -> Result<Device, String> {
    s.parse::<Device>().map_err(|e| e.to_string())
}

/// Arguments of `embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// The model bundle (folder with model.yaml).
    #[arg(long, short)]
    pub model: PathBuf,
    /// An image file; repeat for more.
    #[arg(long = "image", short = 'i', value_name = "PATH")]
    pub images: Vec<PathBuf>,
    /// A text; repeat for more.
    #[arg(long = "text", short = 't', value_name = "STR")]
    pub texts: Vec<String>,
    /// Only these taps (default: all taps in model.yaml).
    #[arg(long = "tap", value_name = "NAME")]
    pub taps: Vec<String>,
    /// Print JSON (full vectors) instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Images per inference batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Device and threads.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// `bench` subcommands.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The embed pipeline against a bare session fed pre-made tensors.
    ///
    /// Generates synthetic images in memory, then times (a) decoding, preprocessing and
    /// inference as `embed` does them and (b) a bare session fed pre-made tensors, with the
    /// same batch size and threads, and prints images per second and their ratio.
    Embed(BenchArgs),
    /// `clip-audit run` end to end against a bare session and scripts/reference_run.py.
    ///
    /// Writes synthetic PNGs to a temporary folder and a spec that uses them, then times
    /// `clip-audit run` (a child process: spec, hashing, decoding, preprocessing, inference,
    /// parquet), a bare session on pre-made tensors (inference only) and the Python
    /// reference (onnxruntime-python + PIL + numpy + pyarrow doing the same work), with the
    /// same batch size and threads, and prints stimuli per second, ratios and peak memory.
    Run(BenchRunArgs),
    /// `run` and `analyze` at dataset scale on a generated wide model, against the Python reference.
    ///
    /// For each size, writes a CLIP-shaped bundle whose image tower is one MatMul onto a wide
    /// tapped ReLU layer (so inference costs almost nothing), a library of --concepts members
    /// and that many small synthetic images tinted per member, then times `clip-audit run`,
    /// `clip-audit analyze` (selectivity over the whole grid, JSON and HTML reports) and
    /// scripts/reference_analyze.py (numpy + scipy + pandas) as child processes. Prints wall
    /// time, stimuli per second, ns per stimulus x unit (flat when the cost is linear), peak
    /// memory, the store and report sizes, and both analyses' selective pairs. A size of
    /// 1M x 2,560 needs about 16 GB of free disk under --work.
    ///
    /// Example: clip-audit bench analyze --sizes 10000,100000,1000000x2560
    Analyze(BenchAnalyzeArgs),
    /// The cost of feature visualization: seconds per step and per unit, against the forward pass alone.
    ///
    /// Times --steps forward passes of the image tower with the tap (batch of one, the bare
    /// inference a step contains), then --steps steps of `visualize` on --unit, and prints
    /// seconds per forward pass, per optimisation step (forward and backward through the
    /// gradient graph, plus the image side: Fourier image, transformation, Adam), their ratio,
    /// the one-off setup (probe run, gradient graph, session) and the projected seconds per unit
    /// at 256 steps.
    ///
    /// Example: clip-audit bench visualize --model fixtures/exports/vit-b-32 --tap image.last_mlp
    Visualize(BenchVisualizeArgs),
}

/// Arguments of `search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The word or phrase to look for.
    pub query: String,
    /// The model bundle.
    #[arg(long, short)]
    pub model: PathBuf,
    /// The tap whose units are ranked (`clip-audit model inspect` lists them).
    #[arg(long)]
    pub tap: String,
    /// Units to print.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// A report folder (or report.html) to link each unit to its neuron card.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Device and threads.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// What `visualize` optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VisualizeObjective {
    /// Maximise the unit's pooled activation.
    Unit,
    /// Minimise it: what the unit answers against.
    Negative,
    /// --count images for the unit, each penalised by its mean cosine similarity to the others (of the tap's pooled vectors; Lucid compares Gram matrices).
    Diverse,
    /// Maximise the image embedding's dot product with the normalised text embedding of --prompt.
    Text,
}

/// Arguments of `visualize`.
#[derive(Debug, Args)]
pub struct VisualizeArgs {
    /// The model bundle.
    #[arg(long, short)]
    pub model: PathBuf,
    /// The image tap (`clip-audit model inspect` lists them); not used with --objective text.
    #[arg(long)]
    pub tap: Option<String>,
    /// The unit (0-based index within the tap).
    #[arg(long)]
    pub unit: Option<usize>,
    /// What to optimise.
    #[arg(long, value_enum, default_value_t = VisualizeObjective::Unit)]
    pub objective: VisualizeObjective,
    /// The prompt of --objective text.
    #[arg(long)]
    pub prompt: Option<String>,
    /// Images optimised together with --objective diverse.
    #[arg(long, default_value_t = 4)]
    pub count: usize,
    /// Weight of the diversity penalty, in units of the objective.
    #[arg(long, default_value_t = 1.0)]
    pub diversity: f32,
    /// Optimisation steps.
    #[arg(long, default_value_t = 256)]
    pub steps: usize,
    /// Side of the saved PNG in pixels (the image is optimised at the model's input size and
    /// scaled up with nearest-neighbour sampling; default: the input size).
    #[arg(long)]
    pub size: Option<u32>,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.05)]
    pub learning_rate: f32,
    /// Seed of the initial image and the transformations.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Optimise without the random jitter, scale and rotation (not recommended: the image
    /// fills with high-frequency patterns).
    #[arg(long)]
    pub no_transforms: bool,
    /// Images or folders of images (searched with their subfolders) to compare with: the
    /// unit's activation on each, the best, and the visualization's ratio to it.
    #[arg(long, value_name = "PATH")]
    pub compare: Vec<PathBuf>,
    /// The PNG to write (several images are written side by side).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Device and threads.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Arguments of `bench analyze`.
#[derive(Debug, Args)]
pub struct BenchAnalyzeArgs {
    /// Sizes to measure, comma-separated: stimuli, or stimuli x units (`1000000x2560`).
    #[arg(long, default_value = "10000,100000")]
    pub sizes: String,
    /// Tapped units where a size does not say.
    #[arg(long, default_value_t = 3072)]
    pub units: usize,
    /// Concepts (members of the generated library); the images are spread evenly over them.
    #[arg(long, default_value_t = 100)]
    pub concepts: usize,
    /// Side of the synthetic images, in pixels (the bundle's input size).
    #[arg(long, default_value_t = 16)]
    pub image_side: u32,
    /// Images per batch in `run`.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Python interpreter for the reference (default: .venv-scripts/bin/python); `none` skips it.
    #[arg(long)]
    pub python: Option<String>,
    /// Largest size the Python reference is run at (it holds the whole matrix, several times).
    #[arg(long, default_value_t = 100_000)]
    pub python_max: usize,
    /// Folder for the generated bundles, images and runs (default: the system's temporary folder).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Keep each size's folder (bundle, run, reports) instead of deleting it.
    #[arg(long)]
    pub keep: bool,
}

/// Arguments of `bench visualize`.
#[derive(Debug, Args)]
pub struct BenchVisualizeArgs {
    /// The model bundle (e.g. fixtures/exports/vit-b-32 from `make exports`).
    #[arg(long, short)]
    pub model: PathBuf,
    /// The image tap.
    #[arg(long)]
    pub tap: String,
    /// The unit.
    #[arg(long, default_value_t = 0)]
    pub unit: usize,
    /// Steps timed (and forward passes timed).
    #[arg(long, default_value_t = 32)]
    pub steps: usize,
    /// Device and threads.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Arguments of `bench run`.
#[derive(Debug, Args)]
pub struct BenchRunArgs {
    /// The model bundle (e.g. fixtures/exports/vit-b-32 from `make exports`).
    #[arg(long, short)]
    pub model: PathBuf,
    /// Number of synthetic images.
    #[arg(long, default_value_t = 2000)]
    pub images: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Side of the synthetic images.
    #[arg(long, default_value_t = 256)]
    pub image_side: u32,
    /// Python interpreter for the reference (default: .venv-scripts/bin/python); `none` skips it.
    #[arg(long)]
    pub python: Option<String>,
    /// Device and threads.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Arguments of `bench embed`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The model bundle to time (e.g. fixtures/exports/vit-b-32 from `make exports`).
    #[arg(long, short)]
    pub model: PathBuf,
    /// Number of synthetic images.
    #[arg(long, default_value_t = 256)]
    pub images: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Side of the synthetic images before preprocessing.
    #[arg(long, default_value_t = 320)]
    pub image_side: u32,
    /// Repetitions of each measurement (the best is reported).
    #[arg(long, default_value_t = 2)]
    pub repeat: usize,
    /// Device and threads.
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}
