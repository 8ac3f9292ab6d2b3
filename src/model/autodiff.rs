//! Gradients of an ONNX graph with respect to its input, as another ONNX graph.
//!
//! Feature visualization optimises an image to excite a unit, so it needs ∂(objective)/∂pixels,
//! and ONNX Runtime's inference API computes no gradient. ARCHITECTURE.md ("Feature
//! visualization: the route chosen") compares the routes; this module is the one chosen:
//! reverse-mode differentiation done on the graph itself. [`build`] walks the nodes between
//! the input and a target tensor backwards and appends, for each, the nodes of its
//! vector-Jacobian product (VJP), written with ordinary ONNX operators. The result is one graph
//! with two inputs (the image and `seed` = ∂L/∂target) and two outputs (the target and
//! ∂L/∂input), which ONNX Runtime runs like any model, on CPU or CUDA. Any scalar objective
//! of the target is then handled in Rust: it gives the seed.
//!
//! Shapes are static. A probe run ([`probe`]) executes the forward graph once at the batch size
//! that will be optimised, with every intermediate tensor as an output, and records each
//! tensor's shape, element type and, for small integer tensors, the values (slice bounds and
//! gather indices are often computed in the graph rather than stored). The VJP rules then
//! write reductions for broadcasting, paddings and reshapes as constants.
//!
//! Only tensors that are float, depend on the input and lead to the target are
//! differentiated: shape arithmetic, masks and weights are constants to the gradient. The
//! rules cover the operators CLIP-family exports use (ViT and ResNet towers); anything else is
//! refused by name ([`AutodiffError::Unsupported`]) rather than differentiated wrongly. Each
//! rule is checked against central finite differences on a one-node graph (tests below) and
//! whole towers against torch autograd (`tests/autodiff_goldens.rs`, goldens from
//! `scripts/make_autodiff_goldens.py`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

#[cfg(test)]
use ndarray::IxDyn;
use ndarray::{ArrayD, ArrayViewD};
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};
use prost::Message;

use super::graph::proto as onnx;
use super::graph::{GraphError, OnnxGraph};
use super::onnx_build::{attr_int, attr_ints, node, value_f32 as value_info};
use super::runtime::{Device, Runtime, RuntimeError, SessionConfig};

/// Why no gradient graph could be made or run.
#[derive(Debug, thiserror::Error)]
pub enum AutodiffError {
    /// The graph could not be read or edited.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// ONNX Runtime could not create or run a session.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// ONNX Runtime failed while running the probe or the gradient graph.
    #[error("{what}: {source}")]
    Run {
        /// Which run.
        what: String,
        /// ONNX Runtime's error.
        #[source]
        source: ort::Error,
    },
    /// A node on the path from the input to the target has no gradient rule here.
    #[error(transparent)]
    Unsupported(Box<UnsupportedNode>),
    /// The target does not depend on the input (or is not a float tensor).
    #[error(
        "{path}: tensor {target:?} does not depend on the input {input:?} through float tensors, so it has no gradient with respect to it"
    )]
    Disconnected {
        /// The model file.
        path: String,
        /// The input.
        input: String,
        /// The target.
        target: String,
    },
    /// Something the probe should have recorded is missing or malformed.
    #[error("{path}: {message}")]
    Probe {
        /// The model file.
        path: String,
        /// What was wrong.
        message: String,
    },
}

/// A node whose gradient cannot be written, and why.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: node {node:?} ({op}) lies between {input:?} and {target:?}, and its gradient is not supported: {reason}; tap an earlier tensor, or report the operator so a rule can be added"
)]
pub struct UnsupportedNode {
    /// The model file.
    pub path: String,
    /// The node's name.
    pub node: String,
    /// Its operator.
    pub op: String,
    /// The differentiated input.
    pub input: String,
    /// The target tensor.
    pub target: String,
    /// What is missing.
    pub reason: String,
}

/// What the probe run recorded about one tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Its shape at the probed batch size.
    pub shape: Vec<usize>,
    /// Whether it is float32 (only float32 tensors are differentiated).
    pub float: bool,
    /// Whether it is a float type other than float32 (float16, bfloat16, float64): a path
    /// through one is refused rather than dropped.
    pub other_float: bool,
    /// Its values, when it is an integer tensor of at most [`SMALL_INTS`] elements.
    pub ints: Option<Vec<i64>>,
    /// Its values, when it is a float32 tensor of one element.
    pub scalar: Option<f32>,
}

/// Integer tensors up to this many elements have their values recorded by the probe.
pub const SMALL_INTS: usize = 4096;

/// Shapes, types and small values of every tensor the target depends on, at one batch size.
pub type Probe = HashMap<String, TensorInfo>;

/// A model's forward graph up to `target` with its backward pass appended.
#[derive(Debug, Clone)]
pub struct GradientGraph {
    /// The ONNX model bytes.
    pub bytes: Vec<u8>,
    /// The differentiated input (the pixels).
    pub input: String,
    /// Its shape, batch included.
    pub input_shape: Vec<usize>,
    /// The target tensor, also an output.
    pub target: String,
    /// Its shape.
    pub target_shape: Vec<usize>,
    /// Name of the extra input that takes ∂L/∂target.
    pub seed: String,
    /// Name of the output that gives ∂L/∂input.
    pub grad: String,
    /// How many nodes of each operator were differentiated.
    pub differentiated: BTreeMap<String, usize>,
}

const PREFIX: &str = "clip_audit.grad";

/// Names of the tensors `target` depends on (nodes kept for it), in graph order, and the
/// nodes that compute them.
fn needed_nodes<'g>(graph: &'g onnx::GraphProto, target: &str) -> Vec<&'g onnx::NodeProto> {
    let mut needed: BTreeSet<&str> = BTreeSet::from([target]);
    let mut keep = vec![false; graph.node.len()];
    for (i, node) in graph.node.iter().enumerate().rev() {
        if node.output.iter().any(|o| needed.contains(o.as_str())) {
            keep[i] = true;
            needed.extend(node.input.iter().map(String::as_str).filter(|n| !n.is_empty()));
        }
    }
    graph.node.iter().zip(keep).filter_map(|(n, k)| k.then_some(n)).collect()
}

/// Runs the forward graph once on `x` with every tensor `target` depends on as an output and
/// records what [`build`] needs: shapes, element types, small integer values. Initializers are
/// read from the file instead of being run.
pub fn probe(
    graph: &OnnxGraph,
    input: &str,
    target: &str,
    x: ArrayViewD<'_, f32>,
    config: &SessionConfig,
) -> Result<Probe, AutodiffError> {
    graph.check_tensor(target)?;
    let g = graph.proto().graph.as_ref().expect("checked in decode");
    let nodes = needed_nodes(g, target);
    let outputs: Vec<&str> =
        nodes.iter().flat_map(|n| n.output.iter().map(String::as_str)).filter(|o| !o.is_empty()).collect();
    // Cut to what the target needs, so a file holding both towers asks only for the pixels.
    let mut cut = graph.clone();
    cut.keep_only(&outputs)?;
    if !cut.input_names().contains(&input) {
        return Err(AutodiffError::Disconnected {
            path: graph.path().display().to_string(),
            input: input.into(),
            target: target.into(),
        });
    }
    let bytes = cut.to_bytes();
    let runtime = Runtime::get()?;
    let cpu = SessionConfig { device: Device::Cpu, ..*config };
    let (mut session, _) = runtime.session_from_bytes(&bytes, graph.path().parent(), &cpu, "the gradient probe")?;
    let what = format!("probe run of {}", graph.path().display());
    let run_err = |source| AutodiffError::Run { what: what.clone(), source };
    let x_shape = x.shape().to_vec();
    let tensor = TensorRef::from_array_view(x).map_err(run_err)?;
    let results = session.run(vec![(input, ort::session::SessionInputValue::from(tensor))]).map_err(run_err)?;
    let mut probe = Probe::new();
    probe.insert(
        input.to_owned(),
        TensorInfo { shape: x_shape, float: true, other_float: false, ints: None, scalar: None },
    );
    for name in outputs {
        let Some(value) = results.get(name) else { continue };
        let info = match value.dtype() {
            ValueType::Tensor { ty: TensorElementType::Float32, .. } => {
                let a = value.try_extract_array::<f32>().map_err(run_err)?;
                let scalar = (a.len() == 1).then(|| a.iter().copied().next().unwrap_or(0.0));
                TensorInfo { shape: a.shape().to_vec(), float: true, other_float: false, ints: None, scalar }
            }
            ValueType::Tensor { ty: TensorElementType::Int64, .. } => {
                let a = value.try_extract_array::<i64>().map_err(run_err)?;
                let ints = (a.len() <= SMALL_INTS).then(|| a.iter().copied().collect());
                TensorInfo { shape: a.shape().to_vec(), float: false, other_float: false, ints, scalar: None }
            }
            ValueType::Tensor { ty: TensorElementType::Int32, .. } => {
                let a = value.try_extract_array::<i32>().map_err(run_err)?;
                let ints = (a.len() <= SMALL_INTS).then(|| a.iter().map(|&v| i64::from(v)).collect());
                TensorInfo { shape: a.shape().to_vec(), float: false, other_float: false, ints, scalar: None }
            }
            ValueType::Tensor { ty, shape, .. } => TensorInfo {
                shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
                float: false,
                other_float: matches!(
                    ty,
                    TensorElementType::Float16 | TensorElementType::Bfloat16 | TensorElementType::Float64
                ),
                ints: None,
                scalar: None,
            },
            _ => continue,
        };
        probe.insert(name.to_owned(), info);
    }
    for t in &g.initializer {
        probe.entry(t.name().to_owned()).or_insert_with(|| initializer_info(t));
    }
    Ok(probe)
}

