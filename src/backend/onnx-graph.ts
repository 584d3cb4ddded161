/**
 * A few words for writing small ONNX graphs by hand (onnx-proto encodes them):
 * nodes with their attributes, float32 weights, int64 constants, the integer
 * tensors of quantised graphs, float32 graph
 * inputs and outputs of any shape, and the serialised ModelProto that
 * onnxruntime-node loads.
 */
import onnxProto, { type onnx as Onnx } from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const { INT64, INT32, INT8, UINT8 } = onnx.TensorProto.DataType;
const { INT, INTS } = onnx.AttributeProto.AttributeType;
/** ONNX opset 13: every operator used by modl's graphs is unchanged since. */
const OPSET = 13;

export type OnnxNode = Onnx.INodeProto;
export type OnnxTensorProto = Onnx.ITensorProto;

/** One node; attributes are ints (a number) or lists of ints. */
export function node(opType: string, input: string[], output: string, attributes: Record<string, number | number[]> = {}): OnnxNode {
  return {
    opType, input, output: [output],
    attribute: Object.entries(attributes).map(([name, v]) => (typeof v === 'number' ? { name, type: INT, i: v } : { name, type: INTS, ints: v })),
  };
}

export function floatTensor(name: string, dims: number[], data: Float32Array): OnnxTensorProto {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function int32Tensor(name: string, dims: number[], data: Int32Array): OnnxTensorProto {
  return { name, dims, dataType: INT32, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function int8Tensor(name: string, dims: number[], data: Int8Array): OnnxTensorProto {
  return { name, dims, dataType: INT8, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function uint8Tensor(name: string, dims: number[], data: Uint8Array): OnnxTensorProto {
  return { name, dims, dataType: UINT8, rawData: data };
}

export function int64Tensor(name: string, values: number[]): OnnxTensorProto {
  return { name, dims: [values.length], dataType: INT64, int64Data: values };
}

/** A float32 graph input or output; `dims` entries are sizes or symbolic names (omitted: any shape). */
export function floatValue(name: string, dims?: (number | string)[]): Onnx.IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType: FLOAT, ...(shape ? { shape } : {}) } } };
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers?: OnnxTensorProto[];
  inputs: Onnx.IValueInfoProto[];
  outputs: Onnx.IValueInfoProto[];
}

/** The serialised ModelProto of a graph. */
export function onnxModel(g: OnnxGraph): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'modl',
    graph: { name: g.name, node: g.nodes, initializer: g.initializers ?? [], input: g.inputs, output: g.outputs },
  });
  return onnx.ModelProto.encode(model).finish();
}
