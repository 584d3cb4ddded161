/**
 * tfjs weights files (a JSON manifest beside one binary), as MoDL and generator
 * checkpoints store them. Writes are atomic; reads name the file that is wrong.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { fileError } from './errors.js';
import { writeFileAtomic } from './fs.js';

/** Writes one named-tensor set as a tfjs manifest + binary pair into `dir`. */
export async function writeWeights(dir: string, jsonName: string, binName: string, tensors: tf.NamedTensorMap, extra: object): Promise<void> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  writeFileAtomic(join(dir, binName), new Uint8Array(data));
  writeFileAtomic(join(dir, jsonName), JSON.stringify({ ...extra, weightsManifest: [{ paths: [binName], weights: specs }] }, null, 1));
}

/** Parses a JSON file, naming it (and `what` it is) when it is missing or broken. */
export function readJson(path: string, what: string): Record<string, unknown> {
  if (!existsSync(path)) throw fileError(path, `${what} not found`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw fileError(path, `cannot read ${what}: ${(e as Error).message}`);
  }
}

/** Reads a manifest + binary pair written by writeWeights, checking that the sizes agree. */
export function readWeights(dir: string, jsonName: string): { json: Record<string, unknown>; weights: tf.NamedTensorMap } {
  const jsonPath = join(dir, jsonName);
  const json = readJson(jsonPath, 'the weights manifest');
  const manifest = (json.weightsManifest as { paths?: string[]; weights?: tf.io.WeightsManifestEntry[] }[] | undefined)?.[0];
  if (!manifest?.paths?.[0] || !Array.isArray(manifest.weights)) throw fileError(jsonPath, 'no weightsManifest');
  const binPath = join(dir, manifest.paths[0]);
  if (!existsSync(binPath)) throw fileError(binPath, 'weights file not found');
  const bytes = readFileSync(binPath);
  const expected = manifest.weights.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  if (bytes.length !== expected) throw fileError(binPath, `holds ${bytes.length} bytes, ${jsonName} describes ${expected}`);
  return { json, weights: tf.io.decodeWeights(new Uint8Array(bytes).buffer, manifest.weights) };
}
