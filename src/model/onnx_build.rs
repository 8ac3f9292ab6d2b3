//! Small constructors of ONNX protobuf values, for the code that writes graphs rather than
//! reading them: the generated bundles of `model::synthetic` and the gradient graphs of
//! `model::autodiff` (and their tests). prost's generated types are all `Option` fields and
//! `..Default::default()`; these keep the graph-writing code to the graph.

use super::graph::proto as onnx;

/// A float32 initializer `name` of shape `dims` holding `values` (row-major, as raw bytes).
pub fn tensor_f32(name: &str, dims: &[i64], values: &[f32]) -> onnx::TensorProto {
    onnx::TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(onnx::tensor_proto::DataType::Float as i32),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

/// An int64 initializer `name` of shape `dims` holding `values`.
#[cfg(test)]
pub fn tensor_i64(name: &str, dims: &[i64], values: &[i64]) -> onnx::TensorProto {
    onnx::TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(onnx::tensor_proto::DataType::Int64 as i32),
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

/// A typed graph input or output: element type `elem`, each dimension fixed or (None) the
/// symbolic `batch`.
pub fn value(name: &str, elem: onnx::tensor_proto::DataType, dims: &[Option<i64>]) -> onnx::ValueInfoProto {
    use onnx::tensor_shape_proto::{Dimension, dimension::Value};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(d.map_or_else(|| Value::DimParam("batch".into()), Value::DimValue)),
            ..Default::default()
        })
        .collect();
    onnx::ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(onnx::TypeProto {
            value: Some(onnx::type_proto::Value::TensorType(onnx::type_proto::Tensor {
                elem_type: Some(elem as i32),
                shape: Some(onnx::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A float32 graph input or output of a fixed shape.
pub fn value_f32(name: &str, shape: &[usize]) -> onnx::ValueInfoProto {
    let dims: Vec<Option<i64>> = shape.iter().map(|&d| Some(d as i64)).collect();
    value(name, onnx::tensor_proto::DataType::Float, &dims)
}

/// A node of operator `op` (default domain) with one output, named after that output.
pub fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<onnx::AttributeProto>) -> onnx::NodeProto {
    onnx::NodeProto {
        op_type: Some(op.into()),
        name: Some(output.into()),
        input: inputs.iter().map(|s| (*s).into()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

/// An integer attribute.
pub fn attr_int(name: &str, v: i64) -> onnx::AttributeProto {
    onnx::AttributeProto {
        name: Some(name.into()),
        i: Some(v),
        r#type: Some(onnx::attribute_proto::AttributeType::Int as i32),
        ..Default::default()
    }
}

/// A list-of-integers attribute.
pub fn attr_ints(name: &str, v: &[i64]) -> onnx::AttributeProto {
    onnx::AttributeProto {
        name: Some(name.into()),
        ints: v.to_vec(),
        r#type: Some(onnx::attribute_proto::AttributeType::Ints as i32),
        ..Default::default()
    }
}

/// A float attribute.
#[cfg(test)]
pub fn attr_float(name: &str, v: f32) -> onnx::AttributeProto {
    onnx::AttributeProto {
        name: Some(name.into()),
        f: Some(v),
        r#type: Some(onnx::attribute_proto::AttributeType::Float as i32),
        ..Default::default()
    }
}

/// A string attribute.
#[cfg(test)]
pub fn attr_string(name: &str, v: &str) -> onnx::AttributeProto {
    onnx::AttributeProto {
        name: Some(name.into()),
        s: Some(v.as_bytes().to_vec()),
        r#type: Some(onnx::attribute_proto::AttributeType::String as i32),
        ..Default::default()
    }
}