/// The little [`probe`] needs to know of an initializer: shape, type, small values (none for
/// data kept in an external file, or when the stored values do not fill the shape).
fn initializer_info(t: &onnx::TensorProto) -> TensorInfo {
    use onnx::tensor_proto::{DataLocation, DataType};
    let shape: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let n: usize = shape.iter().product();
    let external = t.data_location() == DataLocation::External;
    let raw = t.raw_data.as_deref().unwrap_or_default();
    let dt = t.data_type();
    let ints: Option<Vec<i64>> = match dt {
        _ if external || n > SMALL_INTS => None,
        d if d == DataType::Int64 as i32 => Some(if raw.is_empty() {
            t.int64_data.clone()
        } else {
            raw.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
        }),
        d if d == DataType::Int32 as i32 => Some(if raw.is_empty() {
            t.int32_data.iter().map(|&v| i64::from(v)).collect()
        } else {
            raw.chunks_exact(4).map(|c| i64::from(i32::from_le_bytes(c.try_into().expect("4 bytes")))).collect()
        }),
        _ => None,
    };
    let ints = ints.filter(|v| v.len() == n);
    let float = dt == DataType::Float as i32;
    let other_float = [DataType::Float16, DataType::Bfloat16, DataType::Double].iter().any(|d| *d as i32 == dt);
    let scalar = if float && n == 1 && !external {
        if raw.len() == 4 {
            Some(f32::from_le_bytes(raw.try_into().expect("4 bytes")))
        } else {
            t.float_data.first().copied()
        }
    } else {
        None
    };
    TensorInfo { shape, float, other_float, ints, scalar }
}

/// Operators whose outputs depend on the shape of their input, not its values.
const SHAPE_ONLY: [&str; 2] = ["Shape", "Size"];

/// Builds the gradient graph of `target` with respect to `input` from a [`probe`] at the batch
/// size to be used. Fails by name on an operator without a rule, and when the target does not
/// depend on the input.
pub fn build(graph: &OnnxGraph, input: &str, target: &str, probe: &Probe) -> Result<GradientGraph, AutodiffError> {
    let path = graph.path().display().to_string();
    if graph.opset() < 13 {
        return Err(AutodiffError::Probe {
            path,
            message: format!(
                "opset {} is older than 13, the first whose reductions take axes as inputs; re-export with opset 13 or later",
                graph.opset()
            ),
        });
    }
    let model = graph.proto();
    let g = model.graph.as_ref().expect("checked in decode");
    let nodes = needed_nodes(g, target);
    let info = |name: &str| probe.get(name);

    // Forward: float tensors that depend on the input (differentiated), and every tensor whose
    // values depend on it (which must not be frozen into the graph as a constant: slice bounds,
    // gather indices, exponents). Shape and Size read only the shape.
    let mut fwd: BTreeSet<&str> = BTreeSet::from([input]);
    let mut valued: BTreeSet<&str> = BTreeSet::from([input]);
    for node in &nodes {
        if node.input.iter().any(|i| fwd.contains(i.as_str())) {
            for o in &node.output {
                if info(o).is_some_and(|t| t.float) {
                    fwd.insert(o);
                } else if info(o).is_some_and(|t| t.other_float) {
                    return Err(AutodiffError::Unsupported(Box::new(UnsupportedNode {
                        path,
                        node: node.name().to_owned(),
                        op: node.op_type().to_owned(),
                        input: input.into(),
                        target: target.into(),
                        reason: format!(
                            "its output {o:?} is a float type other than float32 (float16, bfloat16 or float64), which the gradient graph does not carry; export the tower in float32"
                        ),
                    })));
                }
            }
        }
        if !SHAPE_ONLY.contains(&node.op_type()) && node.input.iter().any(|i| valued.contains(i.as_str())) {
            valued.extend(node.output.iter().map(String::as_str));
        }
    }
    // Every tensor a rule reads the shape of was probed (none is missing silently).
    for node in nodes.iter().filter(|n| n.output.iter().any(|o| fwd.contains(o.as_str()))) {
        for name in node.input.iter().chain(&node.output).filter(|n| !n.is_empty()) {
            if info(name).is_none() {
                return Err(AutodiffError::Probe {
                    path,
                    message: format!("the probe run recorded no shape for {name:?} (node {:?})", node.name()),
                });
            }
        }
    }
    if !fwd.contains(target) {
        return Err(AutodiffError::Disconnected { path, input: input.into(), target: target.into() });
    }
    let input_shape = info(input)
        .map(|t| t.shape.clone())
        .ok_or_else(|| AutodiffError::Probe { path: path.clone(), message: format!("no shape for {input:?}") })?;
    let target_shape = info(target)
        .map(|t| t.shape.clone())
        .ok_or_else(|| AutodiffError::Probe { path: path.clone(), message: format!("no shape for {target:?}") })?;

    let seed = format!("{PREFIX}.seed");
    let mut e = Emitter { probe, nodes: Vec::new(), inits: Vec::new(), count: 0, consts: HashMap::new() };
    let mut contributions: HashMap<String, Vec<String>> = HashMap::new();
    contributions.insert(target.to_owned(), vec![seed.clone()]);
    let mut differentiated: BTreeMap<String, usize> = BTreeMap::new();
    for node in nodes.iter().rev() {
        let active_out = node.output.iter().any(|o| fwd.contains(o.as_str()) && contributions.contains_key(o));
        let active_in = node.input.iter().any(|i| fwd.contains(i.as_str()));
        if !active_out || !active_in {
            continue;
        }
        let grads: Vec<Option<String>> =
            node.output.iter().map(|o| contributions.remove(o).map(|c| e.sum(&c, o))).collect();
        let ctx = Ctx { node, fwd: &fwd, valued: &valued, path: &path, input, target };
        let produced = vjp(&mut e, &ctx, &grads)?;
        *differentiated.entry(node.op_type().to_owned()).or_default() += 1;
        for (name, grad) in produced {
            contributions.entry(name).or_default().push(grad);
        }
    }
    let parts = contributions.remove(input).ok_or_else(|| AutodiffError::Disconnected {
        path: path.clone(),
        input: input.into(),
        target: target.into(),
    })?;
    let summed = e.sum(&parts, input);
    let grad = format!("{PREFIX}.input");
    e.nodes.push(node("Identity", &[summed.as_str()], &grad, vec![]));

    // The new model: the forward nodes the target needs, then the backward nodes.
    let mut out = model.clone();
    let gm = out.graph.as_mut().expect("checked in decode");
    let keep: BTreeSet<&str> = nodes.iter().flat_map(|n| n.input.iter().map(String::as_str)).collect();
    gm.node = nodes.iter().map(|n| (*n).clone()).chain(e.nodes).collect();
    gm.initializer.retain(|t| keep.contains(t.name()));
    gm.initializer.extend(e.inits);
    gm.input.retain(|i| i.name() == input || keep.contains(i.name()));
    gm.input.push(value_info(&seed, &target_shape));
    gm.output = vec![
        onnx::ValueInfoProto { name: Some(target.to_owned()), ..Default::default() },
        onnx::ValueInfoProto { name: Some(grad.clone()), ..Default::default() },
    ];
    gm.value_info.clear();
    Ok(GradientGraph {
        bytes: out.encode_to_vec(),
        input: input.to_owned(),
        input_shape,
        target: target.to_owned(),
        target_shape,
        seed,
        grad,
        differentiated,
    })
}

/// A compiled gradient graph: one call gives the target and ∂L/∂input for a given ∂L/∂target.
pub struct GradientSession {
    session: Session,
    graph: GradientGraph,
    device: Device,
}

impl std::fmt::Debug for GradientSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GradientSession").field("target", &self.graph.target).field("device", &self.device).finish()
    }
}

impl GradientSession {
    /// Probes `graph` at `x`'s shape, builds the gradient graph of `target` and opens a session
    /// for it on `config`'s device.
    pub fn new(
        graph: &OnnxGraph,
        input: &str,
        target: &str,
        x: ArrayViewD<'_, f32>,
        config: &SessionConfig,
    ) -> Result<Self, AutodiffError> {
        let probe = probe(graph, input, target, x.view(), config)?;
        let built = build(graph, input, target, &probe)?;
        Self::from_graph(built, graph.path().parent(), config)
    }

    /// Opens a session for a built gradient graph.
    pub fn from_graph(graph: GradientGraph, dir: Option<&Path>, config: &SessionConfig) -> Result<Self, AutodiffError> {
        let (session, device) = Runtime::get()?.session_from_bytes(&graph.bytes, dir, config, "the gradient graph")?;
        Ok(Self { session, graph, device })
    }

    /// The graph this session runs.
    pub fn graph(&self) -> &GradientGraph {
        &self.graph
    }

