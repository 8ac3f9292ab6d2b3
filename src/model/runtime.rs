//! ONNX Runtime: finding its shared library, one process-wide environment, and sessions on
//! the device the user asked for.
//!
//! clip-audit never downloads ONNX Runtime: `ort` is built with `load-dynamic`, and the
//! library comes from the pinned `onnxruntime` wheel that `make ort` unpacks into `.ort/lib`.
//! The search order is `ORT_DYLIB_PATH`, then the project's `.ort/lib`, then the folder of the
//! executable. ONNX Runtime allows one environment per process, so it lives in a `OnceLock`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

/// The ONNX Runtime version the project pins (see the Makefile's `ort` target).
pub const PINNED_ORT_VERSION: &str = "1.31.1";

const LIB_NAMES: &[&str] =
    &["libonnxruntime.so", "libonnxruntime.so.1.31.1", "libonnxruntime.dylib", "onnxruntime.dll"];

/// Problems with the runtime itself: the library, the device, or creating a session.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No ONNX Runtime library was found anywhere clip-audit looks.
    #[error(
        "ONNX Runtime library not found; looked in:\n{}\nInstall it with `make ort` (unpacks libonnxruntime.so from the onnxruntime=={PINNED_ORT_VERSION} wheel on PyPI into .ort/lib), or set ORT_DYLIB_PATH to a libonnxruntime.so of version 1.31 or newer",
        .searched.iter().map(|p| format!("  - {}", p.display())).collect::<Vec<_>>().join("\n")
    )]
    LibraryNotFound {
        /// Every place that was searched, in order.
        searched: Vec<PathBuf>,
    },
    /// `ORT_DYLIB_PATH` is set but does not name a file.
    #[error("ORT_DYLIB_PATH is set to {path}, which is not a file; point it at libonnxruntime.so or unset it")]
    EnvPathMissing {
        /// The value of the variable.
        path: PathBuf,
    },
    /// The library was found but could not be loaded.
    #[error(
        "could not load ONNX Runtime from {path}: {source}; is it a libonnxruntime.so for this platform, version 1.31 or newer?"
    )]
    Load {
        /// The library file.
        path: PathBuf,
        /// What the loader said.
        #[source]
        source: ort::LoadDynamicError,
    },
    /// ONNX Runtime refused to create its environment.
    #[error("could not create the ONNX Runtime environment: {0}")]
    Environment(#[source] ort::Error),
    /// `--device` was not one of the accepted forms.
    #[error("unknown device {0:?}: use cpu, cuda, cuda:N or auto")]
    BadDevice(String),
    /// CUDA was asked for and cannot be used.
    #[error("CUDA was requested but cannot be used: {reason}")]
    CudaUnavailable {
        /// Why, in words a user can act on.
        reason: String,
    },
    /// Session options or creation failed.
    #[error("could not create an ONNX Runtime session for {what}: {source}")]
    Session {
        /// Which model the session was for.
        what: String,
        /// What ONNX Runtime said.
        #[source]
        source: ort::Error,
    },
}

/// Where inference runs, as given by `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The CPU execution provider.
    Cpu,
    /// CUDA on the given device index; an error when it cannot be used.
    Cuda(i32),
    /// CUDA device 0 when it works, the CPU otherwise (with a one-line warning).
    #[default]
    Auto,
}

impl FromStr for Device {
    type Err = RuntimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            "auto" => Ok(Device::Auto),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<i32>().ok())
                .filter(|n| *n >= 0)
                .map(Device::Cuda)
                .ok_or_else(|| RuntimeError::BadDevice(s.to_owned())),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
            Device::Auto => f.write_str("auto"),
        }
    }
}

/// How sessions are created: device and threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionConfig {
    /// Requested device.
    pub device: Device,
    /// Intra-op threads; `None` lets ONNX Runtime choose (one per core).
    pub threads: Option<usize>,
}

impl SessionConfig {
    /// Sets the device.
    pub fn with_device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Sets the intra-op thread count (0 means let ONNX Runtime choose).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = (threads > 0).then_some(threads);
        self
    }
}

/// The process-wide ONNX Runtime: the library it was loaded from and its environment.
pub struct Runtime {
    library: PathBuf,
    environment: ort::environment::Environment,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").field("library", &self.library).finish_non_exhaustive()
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());
static AUTO_WARNED: OnceLock<()> = OnceLock::new();

