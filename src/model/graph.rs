//! ONNX graphs as data: decoding the protobuf, adding taps as extra outputs, and finding
//! candidate tap points.
//!
//! Taps are edits of the graph done in memory at load time: the tapped tensors are appended to
//! `graph.output` (a `ValueInfoProto` with just the name; ONNX Runtime infers the rest) and the
//! session is created from the re-encoded bytes. No edited copy is written, so any export of a
//! CLIP model can be audited without Python and without touching the user's files.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use prost::Message;

use crate::diagnostics::closest;

/// The ONNX protobuf types, generated from `proto/onnx.proto` by build.rs.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

/// Problems reading or editing an ONNX graph.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The file could not be read.
    #[error("cannot read ONNX model {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an ONNX model.
    #[error(
        "{path} is not an ONNX model ({reason}); export the model with torch.onnx.export or scripts/export_clip.py"
    )]
    NotOnnx {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A tap names a tensor the graph does not have.
    #[error("tensor {name:?} is not in {path}{}", hint(.closest))]
    NoSuchTensor {
        /// The model file.
        path: PathBuf,
        /// The missing name.
        name: String,
        /// The nearest names in the graph.
        closest: Vec<String>,
    },
    /// An edit the graph does not allow.
    #[error("{path}: {what} is not supported")]
    Unsupported {
        /// The model file.
        path: PathBuf,
        /// What was asked.
        what: String,
    },
}

fn hint(closest: &[String]) -> String {
    if closest.is_empty() {
        "; run `clip-audit model inspect` to list candidate tensors".to_owned()
    } else {
        format!("; closest names: {}", closest.join(", "))
    }
}

/// A decoded ONNX model and the file it came from.
#[derive(Debug, Clone)]
pub struct OnnxGraph {
    path: PathBuf,
    model: proto::ModelProto,
}

impl OnnxGraph {
    /// Reads and decodes `path`.
    pub fn read(path: &Path) -> Result<Self, GraphError> {
        let bytes = std::fs::read(path).map_err(|source| GraphError::Read { path: path.to_path_buf(), source })?;
        Self::decode(&bytes, path)
    }