    /// The device it runs on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Runs forward and backward: returns the target at `x` and ∂L/∂x where L = Σ seed ⊙ target.
    /// `x` and `seed` must have the probed shapes.
    pub fn run(
        &mut self,
        x: ArrayViewD<'_, f32>,
        seed: ArrayViewD<'_, f32>,
    ) -> Result<(ArrayD<f32>, ArrayD<f32>), AutodiffError> {
        let bad = |what: &str, got: &[usize], want: &[usize]| AutodiffError::Probe {
            path: "gradient graph".into(),
            message: format!("{what} has shape {got:?}; the graph was built for {want:?}"),
        };
        if x.shape() != self.graph.input_shape.as_slice() {
            return Err(bad("the input", x.shape(), &self.graph.input_shape));
        }
        if seed.shape() != self.graph.target_shape.as_slice() {
            return Err(bad("the seed", seed.shape(), &self.graph.target_shape));
        }
        let run_err = |source| AutodiffError::Run { what: "gradient graph run".into(), source };
        let xt = TensorRef::from_array_view(x).map_err(run_err)?;
        let st = TensorRef::from_array_view(seed).map_err(run_err)?;
        let results = self
            .session
            .run(vec![
                (self.graph.input.as_str(), ort::session::SessionInputValue::from(xt)),
                (self.graph.seed.as_str(), ort::session::SessionInputValue::from(st)),
            ])
            .map_err(run_err)?;
        let get = |name: &str| -> Result<ArrayD<f32>, AutodiffError> {
            let v = results.get(name).ok_or_else(|| AutodiffError::Probe {
                path: "gradient graph".into(),
                message: format!("output {name:?} missing"),
            })?;
            Ok(v.try_extract_array::<f32>().map_err(run_err)?.to_owned())
        };
        let (target, grad) = (get(&self.graph.target)?, get(&self.graph.grad)?);
        if grad.shape() != self.graph.input_shape.as_slice() {
            return Err(AutodiffError::Probe {
                path: "gradient graph".into(),
                message: format!(
                    "the gradient has shape {:?}, not the input's {:?}; a rule is wrong, please report it",
                    grad.shape(),
                    self.graph.input_shape
                ),
            });
        }
        Ok((target, grad))
    }
}

/// Reading a forward node's attributes.
fn get_attr<'a>(n: &'a onnx::NodeProto, name: &str) -> Option<&'a onnx::AttributeProto> {
    n.attribute.iter().find(|a| a.name() == name)
}

fn int_of(n: &onnx::NodeProto, name: &str, default: i64) -> i64 {
    get_attr(n, name).and_then(|a| a.i).unwrap_or(default)
}

fn ints_of(n: &onnx::NodeProto, name: &str) -> Option<Vec<i64>> {
    get_attr(n, name).map(|a| a.ints.clone())
}

fn float_of(n: &onnx::NodeProto, name: &str, default: f32) -> f32 {
    get_attr(n, name).and_then(|a| a.f).unwrap_or(default)
}

fn string_of<'a>(n: &'a onnx::NodeProto, name: &str) -> Option<&'a str> {
    get_attr(n, name).and_then(|a| a.s.as_deref()).and_then(|s| std::str::from_utf8(s).ok())
}

/// Normalises a possibly negative axis.
fn axis(a: i64, rank: usize) -> usize {
    if a < 0 { (a + rank as i64).max(0) as usize } else { a as usize }
}

/// Writes backward nodes and their constants.
struct Emitter<'p> {
    probe: &'p Probe,
    nodes: Vec<onnx::NodeProto>,
    inits: Vec<onnx::TensorProto>,
    count: usize,
    consts: HashMap<String, String>,
}

impl Emitter<'_> {
    fn fresh(&mut self, hint: &str) -> String {
        self.count += 1;
        format!("{PREFIX}.{}.{hint}", self.count)
    }

    fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<onnx::AttributeProto>) -> String {
        let out = self.fresh(op);
        self.nodes.push(node(op, inputs, &out, attrs));
        out
    }

    fn constant(&mut self, key: String, t: onnx::TensorProto) -> String {
        if let Some(name) = self.consts.get(&key) {
            return name.clone();
        }
        let name = self.fresh("const");
        self.inits.push(onnx::TensorProto { name: Some(name.clone()), ..t });
        self.consts.insert(key, name.clone());
        name
    }

    fn ints(&mut self, v: &[i64]) -> String {
        let t = onnx::TensorProto {
            dims: vec![v.len() as i64],
            data_type: Some(onnx::tensor_proto::DataType::Int64 as i32),
            int64_data: v.to_vec(),
            ..Default::default()
        };
        self.constant(format!("i{v:?}"), t)
    }

    fn shape_const(&mut self, shape: &[usize]) -> String {
        self.ints(&shape.iter().map(|&d| d as i64).collect::<Vec<_>>())
    }

    fn floats(&mut self, dims: &[usize], v: &[f32]) -> String {
        let t = onnx::TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(onnx::tensor_proto::DataType::Float as i32),
            raw_data: Some(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            ..Default::default()
        };
        let key = format!("f{dims:?}{:?}", v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        self.constant(key, t)
    }

    fn scalar(&mut self, v: f32) -> String {
        self.floats(&[], &[v])
    }

    fn shape(&self, name: &str) -> Vec<usize> {
        self.probe.get(name).map(|t| t.shape.clone()).unwrap_or_default()
    }

    /// The sum of the gradient contributions to one tensor.
    fn sum(&mut self, parts: &[String], of: &str) -> String {
        match parts {
            [one] => one.clone(),
            _ => {
                let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                let out = self.fresh(&format!("sum.{}", of.rsplit('/').next().unwrap_or(of)));
                self.nodes.push(node("Sum", &refs, &out, vec![]));
                out
            }
        }
    }

    fn reshape(&mut self, g: &str, shape: &[usize]) -> String {
        let s = self.shape_const(shape);
        self.op("Reshape", &[g, &s], vec![])
    }

    fn reduce_sum(&mut self, g: &str, axes: &[usize]) -> String {
        let a = self.ints(&axes.iter().map(|&x| x as i64).collect::<Vec<_>>());
        self.op("ReduceSum", &[g, &a], vec![attr_int("keepdims", 1)])
    }

    /// Sums `g` (of the broadcast shape `gs`) down to the shape `xs` of an operand.
    fn unbroadcast(&mut self, g: &str, gs: &[usize], xs: &[usize]) -> String {
        if gs == xs {
            return g.to_owned();
        }
        let lead = gs.len().saturating_sub(xs.len());
        let axes: Vec<usize> = (0..gs.len()).filter(|&i| i < lead || (xs[i - lead] == 1 && gs[i] != 1)).collect();
        let reduced = if axes.is_empty() { g.to_owned() } else { self.reduce_sum(g, &axes) };
        self.reshape(&reduced, xs)
    }

    fn transpose(&mut self, g: &str, perm: &[usize]) -> String {
        let p: Vec<i64> = perm.iter().map(|&x| x as i64).collect();
        self.op("Transpose", &[g], vec![attr_ints("perm", &p)])
    }

    /// Swaps the last two axes of a tensor of rank `rank`.
    fn swap_last(&mut self, g: &str, rank: usize) -> String {
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.swap(rank - 2, rank - 1);
        self.transpose(g, &perm)
    }

    fn mul(&mut self, a: &str, b: &str) -> String {
        self.op("Mul", &[a, b], vec![])
    }

    fn scale(&mut self, g: &str, k: f32) -> String {
        if k == 1.0 {
            return g.to_owned();
        }
        let c = self.scalar(k);
        self.mul(g, &c)
    }

    /// Zero-pads `g` by `begins`/`ends` per axis.
    fn pad(&mut self, g: &str, begins: &[usize], ends: &[usize]) -> String {
        let p: Vec<i64> = begins.iter().chain(ends).map(|&x| x as i64).collect();
        let pads = self.ints(&p);
        self.op("Pad", &[g, &pads], vec![])
    }
}

/// The node being differentiated and what the error messages need.
struct Ctx<'a> {
    node: &'a onnx::NodeProto,
    fwd: &'a BTreeSet<&'a str>,
    valued: &'a BTreeSet<&'a str>,
    path: &'a str,
    input: &'a str,
    target: &'a str,
}

impl Ctx<'_> {
    fn active(&self, i: usize) -> bool {
        self.node.input.get(i).is_some_and(|n| self.fwd.contains(n.as_str()))
    }

    fn name(&self, i: usize) -> &str {
        self.node.input.get(i).map_or("", String::as_str)
    }

    fn out(&self, i: usize) -> &str {
        self.node.output.get(i).map_or("", String::as_str)
    }

    fn unsupported(&self, reason: impl Into<String>) -> AutodiffError {
        AutodiffError::Unsupported(Box::new(UnsupportedNode {
            path: self.path.to_owned(),
            node: self.node.name().to_owned(),
            op: self.node.op_type().to_owned(),
            input: self.input.to_owned(),
            target: self.target.to_owned(),
            reason: reason.into(),
        }))
    }

    /// Fails when any input but those listed is differentiable.
    fn only(&self, allowed: &[usize]) -> Result<(), AutodiffError> {
        for i in 0..self.node.input.len() {
            if self.active(i) && !allowed.contains(&i) {
                return Err(self.unsupported(format!(
                    "its input {i} ({:?}) depends on the input too; only inputs {allowed:?} may",
                    self.name(i)
                )));
            }
        }
        Ok(())
    }

    fn ints(&self, e: &Emitter<'_>, i: usize) -> Result<Vec<i64>, AutodiffError> {
        if self.valued.contains(self.name(i)) {
            return Err(self.unsupported(format!(
                "its integer input {:?} depends on the pixels' values, so it cannot be fixed at the probe's value",
                self.name(i)
            )));
        }
        e.probe.get(self.name(i)).and_then(|t| t.ints.clone()).ok_or_else(|| {
            self.unsupported(format!("the values of its integer input {:?} are not known", self.name(i)))
        })
    }
}