impl Runtime {
    /// The runtime, loading the library on first use.
    pub fn get() -> Result<&'static Runtime, RuntimeError> {
        if let Some(rt) = RUNTIME.get() {
            return Ok(rt);
        }
        let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rt) = RUNTIME.get() {
            return Ok(rt);
        }
        let library = locate_library()?;
        let builder =
            ort::init_from(&library).map_err(|source| RuntimeError::Load { path: library.clone(), source })?;
        let environment = builder.with_name("clip-audit").build().map_err(RuntimeError::Environment)?;
        // ONNX Runtime's own log would print its error line (in red, without the file) before
        // clip-audit's message, which says the same with the file and what to do: its errors
        // reach us as statuses, so its log keeps only what is fatal.
        environment.set_log_level(ort::logging::LogLevel::Fatal);
        Ok(RUNTIME.get_or_init(|| Runtime { library, environment }))
    }

    /// The library file in use.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// ONNX Runtime's own build string (version, git commit).
    pub fn build_info(&self) -> &'static str {
        ort::info()
    }

    /// Creates a session from model bytes held in memory (possibly edited, e.g. with taps).
    ///
    /// `model_dir` is the folder of the original `.onnx` file: tensors stored as external
    /// data are read from there, so large models load without writing an edited copy.
    /// Returns the session and the device it actually runs on.
    pub fn session_from_bytes(
        &self,
        bytes: &[u8],
        model_dir: Option<&Path>,
        config: &SessionConfig,
        what: &str,
    ) -> Result<(Session, Device), RuntimeError> {
        let attempt = |device: Device| -> Result<Session, RuntimeError> {
            let wrap = |source: ort::Error| RuntimeError::Session { what: what.to_owned(), source };
            let mut builder = Session::builder(&self.environment)
                .map_err(wrap)?
                .with_optimization_level(GraphOptimizationLevel::Level3)
                .map_err(|e| wrap(e.into()))?;
            if let Some(n) = config.threads {
                builder = builder.with_intra_threads(n).map_err(|e| wrap(e.into()))?;
            }
            if let Some(dir) = model_dir {
                builder = builder
                    .with_config_entry("session.model_external_initializers_file_folder_path", dir.to_string_lossy())
                    .map_err(|e| wrap(e.into()))?;
            }
            if let Device::Cuda(index) = device {
                cuda_preflight()?;
                let cuda = ep::CUDA::default().with_device_id(index).build().error_on_failure();
                builder = builder.with_execution_providers([cuda]).map_err(|e| RuntimeError::CudaUnavailable {
                    reason: explain_cuda_failure(&ort::Error::from(e)),
                })?;
            }
            builder.commit_from_memory(bytes).map_err(wrap)
        };
        match config.device {
            Device::Cpu => attempt(Device::Cpu).map(|s| (s, Device::Cpu)),
            Device::Cuda(i) => attempt(Device::Cuda(i)).map(|s| (s, Device::Cuda(i))),
            Device::Auto => match attempt(Device::Cuda(0)) {
                Ok(session) => Ok((session, Device::Cuda(0))),
                Err(RuntimeError::CudaUnavailable { reason }) => {
                    if AUTO_WARNED.set(()).is_ok() {
                        eprintln!("warning: --device auto: CUDA unavailable ({reason}); running on CPU");
                    }
                    attempt(Device::Cpu).map(|s| (s, Device::Cpu))
                }
                Err(other) => Err(other),
            },
        }
    }
}

/// Checks what can be checked before registering CUDA, so the error says why.
fn cuda_preflight() -> Result<(), RuntimeError> {
    match ep::CUDA::is_available() {
        Ok(true) => Ok(()),
        Ok(false) => Err(RuntimeError::CudaUnavailable {
            reason: "the ONNX Runtime library in use was built without the CUDA execution provider; \
                     install the GPU build (`make ort-gpu`, from onnxruntime-gpu on PyPI) or run with --device cpu"
                .to_owned(),
        }),
        Err(e) => Err(RuntimeError::CudaUnavailable {
            reason: format!("could not ask ONNX Runtime which providers it has: {e}"),
        }),
    }
}

/// Turns ONNX Runtime's CUDA registration error into a reason a user can act on.
fn explain_cuda_failure(err: &ort::Error) -> String {
    let msg = err.to_string();
    let lower = msg.to_ascii_lowercase();
    if lower.contains("cannot open shared object")
        || lower.contains("libcudart")
        || lower.contains("libcublas")
        || lower.contains("libcudnn")
    {
        format!(
            "the CUDA or cuDNN libraries could not be loaded ({msg}); install onnxruntime-gpu's [cuda,cudnn] extras or the CUDA 13 toolkit and cuDNN 9, and put them on LD_LIBRARY_PATH"
        )
    } else if lower.contains("no cuda-capable device")
        || lower.contains("cudaerrornodevice")
        || lower.contains("invalid device ordinal")
    {
        format!("no usable CUDA device ({msg}); check nvidia-smi and the device index, or run with --device cpu")
    } else {
        msg
    }
}

/// Finds the ONNX Runtime library: `ORT_DYLIB_PATH`, the project's `.ort/lib`, then beside the executable.
pub fn locate_library() -> Result<PathBuf, RuntimeError> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(RuntimeError::EnvPathMissing { path }) };
    }
    let mut dirs = Vec::new();
    // The project's own folder: where this binary was built from, then the working
    // directory and its ancestors (a checkout used from a subfolder).
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ort/lib"));
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let candidate = dir.join(".ort/lib");
            if !dirs.contains(&candidate) {
                dirs.push(candidate);
            }
        }
    }
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        dirs.push(exe_dir.join("lib"));
        dirs.push(exe_dir);
    }
    for dir in &dirs {
        for name in LIB_NAMES {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(RuntimeError::LibraryNotFound { searched: dirs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_parses_every_documented_form() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("CUDA".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
        assert_eq!("auto".parse::<Device>().unwrap(), Device::Auto);
        for bad in ["cuda:", "cuda:-1", "tpu", "cuda:x"] {
            let err = bad.parse::<Device>().unwrap_err().to_string();
            assert!(err.contains("use cpu, cuda, cuda:N or auto"), "{bad}: {err}");
        }
    }
}