    /// Decodes bytes that came from `path`.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Self, GraphError> {
        let not_onnx = |reason: String| GraphError::NotOnnx { path: path.to_path_buf(), reason };
        let model = proto::ModelProto::decode(bytes).map_err(|e| not_onnx(format!("protobuf decoding failed: {e}")))?;
        // Protobuf is lenient: some random bytes decode. A model has an IR version and a
        // graph with nodes and outputs.
        let graph = model.graph.as_ref().ok_or_else(|| not_onnx("no graph".into()))?;
        if model.ir_version.unwrap_or(0) <= 0 || graph.node.is_empty() || graph.output.is_empty() {
            return Err(not_onnx("no IR version, nodes or outputs".into()));
        }
        Ok(Self { path: path.to_path_buf(), model })
    }

    /// The file the graph was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn graph(&self) -> &proto::GraphProto {
        self.model.graph.as_ref().expect("checked in decode")
    }

    /// Names of the graph's real inputs (not initializers), in order.
    pub fn input_names(&self) -> Vec<&str> {
        let inits: BTreeSet<&str> = self.graph().initializer.iter().map(|i| i.name()).collect();
        self.graph().input.iter().map(|i| i.name()).filter(|n| !inits.contains(n)).collect()
    }

    /// Names of the graph outputs, in order.
    pub fn output_names(&self) -> Vec<&str> {
        self.graph().output.iter().map(|o| o.name()).collect()
    }

    /// True when some initializer keeps its data in a separate file.
    pub fn has_external_data(&self) -> bool {
        self.graph().initializer.iter().any(|t| t.data_location() == proto::tensor_proto::DataLocation::External)
    }

    /// The value of the float32 initializer `name` when it holds exactly one element, stored
    /// in `float_data` or `raw_data` (a learned scalar such as CLIP's `logit_scale`); `None`
    /// when there is no such initializer, it is not one float32, or its data is external.
    pub fn initializer_scalar(&self, name: &str) -> Option<f32> {
        let t = self.graph().initializer.iter().find(|t| t.name() == name)?;
        let single = t.dims.iter().product::<i64>() == 1;
        if t.data_type() != proto::tensor_proto::DataType::Float as i32
            || !single
            || t.data_location() == proto::tensor_proto::DataLocation::External
        {
            return None;
        }
        match &t.raw_data {
            Some(raw) if !raw.is_empty() => Some(f32::from_le_bytes(raw.as_slice().try_into().ok()?)),
            _ => t.float_data.first().copied().filter(|_| t.float_data.len() == 1),
        }
    }

    /// The operator that computes `tensor` and its inputs; `None` for a graph input, an
    /// initializer or an unknown name. Lets a caller follow a short chain of nodes back, as
    /// `model import` does from `logits_per_text` to the learned scale and bias.
    pub fn producer(&self, tensor: &str) -> Option<(&str, Vec<&str>)> {
        let node = self.graph().node.iter().find(|n| n.output.iter().any(|o| o == tensor))?;
        Some((node.op_type(), node.input.iter().map(String::as_str).collect()))
    }

    /// Every tensor a tap can name: graph inputs and node outputs.
    pub fn tensor_names(&self) -> BTreeSet<&str> {
        let g = self.graph();
        g.input
            .iter()
            .map(|i| i.name())
            .chain(g.node.iter().flat_map(|n| n.output.iter().map(String::as_str)))
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// Checks that every name is a tensor of the graph, with the closest names when not.
    pub fn check_tensor(&self, name: &str) -> Result<(), GraphError> {
        let names = self.tensor_names();
        if names.contains(name) {
            return Ok(());
        }
        Err(GraphError::NoSuchTensor {
            path: self.path.clone(),
            name: name.to_owned(),
            closest: closest(name, names.iter().copied(), 5).into_iter().map(str::to_owned).collect(),
        })
    }

    /// For every tensor, which of the graph's real inputs ([`OnnxGraph::input_names`], by
    /// index) it depends on: in a file holding both towers, this tells an image tensor from a
    /// text one.
    pub fn input_dependencies(&self) -> HashMap<&str, BTreeSet<usize>> {
        let g = self.graph();
        let mut deps: HashMap<&str, BTreeSet<usize>> = HashMap::new();
        for (i, name) in self.input_names().into_iter().enumerate() {
            deps.entry(name).or_default().insert(i);
        }
        for node in &g.node {
            let mut d = BTreeSet::new();
            for i in &node.input {
                if let Some(x) = deps.get(i.as_str()) {
                    d.extend(x.iter().copied());
                }
            }
            for o in &node.output {
                deps.insert(o.as_str(), d.clone());
            }
        }
        deps
    }

    /// The rows of the embedding table the token ids `input` index: the first dimension of the
    /// initializer a `Gather` reads at the ids (directly, or through casts and reshapes); None
    /// when no such table is found.
    pub fn vocabulary_size(&self, input: &str) -> Option<usize> {
        let g = self.graph();
        let mut ids: BTreeSet<&str> = BTreeSet::from([input]);
        for node in &g.node {
            let reshapes =
                matches!(node.op_type(), "Cast" | "Reshape" | "Unsqueeze" | "Squeeze" | "Flatten" | "Identity");
            if reshapes && node.input.first().is_some_and(|i| ids.contains(i.as_str())) {
                ids.extend(node.output.iter().map(String::as_str));
            }
        }
        let gather = g
            .node
            .iter()
            .find(|n| n.op_type() == "Gather" && n.input.get(1).is_some_and(|i| ids.contains(i.as_str())))?;
        let table = gather.input.first()?;
        let init = g.initializer.iter().find(|t| t.name() == table)?;
        init.dims.first().and_then(|&d| usize::try_from(d).ok())
    }

    /// Cuts the graph down to what computing `outputs` needs: the nodes they depend on, the
    /// inputs and weights those nodes read, and `outputs` as the graph's outputs. A file that
    /// holds both towers (optimum's `model.onnx`) becomes the one tower a session runs, so it
    /// takes only that tower's inputs; a file of one tower loses only outputs nothing reads.
    /// Names read inside a node's subgraphs (`If`, `Loop`) count as read by the node.
    pub fn keep_only(&mut self, outputs: &[&str]) -> Result<(), GraphError> {
        for name in outputs {
            self.check_tensor(name)?;
        }
        let graph = self.model.graph.as_mut().expect("checked in decode");
        let mut needed: BTreeSet<String> = outputs.iter().map(|s| (*s).to_owned()).collect();
        let mut keep = vec![false; graph.node.len()];
        for (i, node) in graph.node.iter().enumerate().rev() {
            if node.output.iter().any(|o| needed.contains(o)) {
                keep[i] = true;
                needed.extend(node.input.iter().filter(|n| !n.is_empty()).cloned());
                for a in &node.attribute {
                    a.g.iter().chain(&a.graphs).for_each(|g| read_names(g, &mut needed));
                }
            }
        }
        let mut k = keep.into_iter();
        graph.node.retain(|_| k.next().unwrap_or(false));
        graph.input.retain(|i| needed.contains(i.name()));
        graph.initializer.retain(|t| needed.contains(t.name()));
        graph.value_info.retain(|v| needed.contains(v.name()));
        graph.output.retain(|o| outputs.contains(&o.name()));
        let mut present: BTreeSet<String> = graph.output.iter().map(|o| o.name().to_owned()).collect();
        for name in outputs {
            // Once each: two taps may read the same tensor (a token mean and a class token).
            if present.insert((*name).to_owned()) {
                graph.output.push(proto::ValueInfoProto { name: Some((*name).to_owned()), ..Default::default() });
            }
        }
        Ok(())
    }

    /// The model bytes with `names` appended to the graph outputs (those not already outputs).
    pub fn with_outputs<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<Vec<u8>, GraphError> {
        let mut model = self.model.clone();
        let graph = model.graph.as_mut().expect("checked in decode");
        let mut present: BTreeSet<String> = graph.output.iter().map(|o| o.name().to_owned()).collect();
        for name in names {
            self.check_tensor(name)?;
            if present.insert(name.to_owned()) {
                graph.output.push(proto::ValueInfoProto { name: Some(name.to_owned()), ..Default::default() });
            }
        }
        Ok(model.encode_to_vec())
    }

    /// Re-draws every float32 weight initializer that has more than one element, some spread
    /// and no value beyond ±1e4 (masks and fixed constants stay) from a normal distribution with the tensor's own mean and sd, seeded per tensor
    /// (by its name), keeping shapes: the architecture without what training put into it,
    /// for the null baseline. Returns how many tensors were re-drawn.
    pub fn randomize_weights(&mut self, seed: u64) -> Result<usize, GraphError> {
        if self.has_external_data() {
            return Err(GraphError::Unsupported {
                path: self.path.clone(),
                what: "re-drawing weights kept in external data files".into(),
            });
        }
        let graph = self.model.graph.as_mut().expect("checked in decode");
        let mut count = 0;
        for t in &mut graph.initializer {
            if t.data_type() != proto::tensor_proto::DataType::Float as i32 {
                continue;
            }
            let mut values: Vec<f32> = match &t.raw_data {
                Some(raw) if !raw.is_empty() => {
                    raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
                }
                _ => t.float_data.clone(),
            };
            if values.len() < 2 {
                continue;
            }
            let n = values.len() as f64;
            let mean = values.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
            let sd = (values.iter().map(|v| (f64::from(*v) - mean).powi(2)).sum::<f64>() / n).sqrt();
            // Constants that were never learned (attention masks near f32::MIN, large fixed
            // scales) keep their values: re-drawing them breaks the graph, not the training.
            let max_abs = values.iter().fold(0f32, |m, v| m.max(v.abs()));
            if !(sd > 0.0 && sd.is_finite()) || max_abs > 1e4 {
                continue;
            }
            let mut rng = crate::rng::Rng::new(crate::hashing::seed_from(&format!("{seed}\0{}", t.name()), seed));
            for v in &mut values {
                *v = (mean + sd * rng.normal()) as f32;
            }
            if t.raw_data.as_ref().is_some_and(|r| !r.is_empty()) {
                t.raw_data = Some(values.iter().flat_map(|v| v.to_le_bytes()).collect());
            } else {
                t.float_data = values;
            }
            count += 1;
        }
        Ok(count)
    }

    /// Ablates channels of tensor `name`: its producer now writes `name::pre`, and
    /// `name = name::pre * keep + fill`, where `keep` and `fill` have shape `shape` (broadcast
    /// against the tensor, e.g. `[1, C, 1, 1]` for NCHW). Keep 0 and fill the unit's mean
    /// clamps a unit to its mean; keep 0 and fill 0 zeroes it. Every reader of `name` (later
    /// nodes, graph outputs, taps) sees the edited tensor.
    pub fn ablate(&mut self, name: &str, shape: &[i64], keep: &[f32], fill: &[f32]) -> Result<(), GraphError> {
        self.check_tensor(name)?;
        if self.model.ir_version.unwrap_or(0) < 4 {
            return Err(GraphError::Unsupported {
                path: self.path.clone(),
                what: "ablation in a model of ONNX IR version below 4 (re-export it with a recent exporter)".into(),
            });
        }
        let path = self.path.clone();
        let graph = self.model.graph.as_mut().expect("checked in decode");
        let declared = graph.value_info.iter().chain(&graph.output).find(|v| v.name() == name).and_then(|v| {
            match v.r#type.as_ref()?.value.as_ref()? {
                proto::type_proto::Value::TensorType(t) => t.elem_type,
                _ => None,
            }
        });
        if let Some(t) = declared
            && t != proto::tensor_proto::DataType::Float as i32
        {
            return Err(GraphError::Unsupported {
                path,
                what: format!("ablating tensor {name:?} of element type {t} (only float32)"),
            });
        }
        let (k, f, m, pre) =
            (format!("{name}::keep"), format!("{name}::fill"), format!("{name}::scaled"), format!("{name}::pre"));
        let init = |n: &str, v: &[f32]| proto::TensorProto {
            name: Some(n.to_owned()),
            dims: shape.to_vec(),
            data_type: Some(proto::tensor_proto::DataType::Float as i32),
            raw_data: Some(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            ..Default::default()
        };
        graph.initializer.push(init(&k, keep));
        graph.initializer.push(init(&f, fill));
        let producer = graph.node.iter().position(|n| n.output.iter().any(|o| o == name));
        let source = match producer {
            Some(i) => {
                for o in &mut graph.node[i].output {
                    if o == name {
                        o.clone_from(&pre);
                    }
                }
                pre
            }
            // A graph input: there is no producer, so its readers are pointed at the edit.
            None => {
                let edited = format!("{name}::ablated");
                for node in &mut graph.node {
                    for input in &mut node.input {
                        if input == name {
                            input.clone_from(&edited);
                        }
                    }
                }
                for o in &mut graph.output {
                    if o.name() == name {
                        o.name = Some(edited.clone());
                    }
                }
                return self.insert_affine(name, &k, &f, &m, &edited, 0);
            }
        };
        let at = producer.map_or(0, |i| i + 1);
        self.insert_affine(&source, &k, &f, &m, name, at)
    }

    fn insert_affine(
        &mut self,
        input: &str,
        keep: &str,
        fill: &str,
        mid: &str,
        out: &str,
        at: usize,
    ) -> Result<(), GraphError> {
        let graph = self.model.graph.as_mut().expect("checked in decode");
        let mul = proto::NodeProto {
            input: vec![input.to_owned(), keep.to_owned()],
            output: vec![mid.to_owned()],
            name: Some(format!("{out}::ablate_mul")),
            op_type: Some("Mul".into()),
            ..Default::default()
        };
        let add = proto::NodeProto {
            input: vec![mid.to_owned(), fill.to_owned()],
            output: vec![out.to_owned()],
            name: Some(format!("{out}::ablate_add")),
            op_type: Some("Add".into()),
            ..Default::default()
        };
        // Right after the producer, so the node list stays in topological order.
        graph.node.insert(at, add);
        graph.node.insert(at, mul);
        Ok(())
    }

    /// The decoded model, for code that writes a new graph from this one (`model::autodiff`).
    pub(crate) fn proto(&self) -> &proto::ModelProto {
        &self.model
    }

    /// The operator set version of the default (`ai.onnx`) domain; 1 when the model names none.
    pub fn opset(&self) -> i64 {
        self.model
            .opset_import
            .iter()
            .find(|o| matches!(o.domain(), "" | "ai.onnx"))
            .and_then(|o| o.version)
            .unwrap_or(1)
    }

    /// The model bytes unchanged.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.model.encode_to_vec()
    }

    /// Candidate tap points: activation outputs of MLP blocks and outputs of residual
    /// convolutional blocks, in graph order, grouped by the layer their node names share.
    pub fn candidate_taps(&self) -> Vec<TapCandidate> {
        let g = self.graph();
        let producer: HashMap<&str, &proto::NodeProto> =
            g.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
        let mut consumers: HashMap<&str, Vec<&proto::NodeProto>> = HashMap::new();
        for n in &g.node {
            for i in &n.input {
                consumers.entry(i.as_str()).or_default().push(n);
            }
        }
        let op_of = |tensor: &str| producer.get(tensor).map(|n| n.op_type());
        let mut out = Vec::new();
        let mut push = |node: &proto::NodeProto, tensor: &str, kind| {
            out.push(TapCandidate {
                layer: layer_of(node.name()),
                node: node.name().to_owned(),
                op_type: node.op_type().to_owned(),
                tensor: tensor.to_owned(),
                kind,
            })
        };
        for node in &g.node {
            let Some(output) = node.output.first() else { continue };
            match node.op_type() {
                "Gelu" | "FastGelu" | "BiasGelu" | "QuickGelu" => push(node, output, CandidateKind::MlpActivation),
                // GELU decomposed by the exporter as x * 0.5 * (1 + erf(x / sqrt 2)), or its tanh
                // approximation x * 0.5 * (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) (SigLIP,
                // `gelu_pytorch_tanh`): follow the chain of element-wise Add/Mul after the Erf or
                // Tanh; its end is the activation output.
                "Erf" | "Tanh" => {
                    let (mut last, mut tensor) = (node, output.as_str());
                    while let Some([next]) = consumers.get(tensor).map(Vec::as_slice) {
                        if !matches!(next.op_type(), "Add" | "Mul") {
                            break;
                        }
                        last = next;
                        tensor = next.output.first().map(String::as_str).unwrap_or_default();
                    }
                    if !std::ptr::eq(last, node) {
                        push(last, tensor, CandidateKind::MlpActivation);
                    }
                }
                // QuickGELU: x * sigmoid(1.702 x).
                "Mul" if node.input.iter().any(|i| op_of(i) == Some("Sigmoid")) => {
                    push(node, output, CandidateKind::MlpActivation)
                }
                // A ReLU right after a residual Add is the output of a ResNet bottleneck block.
                "Relu" if node.input.iter().any(|i| op_of(i) == Some("Add")) => {
                    push(node, output, CandidateKind::ResidualBlockOutput)
                }
                "Relu" if node.name().contains("mlp") => push(node, output, CandidateKind::MlpActivation),
                _ => {}
            }
        }
        out
    }
}