/// Emits the VJP of one node: given the gradients of its outputs (None = zero), returns the
/// gradient contributions to its differentiable inputs.
fn vjp(e: &mut Emitter<'_>, c: &Ctx<'_>, grads: &[Option<String>]) -> Result<Vec<(String, String)>, AutodiffError> {
    let n = c.node;
    let op = n.op_type();
    let mut out: Vec<(String, String)> = Vec::new();
    // Single-output operators: the gradient of output 0.
    let g0 = || {
        grads.first().cloned().flatten().ok_or_else(|| c.unsupported("only a later output of it leads to the target"))
    };
    let ys = e.shape(c.out(0));
    match op {
        "Identity" | "Dropout" => {
            c.only(&[0])?;
            if let Ok(g) = g0() {
                out.push((c.name(0).into(), g));
            }
        }
        "Cast" => {
            c.only(&[0])?;
            if let Ok(g) = g0() {
                out.push((c.name(0).into(), g));
            }
        }
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => {
            c.only(&[0])?;
            let g = g0()?;
            let xs = e.shape(c.name(0));
            let r = e.reshape(&g, &xs);
            out.push((c.name(0).into(), r));
        }
        "Transpose" => {
            c.only(&[0])?;
            let g = g0()?;
            let rank = ys.len();
            let perm: Vec<usize> = ints_of(n, "perm")
                .map(|p| p.iter().map(|&a| axis(a, rank)).collect())
                .unwrap_or_else(|| (0..rank).rev().collect());
            let mut inv = vec![0; rank];
            for (i, &p) in perm.iter().enumerate() {
                inv[p] = i;
            }
            let t = e.transpose(&g, &inv);
            out.push((c.name(0).into(), t));
        }
        "Add" | "Sub" | "Sum" => {
            let g = g0()?;
            for i in 0..n.input.len() {
                if !c.active(i) {
                    continue;
                }
                let xs = e.shape(c.name(i));
                let mut r = e.unbroadcast(&g, &ys, &xs);
                if op == "Sub" && i == 1 {
                    r = e.op("Neg", &[&r], vec![]);
                }
                out.push((c.name(i).into(), r));
            }
        }
        "Mul" => {
            let g = g0()?;
            for (i, other) in [(0, 1), (1, 0)] {
                if c.active(i) {
                    let xs = e.shape(c.name(i));
                    let p = e.mul(&g, c.name(other));
                    let r = e.unbroadcast(&p, &ys, &xs);
                    out.push((c.name(i).into(), r));
                }
            }
        }
        "Div" => {
            let g = g0()?;
            if c.active(0) {
                let xs = e.shape(c.name(0));
                let q = e.op("Div", &[&g, c.name(1)], vec![]);
                let r = e.unbroadcast(&q, &ys, &xs);
                out.push((c.name(0).into(), r));
            }
            if c.active(1) {
                // ∂(a/b)/∂b = −y/b.
                let xs = e.shape(c.name(1));
                let gy = e.mul(&g, c.out(0));
                let q = e.op("Div", &[&gy, c.name(1)], vec![]);
                let neg = e.op("Neg", &[&q], vec![]);
                let r = e.unbroadcast(&neg, &ys, &xs);
                out.push((c.name(1).into(), r));
            }
        }
        "Neg" => {
            c.only(&[0])?;
            let g = g0()?;
            let r = e.op("Neg", &[&g], vec![]);
            out.push((c.name(0).into(), r));
        }
        "Relu" => {
            c.only(&[0])?;
            let g = g0()?;
            let zero = e.scalar(0.0);
            let pos = e.op("Greater", &[c.name(0), &zero], vec![]);
            let mask = e.op("Cast", &[&pos], vec![attr_int("to", onnx::tensor_proto::DataType::Float as i64)]);
            let r = e.mul(&g, &mask);
            out.push((c.name(0).into(), r));
        }
        "Clip" => {
            c.only(&[0])?;
            let g = g0()?;
            let mut mask: Option<String> = None;
            for (i, cmp) in [(1, "GreaterOrEqual"), (2, "LessOrEqual")] {
                if !c.name(i).is_empty() {
                    let m = e.op(cmp, &[c.name(0), c.name(i)], vec![]);
                    mask = Some(match mask {
                        None => m,
                        Some(prev) => e.op("And", &[&prev, &m], vec![]),
                    });
                }
            }
            let r = match mask {
                None => g,
                Some(m) => {
                    let f = e.op("Cast", &[&m], vec![attr_int("to", onnx::tensor_proto::DataType::Float as i64)]);
                    e.mul(&g, &f)
                }
            };
            out.push((c.name(0).into(), r));
        }
        "Sigmoid" => {
            c.only(&[0])?;
            let g = g0()?;
            let one = e.scalar(1.0);
            let rest = e.op("Sub", &[&one, c.out(0)], vec![]);
            let d = e.mul(c.out(0), &rest);
            let r = e.mul(&g, &d);
            out.push((c.name(0).into(), r));
        }
        "Tanh" => {
            c.only(&[0])?;
            let g = g0()?;
            let one = e.scalar(1.0);
            let sq = e.mul(c.out(0), c.out(0));
            let d = e.op("Sub", &[&one, &sq], vec![]);
            let r = e.mul(&g, &d);
            out.push((c.name(0).into(), r));
        }
        "Erf" => {
            c.only(&[0])?;
            let g = g0()?;
            let sq = e.mul(c.name(0), c.name(0));
            let neg = e.op("Neg", &[&sq], vec![]);
            let ex = e.op("Exp", &[&neg], vec![]);
            let d = e.scale(&ex, std::f32::consts::FRAC_2_SQRT_PI);
            let r = e.mul(&g, &d);
            out.push((c.name(0).into(), r));
        }
        "Exp" => {
            c.only(&[0])?;
            let g = g0()?;
            let r = e.mul(&g, c.out(0));
            out.push((c.name(0).into(), r));
        }
        "Log" => {
            c.only(&[0])?;
            let g = g0()?;
            let r = e.op("Div", &[&g, c.name(0)], vec![]);
            out.push((c.name(0).into(), r));
        }
        "Sqrt" => {
            c.only(&[0])?;
            let g = g0()?;
            let q = e.op("Div", &[&g, c.out(0)], vec![]);
            let r = e.scale(&q, 0.5);
            out.push((c.name(0).into(), r));
        }
        "Reciprocal" => {
            c.only(&[0])?;
            let g = g0()?;
            let sq = e.mul(c.out(0), c.out(0));
            let p = e.mul(&g, &sq);
            let r = e.op("Neg", &[&p], vec![]);
            out.push((c.name(0).into(), r));
        }
        "Pow" => {
            c.only(&[0])?;
            let g = g0()?;
            let p =
                e.probe.get(c.name(1)).and_then(|t| t.scalar).filter(|_| !c.valued.contains(c.name(1))).ok_or_else(
                    || c.unsupported("its exponent is not a known scalar (only x^p with a constant p is supported)"),
                )?;
            let xs = e.shape(c.name(0));
            let d = if p == 2.0 {
                e.scale(c.name(0), 2.0)
            } else {
                let pm1 = e.scalar(p - 1.0);
                let pw = e.op("Pow", &[c.name(0), &pm1], vec![]);
                e.scale(&pw, p)
            };
            let prod = e.mul(&g, &d);
            let r = e.unbroadcast(&prod, &ys, &xs);
            out.push((c.name(0).into(), r));
        }
        "Softmax" => {
            c.only(&[0])?;
            let g = g0()?;
            let ax = axis(int_of(n, "axis", -1), ys.len());
            let gy = e.mul(&g, c.out(0));
            let s = e.reduce_sum(&gy, &[ax]);
            let diff = e.op("Sub", &[&g, &s], vec![]);
            let r = e.mul(c.out(0), &diff);
            out.push((c.name(0).into(), r));
        }
        "LayerNormalization" => {
            c.only(&[0])?;
            let g = grads
                .first()
                .cloned()
                .flatten()
                .ok_or_else(|| c.unsupported("only its first output (Y) can be differentiated"))?;
            let xs = e.shape(c.name(0));
            let rank = xs.len();
            let first = axis(int_of(n, "axis", -1), rank);
            let axes: Vec<usize> = (first..rank).collect();
            let count: usize = axes.iter().map(|&a| xs[a]).product();
            let inv_n = 1.0 / count as f32;
            let eps = float_of(n, "epsilon", 1e-5);
            let sum_x = e.reduce_sum(c.name(0), &axes);
            let mean = e.scale(&sum_x, inv_n);
            let xc = e.op("Sub", &[c.name(0), &mean], vec![]);
            let sq = e.mul(&xc, &xc);
            let sum_sq = e.reduce_sum(&sq, &axes);
            let var = e.scale(&sum_sq, inv_n);
            let epsc = e.scalar(eps);
            let ve = e.op("Add", &[&var, &epsc], vec![]);
            let sd = e.op("Sqrt", &[&ve], vec![]);
            let rstd = e.op("Reciprocal", &[&sd], vec![]);
            let xhat = e.mul(&xc, &rstd);
            let gh = if c.name(1).is_empty() { g.clone() } else { e.mul(&g, c.name(1)) };
            let s1 = e.reduce_sum(&gh, &axes);
            let m1 = e.scale(&s1, inv_n);
            let ghx = e.mul(&gh, &xhat);
            let s2 = e.reduce_sum(&ghx, &axes);
            let m2 = e.scale(&s2, inv_n);
            let t1 = e.op("Sub", &[&gh, &m1], vec![]);
            let t2 = e.mul(&xhat, &m2);
            let t3 = e.op("Sub", &[&t1, &t2], vec![]);
            let r = e.mul(&rstd, &t3);
            out.push((c.name(0).into(), r));
        }
        "BatchNormalization" => {
            c.only(&[0])?;
            if int_of(n, "training_mode", 0) != 0 {
                return Err(c.unsupported("training mode"));
            }
            let g = g0()?;
            let xs = e.shape(c.name(0));
            let eps = e.scalar(float_of(n, "epsilon", 1e-5));
            let ve = e.op("Add", &[c.name(4), &eps], vec![]);
            let sd = e.op("Sqrt", &[&ve], vec![]);
            let f = e.op("Div", &[c.name(1), &sd], vec![]);
            let mut bshape = vec![1; xs.len()];
            bshape[1] = xs[1];
            let fr = e.reshape(&f, &bshape);
            let r = e.mul(&g, &fr);
            out.push((c.name(0).into(), r));
        }
        "ReduceMean" | "ReduceSum" => {
            c.only(&[0])?;
            let g = g0()?;
            let xs = e.shape(c.name(0));
            let rank = xs.len();
            let axes_in = if c.name(1).is_empty() { ints_of(n, "axes") } else { Some(c.ints(e, 1)?) };
            let axes: Vec<usize> = match axes_in {
                Some(a) if !a.is_empty() => a.iter().map(|&x| axis(x, rank)).collect(),
                _ if int_of(n, "noop_with_empty_axes", 0) == 1 => vec![],
                _ => (0..rank).collect(),
            };
            let kept: Vec<usize> = (0..rank).map(|i| if axes.contains(&i) { 1 } else { xs[i] }).collect();
            let r = e.reshape(&g, &kept);
            let shape = e.shape_const(&xs);
            let ex = e.op("Expand", &[&r, &shape], vec![]);
            let count: usize = axes.iter().map(|&a| xs[a]).product();
            let r = if op == "ReduceMean" { e.scale(&ex, 1.0 / count.max(1) as f32) } else { ex };
            out.push((c.name(0).into(), r));
        }
        "GlobalAveragePool" => {
            c.only(&[0])?;
            let g = g0()?;
            let xs = e.shape(c.name(0));
            let shape = e.shape_const(&xs);
            let ex = e.op("Expand", &[&g, &shape], vec![]);
            let count: usize = xs[2..].iter().product();
            let r = e.scale(&ex, 1.0 / count.max(1) as f32);
            out.push((c.name(0).into(), r));
        }
        "Expand" => {
            c.only(&[0])?;
            let g = g0()?;
            let xs = e.shape(c.name(0));
            let r = e.unbroadcast(&g, &ys, &xs);
            out.push((c.name(0).into(), r));
        }
        "Where" => {
            if c.active(0) {
                return Err(c.unsupported("its condition depends on the input"));
            }
            let g = g0()?;
            let zero = e.scalar(0.0);
            for i in [1, 2] {
                if c.active(i) {
                    let xs = e.shape(c.name(i));
                    let w = if i == 1 {
                        e.op("Where", &[c.name(0), &g, &zero], vec![])
                    } else {
                        e.op("Where", &[c.name(0), &zero, &g], vec![])
                    };
                    let r = e.unbroadcast(&w, &ys, &xs);
                    out.push((c.name(i).into(), r));
                }
            }
        }
        "MatMul" => {
            let g = g0()?;
            let (a_s, b_s) = (e.shape(c.name(0)), e.shape(c.name(1)));
            if a_s.len() < 2 || b_s.len() < 2 {
                return Err(c.unsupported("an operand of rank 1"));
            }
            if c.active(0) {
                let bt = e.swap_last(c.name(1), b_s.len());
                let p = e.op("MatMul", &[&g, &bt], vec![]);
                let mut ps = ys.clone();
                let last = ps.len() - 1;
                ps[last] = a_s[a_s.len() - 1];
                let r = e.unbroadcast(&p, &ps, &a_s);
                out.push((c.name(0).into(), r));
            }
            if c.active(1) {
                let at = e.swap_last(c.name(0), a_s.len());
                let p = e.op("MatMul", &[&at, &g], vec![]);
                let mut ps = ys.clone();
                let r2 = ps.len() - 2;
                ps[r2] = b_s[b_s.len() - 2];
                let r = e.unbroadcast(&p, &ps, &b_s);
                out.push((c.name(1).into(), r));
            }
        }
        "Gemm" => {
            let g = g0()?;
            let alpha = float_of(n, "alpha", 1.0);
            let beta = float_of(n, "beta", 1.0);
            let (ta, tb) = (int_of(n, "transA", 0) != 0, int_of(n, "transB", 0) != 0);
            if c.active(0) {
                // Y = α A'B' (+ βC): ∂A' = α G B'ᵀ; B'ᵀ is B when transB, else Bᵀ.
                let bt = if tb { c.name(1).to_owned() } else { e.swap_last(c.name(1), 2) };
                let p = e.op("MatMul", &[&g, &bt], vec![]);
                let p = e.scale(&p, alpha);
                let r = if ta { e.swap_last(&p, 2) } else { p };
                out.push((c.name(0).into(), r));
            }
            if c.active(1) {
                let at = if ta { c.name(0).to_owned() } else { e.swap_last(c.name(0), 2) };
                let p = e.op("MatMul", &[&at, &g], vec![]);
                let p = e.scale(&p, alpha);
                let r = if tb { e.swap_last(&p, 2) } else { p };
                out.push((c.name(1).into(), r));
            }
            if c.active(2) {
                let cs = e.shape(c.name(2));
                let u = e.unbroadcast(&g, &ys, &cs);
                let r = e.scale(&u, beta);
                out.push((c.name(2).into(), r));
            }
        }
        "Conv" => {
            c.only(&[0])?;
            let g = g0()?;
            let xs = e.shape(c.name(0));
            let ws = e.shape(c.name(1));
            let sp = xs.len() - 2;
            let kernel: Vec<usize> = ws[2..].to_vec();
            let (strides, dil, pb, pe) = window(n, &xs, &ys, &kernel).map_err(|r| c.unsupported(r))?;
            let output_padding = transpose_padding(&xs[2..], &ys[2..], &kernel, &strides, &dil, &pb, &pe)
                .ok_or_else(|| c.unsupported("its padding cannot be undone by a transposed convolution"))?;
            let mut attrs = vec![
                attr_ints("strides", &to_i64(&strides)),
                attr_ints("dilations", &to_i64(&dil)),
                attr_ints("pads", &to_i64(&[pb, pe].concat())),
                attr_int("group", int_of(n, "group", 1)),
                attr_ints("kernel_shape", &to_i64(&kernel)),
            ];
            if output_padding.iter().any(|&p| p > 0) {
                attrs.push(attr_ints("output_padding", &to_i64(&output_padding)));
            }
            debug_assert_eq!(sp, kernel.len());
            let r = e.op("ConvTranspose", &[&g, c.name(1)], attrs);
            out.push((c.name(0).into(), r));
        }
        "AveragePool" => {
            c.only(&[0])?;
            let g = g0()?;
            let xs = e.shape(c.name(0));
            let kernel: Vec<usize> =
                ints_of(n, "kernel_shape").unwrap_or_default().iter().map(|&k| k as usize).collect();
            let (strides, dil, pb, pe) = window(n, &xs, &ys, &kernel).map_err(|r| c.unsupported(r))?;
            let padded = pb.iter().chain(&pe).any(|&p| p > 0);
            if padded && int_of(n, "count_include_pad", 0) == 0 {
                return Err(c.unsupported("padding that is left out of the average (count_include_pad = 0)"));
            }
            if int_of(n, "ceil_mode", 0) != 0 {
                return Err(c.unsupported("ceil_mode = 1"));
            }
            let output_padding = transpose_padding(&xs[2..], &ys[2..], &kernel, &strides, &dil, &pb, &pe)
                .ok_or_else(|| c.unsupported("its padding cannot be undone by a transposed convolution"))?;
            let channels = xs[1];
            let k: usize = kernel.iter().product();
            let wshape: Vec<usize> = [channels, 1].iter().copied().chain(kernel.iter().copied()).collect();
            let w = e.floats(&wshape, &vec![1.0 / k as f32; channels * k]);
            let mut attrs = vec![
                attr_ints("strides", &to_i64(&strides)),
                attr_ints("dilations", &to_i64(&dil)),
                attr_ints("pads", &to_i64(&[pb, pe].concat())),
                attr_int("group", channels as i64),
                attr_ints("kernel_shape", &to_i64(&kernel)),
            ];
            if output_padding.iter().any(|&p| p > 0) {
                attrs.push(attr_ints("output_padding", &to_i64(&output_padding)));
            }
            let r = e.op("ConvTranspose", &[&g, &w], attrs);
            out.push((c.name(0).into(), r));
        }
        "Concat" => {
            let g = g0()?;
            let ax = axis(int_of(n, "axis", 0), ys.len());
            let mut offset = 0usize;
            for i in 0..n.input.len() {
                let len = e.shape(c.name(i)).get(ax).copied().unwrap_or(0);
                if c.active(i) {
                    let starts = e.ints(&[offset as i64]);
                    let ends = e.ints(&[(offset + len) as i64]);
                    let axes = e.ints(&[ax as i64]);
                    let r = e.op("Slice", &[&g, &starts, &ends, &axes], vec![]);
                    out.push((c.name(i).into(), r));
                }
                offset += len;
            }
        }
        "Split" => {
            c.only(&[0])?;
            let xs = e.shape(c.name(0));
            let ax = axis(int_of(n, "axis", 0), xs.len());
            let mut pieces = Vec::new();
            for (i, g) in grads.iter().enumerate() {
                pieces.push(match g {
                    Some(g) => g.clone(),
                    None => {
                        let s = e.shape(c.out(i));
                        let shape = e.shape_const(&s);
                        e.op("ConstantOfShape", &[&shape], vec![zero_value()])
                    }
                });
            }
            let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
            let r = e.op("Concat", &refs, vec![attr_int("axis", ax as i64)]);
            out.push((c.name(0).into(), r));
        }
        "Slice" => {
            c.only(&[0])?;
            let g = g0()?;
            let xs = e.shape(c.name(0));
            let rank = xs.len();
            // The output's probed shape gives each slice's length, so only the starts are read;
            // ends that move with the pixels would change that shape, so they are refused too.
            if c.valued.contains(c.name(2)) {
                return Err(c.unsupported(format!(
                    "its integer input {:?} (ends) depends on the pixels' values, so it cannot be fixed at the probe's value",
                    c.name(2)
                )));
            }
            let starts = c.ints(e, 1)?;
            let axes: Vec<usize> = if c.name(3).is_empty() {
                (0..starts.len()).collect()
            } else {
                c.ints(e, 3)?.iter().map(|&a| axis(a, rank)).collect()
            };
            let steps = if c.name(4).is_empty() { vec![1; starts.len()] } else { c.ints(e, 4)? };
            if axes.len() != starts.len() || steps.len() != starts.len() || axes.iter().any(|&a| a >= rank) {
                return Err(c.unsupported("its starts, axes and steps do not match"));
            }
            if steps.iter().any(|&s| s != 1) {
                return Err(c.unsupported("a step other than 1"));
            }
            let mut begins = vec![0usize; rank];
            for (k, &a) in axes.iter().enumerate() {
                let dim = xs[a] as i64;
                let s = if starts[k] < 0 { starts[k] + dim } else { starts[k] };
                begins[a] = s.clamp(0, dim) as usize;
            }
            if (0..rank).any(|a| begins[a] + ys[a] > xs[a]) {
                return Err(c.unsupported("its output does not fit inside its input at the probed starts"));
            }
            let finish: Vec<usize> = (0..rank).map(|a| xs[a] - begins[a] - ys[a]).collect();
            let r = e.pad(&g, &begins, &finish);
            out.push((c.name(0).into(), r));
        }
        "Gather" => {
            c.only(&[0])?;
            let g = g0()?;
            let xs = e.shape(c.name(0));
            let rank = xs.len();
            let ax = axis(int_of(n, "axis", 0), rank);
            let idx_shape = e.shape(c.name(1));
            let dim = xs[ax];
            let idx: Vec<usize> =
                c.ints(e, 1)?.iter().map(|&i| if i < 0 { (i + dim as i64) as usize } else { i as usize }).collect();
            match idx_shape.len() {
                0 => {
                    let mut with_axis = xs.clone();
                    with_axis[ax] = 1;
                    let r = e.reshape(&g, &with_axis);
                    let mut b = vec![0; rank];
                    let mut f = vec![0; rank];
                    b[ax] = idx[0];
                    f[ax] = dim - 1 - idx[0];
                    let p = e.pad(&r, &b, &f);
                    out.push((c.name(0).into(), p));
                }
                1 => {
                    // Move the gathered axis last, multiply by the one-hot [k, dim], move back.
                    let k = idx.len();
                    let mut onehot = vec![0.0f32; k * dim];
                    for (row, &i) in idx.iter().enumerate() {
                        onehot[row * dim + i] = 1.0;
                    }
                    let m = e.floats(&[k, dim], &onehot);
                    let yr = ys.len();
                    let mut perm: Vec<usize> = (0..yr).filter(|&a| a != ax).collect();
                    perm.push(ax);
                    let t = e.transpose(&g, &perm);
                    let p = e.op("MatMul", &[&t, &m], vec![]);
                    let mut inv = vec![0; yr];
                    for (i, &q) in perm.iter().enumerate() {
                        inv[q] = i;
                    }
                    let r = e.transpose(&p, &inv);
                    out.push((c.name(0).into(), r));
                }
                _ => return Err(c.unsupported("indices of rank above 1")),
            }
        }
        other => return Err(c.unsupported(format!("no gradient rule for {other}"))),
    }
    Ok(out)
}

fn zero_value() -> onnx::AttributeProto {
    onnx::AttributeProto {
        name: Some("value".into()),
        t: Some(onnx::TensorProto {
            dims: vec![1],
            data_type: Some(onnx::tensor_proto::DataType::Float as i32),
            float_data: vec![0.0],
            ..Default::default()
        }),
        r#type: Some(onnx::attribute_proto::AttributeType::Tensor as i32),
        ..Default::default()
    }
}

fn to_i64(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

/// A window operator's strides, dilations and explicit begin/end pads, with `auto_pad`
/// resolved from the static shapes.
#[allow(clippy::type_complexity)]
fn window(
    n: &onnx::NodeProto,
    xs: &[usize],
    ys: &[usize],
    kernel: &[usize],
) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>), String> {
    let sp = xs.len().saturating_sub(2);
    if kernel.len() != sp || ys.len() != xs.len() {
        return Err(format!("kernel {kernel:?} does not fit input shape {xs:?}"));
    }
    let strides: Vec<usize> = ints_of(n, "strides").map_or(vec![1; sp], |v| v.iter().map(|&x| x as usize).collect());
    let dil: Vec<usize> = ints_of(n, "dilations").map_or(vec![1; sp], |v| v.iter().map(|&x| x as usize).collect());
    let (mut pb, mut pe) = (vec![0; sp], vec![0; sp]);
    match string_of(n, "auto_pad").unwrap_or("NOTSET") {
        "NOTSET" => {
            if let Some(p) = ints_of(n, "pads") {
                if p.len() != 2 * sp {
                    return Err(format!("pads {p:?} for {sp} spatial axes"));
                }
                pb = p[..sp].iter().map(|&x| x as usize).collect();
                pe = p[sp..].iter().map(|&x| x as usize).collect();
            }
        }
        "VALID" => {}
        mode @ ("SAME_UPPER" | "SAME_LOWER") => {
            for i in 0..sp {
                let need = (ys[i + 2] - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1;
                let total = need.saturating_sub(xs[i + 2]);
                let small = total / 2;
                (pb[i], pe[i]) = if mode == "SAME_UPPER" { (small, total - small) } else { (total - small, small) };
            }
        }
        other => return Err(format!("auto_pad {other}")),
    }
    Ok((strides, dil, pb, pe))
}

/// The `output_padding` that makes ConvTranspose give back the input's spatial size, or None
/// when no valid one exists.
fn transpose_padding(
    xs: &[usize],
    ys: &[usize],
    kernel: &[usize],
    strides: &[usize],
    dil: &[usize],
    pb: &[usize],
    pe: &[usize],
) -> Option<Vec<usize>> {
    (0..xs.len())
        .map(|i| {
            let full = strides[i] * (ys[i] - 1) + (kernel[i] - 1) * dil[i] + 1;
            let made = full.checked_sub(pb[i] + pe[i])?;
            let extra = xs[i].checked_sub(made)?;
            (extra < strides[i].max(dil[i])).then_some(extra)
        })
        .collect()
}

/// One-node test graphs: the op's result for given inputs, from ONNX Runtime.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn tensor(name: &str, dims: &[usize], values: &[f32]) -> onnx::TensorProto {
        super::super::onnx_build::tensor_f32(name, &dims.iter().map(|&d| d as i64).collect::<Vec<_>>(), values)
    }

    fn int_tensor(name: &str, values: &[i64], dims: &[usize]) -> onnx::TensorProto {
        super::super::onnx_build::tensor_i64(name, &dims.iter().map(|&d| d as i64).collect::<Vec<_>>(), values)
    }

    /// A graph `x → nodes → y`; `extra` are initializers.
    fn graph_of(nodes: Vec<onnx::NodeProto>, x_shape: &[usize], extra: Vec<onnx::TensorProto>) -> OnnxGraph {
        let model = onnx::ModelProto {
            ir_version: Some(8),
            opset_import: vec![onnx::OperatorSetIdProto { domain: Some(String::new()), version: Some(17) }],
            graph: Some(onnx::GraphProto {
                name: Some("t".into()),
                node: nodes,
                initializer: extra,
                input: vec![value_info("x", x_shape)],
                output: vec![onnx::ValueInfoProto { name: Some("y".into()), ..Default::default() }],
                ..Default::default()
            }),
            ..Default::default()
        };
        OnnxGraph::decode(&model.encode_to_vec(), Path::new("test.onnx")).expect("valid model")
    }

    fn randn(rng: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.normal() as f32).collect()
    }

    fn runtime_ok() -> bool {
        Runtime::get().is_ok()
    }

    /// Checks the gradient graph against central differences of L = Σ seed ⊙ y along random
    /// directions, in float64 arithmetic over float32 runs.
    fn check(graph: &OnnxGraph, x_shape: &[usize], seed: u64) {
        check_named(graph, ("x", "y"), x_shape, seed);
    }

    /// [`check`] for any input and target tensor.
    fn check_named(graph: &OnnxGraph, (input, target): (&str, &str), x_shape: &[usize], seed: u64) {
        if !runtime_ok() {
            eprintln!("SKIPPED: no ONNX Runtime library");
            return;
        }
        let mut rng = Rng::new(seed);
        let n: usize = x_shape.iter().product();
        let x = ArrayD::from_shape_vec(IxDyn(x_shape), randn(&mut rng, n)).expect("shape");
        let config = SessionConfig { device: Device::Cpu, threads: Some(1) };
        let mut session = GradientSession::new(graph, input, target, x.view(), &config).expect("gradient graph");
        let ts = session.graph().target_shape.clone();
        let m: usize = ts.iter().product();
        let s = ArrayD::from_shape_vec(IxDyn(&ts), randn(&mut rng, m)).expect("shape");
        let (_, grad) = session.run(x.view(), s.view()).expect("run");
        assert_eq!(grad.shape(), x_shape);
        let loss = |session: &mut GradientSession, x: &ArrayD<f32>| -> f64 {
            let (y, _) = session.run(x.view(), s.view()).expect("run");
            y.iter().zip(s.iter()).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum()
        };
        let eps = 1e-2f32;
        for _ in 0..3 {
            let v = ArrayD::from_shape_vec(IxDyn(x_shape), randn(&mut rng, n)).expect("shape");
            let analytic: f64 = grad.iter().zip(v.iter()).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
            let plus = &x + &(&v * eps);
            let minus = &x - &(&v * eps);
            let numeric = (loss(&mut session, &plus) - loss(&mut session, &minus)) / (2.0 * f64::from(eps));
            let tol = 2e-2 * numeric.abs().max(analytic.abs()).max(1.0);
            assert!(
                (numeric - analytic).abs() <= tol,
                "{:?}: directional derivative {analytic} (gradient graph) vs {numeric} (finite differences)",
                session.graph().differentiated
            );
        }
    }

    fn one(op: &str, inputs: &[&str], attrs: Vec<onnx::AttributeProto>) -> onnx::NodeProto {
        node(op, inputs, "y", attrs)
    }

    #[test]
    fn elementwise_rules_match_finite_differences() {
        let mut rng = Rng::new(7);
        let w = tensor("w", &[1, 4], &randn(&mut rng, 4));
        let pos = tensor("p", &[1, 4], &[1.5, 2.0, 0.7, 1.2]);
        for (op, inputs, extra) in [
            ("Add", vec!["x", "w"], vec![w.clone()]),
            ("Sub", vec!["w", "x"], vec![w.clone()]),
            ("Mul", vec!["x", "w"], vec![w.clone()]),
            ("Div", vec!["x", "p"], vec![pos.clone()]),
            ("Div", vec!["p", "x"], vec![pos.clone()]),
            ("Mul", vec!["x", "x"], vec![]),
            ("Sigmoid", vec!["x"], vec![]),
            ("Tanh", vec!["x"], vec![]),
            ("Erf", vec!["x"], vec![]),
            ("Exp", vec!["x"], vec![]),
            ("Neg", vec!["x"], vec![]),
            ("Relu", vec!["x"], vec![]),
        ] {
            eprintln!("{op} {inputs:?}");
            check(&graph_of(vec![one(op, &inputs, vec![])], &[3, 4], extra), &[3, 4], 11);
        }
    }

    #[test]
    fn positive_domain_rules_match_finite_differences() {
        // Sqrt, Log, Reciprocal and Pow on x² + 1, so the input stays positive.
        let one_c = tensor("one", &[], &[1.0]);
        for (op, extra) in [
            ("Sqrt", vec![]),
            ("Log", vec![]),
            ("Reciprocal", vec![]),
            ("Pow", vec![tensor("e", &[], &[1.5])]),
            ("Pow", vec![tensor("e", &[], &[2.0])]),
        ] {
            let sq = node("Mul", &["x", "x"], "sq", vec![]);
            let pos = node("Add", &["sq", "one"], "pos", vec![]);
            let inputs: Vec<&str> = if op == "Pow" { vec!["pos", "e"] } else { vec!["pos"] };
            let mut inits = vec![one_c.clone()];
            inits.extend(extra);
            check(&graph_of(vec![sq, pos, one(op, &inputs, vec![])], &[2, 3], inits), &[2, 3], 12);
        }
    }

    #[test]
    fn shape_rules_match_finite_differences() {
        let shape = int_tensor("s", &[2, 12], &[2]);
        check(&graph_of(vec![one("Reshape", &["x", "s"], vec![])], &[2, 3, 4], vec![shape]), &[2, 3, 4], 1);
        check(&graph_of(vec![one("Flatten", &["x"], vec![attr_int("axis", 1)])], &[2, 3, 4], vec![]), &[2, 3, 4], 2);
        check(
            &graph_of(vec![one("Transpose", &["x"], vec![attr_ints("perm", &[1, 2, 0])])], &[2, 3, 4], vec![]),
            &[2, 3, 4],
            3,
        );
        let s = int_tensor("st", &[1, 0], &[2]);
        let en = int_tensor("en", &[3, 2], &[2]);
        let ax = int_tensor("ax", &[1, 2], &[2]);
        check(
            &graph_of(vec![one("Slice", &["x", "st", "en", "ax"], vec![])], &[2, 3, 4], vec![s, en, ax]),
            &[2, 3, 4],
            4,
        );
        let idx0 = int_tensor("i", &[0], &[]);
        check(
            &graph_of(vec![one("Gather", &["x", "i"], vec![attr_int("axis", 1)])], &[2, 3, 4], vec![idx0]),
            &[2, 3, 4],
            5,
        );
        let idx = int_tensor("i", &[2, 0, 2], &[3]);
        check(
            &graph_of(vec![one("Gather", &["x", "i"], vec![attr_int("axis", 2)])], &[2, 3, 4], vec![idx]),
            &[2, 3, 4],
            6,
        );
        let w = tensor("w", &[2, 3, 1], &[0.5, 1.0, -1.0, 2.0, 0.1, 0.3]);
        check(
            &graph_of(vec![one("Concat", &["w", "x", "x"], vec![attr_int("axis", 2)])], &[2, 3, 4], vec![w]),
            &[2, 3, 4],
            7,
        );
        let split = int_tensor("sp", &[1, 3], &[2]);
        let nodes = vec![
            onnx::NodeProto {
                op_type: Some("Split".into()),
                input: vec!["x".into(), "sp".into()],
                output: vec!["a".into(), "b".into()],
                attribute: vec![attr_int("axis", 2)],
                ..Default::default()
            },
            node("Mul", &["b", "b"], "y", vec![]),
        ];
        check(&graph_of(nodes, &[2, 3, 4], vec![split]), &[2, 3, 4], 8);
        let shape = int_tensor("s", &[2, 3, 4], &[3]);
        check(&graph_of(vec![one("Expand", &["x", "s"], vec![])], &[3, 1], vec![shape]), &[3, 1], 9);
        let cond = onnx::TensorProto {
            name: Some("c".into()),
            dims: vec![4],
            data_type: Some(onnx::tensor_proto::DataType::Bool as i32),
            int32_data: vec![1, 0, 1, 0],
            ..Default::default()
        };
        let w = tensor("w", &[3, 4], &[0.5; 12]);
        check(&graph_of(vec![one("Where", &["c", "x", "w"], vec![])], &[3, 4], vec![cond, w]), &[3, 4], 10);
    }

    #[test]
    fn reduction_and_normalisation_rules_match_finite_differences() {
        let mut rng = Rng::new(3);
        check(
            &graph_of(
                vec![one("ReduceMean", &["x"], vec![attr_ints("axes", &[1]), attr_int("keepdims", 0)])],
                &[2, 5, 3],
                vec![],
            ),
            &[2, 5, 3],
            1,
        );
        let axes = int_tensor("a", &[0, 2], &[2]);
        check(&graph_of(vec![one("ReduceSum", &["x", "a"], vec![])], &[2, 5, 3], vec![axes]), &[2, 5, 3], 2);
        check(&graph_of(vec![one("Softmax", &["x"], vec![attr_int("axis", -1)])], &[2, 5], vec![]), &[2, 5], 3);
        check(&graph_of(vec![one("Softmax", &["x"], vec![attr_int("axis", 0)])], &[3, 4], vec![]), &[3, 4], 4);
        let scale = tensor("s", &[4], &randn(&mut rng, 4));
        let bias = tensor("b", &[4], &randn(&mut rng, 4));
        check(
            &graph_of(
                vec![one("LayerNormalization", &["x", "s", "b"], vec![attr_int("axis", -1)])],
                &[2, 3, 4],
                vec![scale, bias],
            ),
            &[2, 3, 4],
            5,
        );
        let c = 3;
        let bn: Vec<onnx::TensorProto> = [("sc", 1.3f32), ("bb", 0.2), ("mu", 0.1), ("var", 0.8)]
            .iter()
            .map(|(n, v)| tensor(n, &[c], &[*v, v * 0.5 + 0.1, v * 1.5 + 0.2]))
            .collect();
        check(
            &graph_of(vec![one("BatchNormalization", &["x", "sc", "bb", "mu", "var"], vec![])], &[2, c, 4, 4], bn),
            &[2, c, 4, 4],
            6,
        );
        check(&graph_of(vec![one("GlobalAveragePool", &["x"], vec![])], &[2, 3, 4, 4], vec![]), &[2, 3, 4, 4], 7);
    }

    #[test]
    fn linear_rules_match_finite_differences() {
        let mut rng = Rng::new(5);
        let w = tensor("w", &[4, 6], &randn(&mut rng, 24));
        check(&graph_of(vec![one("MatMul", &["x", "w"], vec![])], &[2, 3, 4], vec![w.clone()]), &[2, 3, 4], 1);
        // Both operands active, batched: attention's q·kᵀ.
        let t = node("Transpose", &["x"], "xt", vec![attr_ints("perm", &[0, 2, 1])]);
        check(&graph_of(vec![t, one("MatMul", &["x", "xt"], vec![])], &[2, 3, 4], vec![]), &[2, 3, 4], 2);
        let wt = tensor("wt", &[6, 4], &randn(&mut rng, 24));
        let bias = tensor("b", &[6], &randn(&mut rng, 6));
        check(
            &graph_of(
                vec![one(
                    "Gemm",
                    &["x", "wt", "b"],
                    vec![attr_int("transB", 1), super::super::onnx_build::attr_float("alpha", 0.7)],
                )],
                &[3, 4],
                vec![wt, bias],
            ),
            &[3, 4],
            3,
        );
        let wa = tensor("wa", &[3, 5], &randn(&mut rng, 15));
        check(&graph_of(vec![one("Gemm", &["wa", "x"], vec![attr_int("transA", 1)])], &[3, 2], vec![wa]), &[3, 2], 4);
    }

    #[test]
    fn window_rules_match_finite_differences() {
        let mut rng = Rng::new(9);
        // Strided, padded, grouped and dilated convolutions; one with a leftover row that needs
        // output_padding; SAME_UPPER.
        for (xs, ws, attrs) in [
            (vec![1, 3, 8, 8], vec![4, 3, 3, 3], vec![attr_ints("strides", &[2, 2]), attr_ints("pads", &[1, 1, 1, 1])]),
            (vec![2, 4, 7, 7], vec![4, 2, 3, 3], vec![attr_int("group", 2), attr_ints("strides", &[2, 2])]),
            (vec![1, 2, 9, 9], vec![3, 2, 3, 3], vec![attr_ints("dilations", &[2, 2])]),
            (vec![1, 3, 8, 8], vec![5, 3, 4, 4], vec![attr_ints("strides", &[4, 4])]),
            (
                vec![1, 2, 7, 7],
                vec![2, 2, 3, 3],
                vec![attr_ints("strides", &[2, 2]), super::super::onnx_build::attr_string("auto_pad", "SAME_UPPER")],
            ),
        ] {
            let n: usize = ws.iter().product();
            let w = tensor("w", &ws, &randn(&mut rng, n));
            let b = tensor("b", &[ws[0]], &randn(&mut rng, ws[0]));
            check(&graph_of(vec![one("Conv", &["x", "w", "b"], attrs)], &xs, vec![w, b]), &xs, 1);
        }
        for attrs in [
            vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])],
            vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[1, 1])],
            vec![
                attr_ints("kernel_shape", &[3, 3]),
                attr_ints("strides", &[2, 2]),
                attr_ints("pads", &[1, 1, 1, 1]),
                attr_int("count_include_pad", 1),
            ],
        ] {
            check(&graph_of(vec![one("AveragePool", &["x"], attrs)], &[1, 2, 6, 6], vec![]), &[1, 2, 6, 6], 2);
        }
    }

    #[test]
    fn more_rules_match_finite_differences() {
        let mut rng = Rng::new(21);
        // Clip with both bounds, and with only a lower one.
        let lo = tensor("lo", &[], &[-0.5]);
        let hi = tensor("hi", &[], &[0.7]);
        check(&graph_of(vec![one("Clip", &["x", "lo", "hi"], vec![])], &[3, 4], vec![lo.clone(), hi]), &[3, 4], 1);
        check(&graph_of(vec![one("Clip", &["x", "lo"], vec![])], &[3, 4], vec![lo]), &[3, 4], 2);
        // Squeeze and Unsqueeze, Identity, Sum of three terms one of which is a weight.
        let ax = int_tensor("ax", &[1], &[1]);
        check(&graph_of(vec![one("Squeeze", &["x", "ax"], vec![])], &[2, 1, 3], vec![ax.clone()]), &[2, 1, 3], 3);
        check(&graph_of(vec![one("Unsqueeze", &["x", "ax"], vec![])], &[2, 3], vec![ax]), &[2, 3], 4);
        let w = tensor("w", &[3], &randn(&mut rng, 3));
        let nodes = vec![node("Identity", &["x"], "i", vec![]), one("Sum", &["x", "i", "w"], vec![])];
        check(&graph_of(nodes, &[2, 3], vec![w]), &[2, 3], 5);
        // Slice from a negative start past the end, and a start before the beginning.
        let st = int_tensor("st", &[-3, -9], &[2]);
        let en = int_tensor("en", &[100, 2], &[2]);
        let axs = int_tensor("axs", &[2, 1], &[2]);
        check(
            &graph_of(vec![one("Slice", &["x", "st", "en", "axs"], vec![])], &[2, 3, 4], vec![st, en, axs]),
            &[2, 3, 4],
            6,
        );
        // Gather with negative indices, scalar and 1-D.
        let neg = int_tensor("i", &[-1], &[]);
        check(
            &graph_of(vec![one("Gather", &["x", "i"], vec![attr_int("axis", 1)])], &[2, 3, 4], vec![neg]),
            &[2, 3, 4],
            7,
        );
        let negs = int_tensor("i", &[-1, 0, -4], &[3]);
        check(
            &graph_of(vec![one("Gather", &["x", "i"], vec![attr_int("axis", -1)])], &[2, 3, 4], vec![negs]),
            &[2, 3, 4],
            8,
        );
        // Gemm with both operands transposed, the bias active too (x feeds A and C).
        let b = tensor("b", &[5, 3], &randn(&mut rng, 15));
        check(
            &graph_of(
                vec![one(
                    "Gemm",
                    &["x", "b", "x"],
                    vec![
                        attr_int("transA", 1),
                        attr_int("transB", 1),
                        super::super::onnx_build::attr_float("alpha", 0.5),
                        super::super::onnx_build::attr_float("beta", 2.0),
                    ],
                )],
                &[3, 3],
                vec![tensor("b", &[3, 3], &randn(&mut rng, 9))],
            ),
            &[3, 3],
            9,
        );
        let _ = b;
        // MatMul whose weight broadcasts over the batch from [1, k, n], and x of rank 4.
        let wb = tensor("wb", &[1, 4, 2], &randn(&mut rng, 8));
        check(&graph_of(vec![one("MatMul", &["x", "wb"], vec![])], &[2, 3, 3, 4], vec![wb]), &[2, 3, 3, 4], 10);
    }

    #[test]
    fn a_slice_bound_computed_from_the_pixels_is_refused() {
        if !runtime_ok() {
            return;
        }
        // starts = ArgMax(x) along the last axis: the gradient would hold only at the probe.
        let nodes = vec![
            node("ReduceMax", &["x"], "m", vec![attr_ints("axes", &[0, 1]), attr_int("keepdims", 1)]),
            node("Reshape", &["m", "flat"], "m1", vec![]),
            node("Cast", &["m1"], "mi", vec![attr_int("to", onnx::tensor_proto::DataType::Int64 as i64)]),
            node("Slice", &["x", "zero", "mi", "one_axis"], "y", vec![]),
        ];
        let consts =
            vec![int_tensor("zero", &[0], &[1]), int_tensor("one_axis", &[1], &[1]), int_tensor("flat", &[1], &[1])];
        let g = graph_of(nodes, &[3, 4], consts);
        let x = ArrayD::from_shape_vec(IxDyn(&[3, 4]), vec![2.0; 12]).unwrap();
        let err = GradientSession::new(&g, "x", "y", x.view(), &SessionConfig::default()).unwrap_err();
        assert!(err.to_string().contains("depends on the pixels"), "{err}");
    }

    #[test]
    fn the_whole_tiny_clip_tower_matches_finite_differences() {
        // The committed random-weight ViT (patch Conv, class token, two pre-LN blocks with
        // attention and erf GELU): its block-1 MLP tap and its embedding, directional
        // derivatives along random pixel directions.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/models/tiny-clip/image.onnx");
        let graph = OnnxGraph::read(&path).expect("tiny-clip");
        for (target, seed) in [("/blocks.1/mlp/act/Mul_1_output_0", 31), ("image_embeds", 32)] {
            check_named(&graph, ("pixel_values", target), &[2, 3, 32, 32], seed);
        }
    }

    #[test]
    fn an_operator_without_a_rule_is_named() {
        if !runtime_ok() {
            return;
        }
        let g = graph_of(vec![one("Sin", &["x"], vec![])], &[2, 2], vec![]);
        let x = ArrayD::zeros(IxDyn(&[2, 2]));
        let err = GradientSession::new(&g, "x", "y", x.view(), &SessionConfig::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("Sin") && msg.contains("no gradient rule"), "{msg}");
    }

    #[test]
    fn a_target_that_ignores_the_input_is_refused() {
        if !runtime_ok() {
            return;
        }
        let w = tensor("w", &[2, 2], &[1.0; 4]);
        let g = graph_of(vec![one("Relu", &["w"], vec![])], &[2, 2], vec![w]);
        let x = ArrayD::zeros(IxDyn(&[2, 2]));
        let err = GradientSession::new(&g, "x", "y", x.view(), &SessionConfig::default()).unwrap_err();
        assert!(matches!(err, AutodiffError::Disconnected { .. }), "{err}");
    }
}