/// Every name a subgraph's nodes read (its own tensors included; extra names are harmless).
fn read_names(g: &proto::GraphProto, into: &mut BTreeSet<String>) {
    for node in &g.node {
        into.extend(node.input.iter().filter(|n| !n.is_empty()).cloned());
        for a in &node.attribute {
            a.g.iter().chain(&a.graphs).for_each(|sub| read_names(sub, into));
        }
    }
}

/// The layer a node belongs to: its name path without the last component, e.g.
/// `/transformer/resblocks.11/mlp/gelu/Mul_1` → `/transformer/resblocks.11/mlp/gelu`.
fn layer_of(node_name: &str) -> String {
    match node_name.rsplit_once('/') {
        Some((prefix, _)) if !prefix.is_empty() => prefix.to_owned(),
        _ => node_name.to_owned(),
    }
}

/// Why a tensor is a candidate tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateKind {
    /// The non-linearity of a transformer MLP block (the units CLIP-featurevis reads in ViTs).
    MlpActivation,
    /// The output of a residual convolutional block (the last one is the layer the Distill
    /// article studies in RN50x4).
    ResidualBlockOutput,
}

/// One candidate tap point.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TapCandidate {
    /// The layer (node name prefix) it belongs to.
    pub layer: String,
    /// The producing node.
    pub node: String,
    /// The producing operator.
    pub op_type: String,
    /// The tensor to write in `model.yaml`.
    pub tensor: String,
    /// Why it is listed.
    pub kind: CandidateKind,
}
