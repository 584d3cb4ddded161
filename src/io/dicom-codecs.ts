/**
 * Decoding of compressed DICOM pixel data (encapsulated transfer syntaxes) with
 * dcmjs-codecs, a WebAssembly build of DCMTK's RLE, libjpeg-turbo, CharLS
 * (JPEG-LS), OpenJPEG (JPEG 2000), OpenJPH (HTJ2K) and libjxl decoders.
 * Transfer syntaxes it cannot decode get a clear error naming the syntax and file.
 */
import codecs from 'dcmjs-codecs';
import { fileError } from '../util/errors.js';

type Decoder = 'decodeRle' | 'decodeJpeg' | 'decodeJpegLs' | 'decodeJpeg2000' | 'decodeHtJpeg2000' | 'decodeJpegXl';

/** Compressed transfer syntaxes, their names and the dcmjs-codecs decoder that handles each. */
export const COMPRESSED_SYNTAXES: Record<string, { name: string; decoder?: Decoder }> = {
  '1.2.840.10008.1.2.5': { name: 'RLE Lossless', decoder: 'decodeRle' },
  '1.2.840.10008.1.2.4.50': { name: 'JPEG Baseline (Process 1)', decoder: 'decodeJpeg' },
  '1.2.840.10008.1.2.4.51': { name: 'JPEG Extended (Process 2 & 4)', decoder: 'decodeJpeg' },
  '1.2.840.10008.1.2.4.57': { name: 'JPEG Lossless (Process 14)', decoder: 'decodeJpeg' },
  '1.2.840.10008.1.2.4.70': { name: 'JPEG Lossless (Process 14, SV1)', decoder: 'decodeJpeg' },
  '1.2.840.10008.1.2.4.80': { name: 'JPEG-LS Lossless', decoder: 'decodeJpegLs' },
  '1.2.840.10008.1.2.4.81': { name: 'JPEG-LS Near-Lossless', decoder: 'decodeJpegLs' },
  '1.2.840.10008.1.2.4.90': { name: 'JPEG 2000 Lossless', decoder: 'decodeJpeg2000' },
  '1.2.840.10008.1.2.4.91': { name: 'JPEG 2000', decoder: 'decodeJpeg2000' },
  '1.2.840.10008.1.2.4.201': { name: 'HTJ2K Lossless', decoder: 'decodeHtJpeg2000' },
  '1.2.840.10008.1.2.4.202': { name: 'HTJ2K Lossless RPCL', decoder: 'decodeHtJpeg2000' },
  '1.2.840.10008.1.2.4.203': { name: 'HTJ2K', decoder: 'decodeHtJpeg2000' },
  '1.2.840.10008.1.2.4.110': { name: 'JPEG XL Lossless', decoder: 'decodeJpegXl' },
  '1.2.840.10008.1.2.4.112': { name: 'JPEG XL', decoder: 'decodeJpegXl' },
  '1.2.840.10008.1.2.4.100': { name: 'MPEG2 Main Profile' },
  '1.2.840.10008.1.2.4.102': { name: 'MPEG-4 AVC/H.264' },
  '1.2.840.10008.1.2.4.103': { name: 'MPEG-4 AVC/H.264 BD-compatible' },
  '1.2.840.10008.1.2.4.92': { name: 'JPEG 2000 Part 2 Multi-component Lossless' },
  '1.2.840.10008.1.2.4.93': { name: 'JPEG 2000 Part 2 Multi-component' },
};

export interface FrameLayout {
  rows: number;
  cols: number;
  bitsAllocated: number;
  bitsStored: number;
  samplesPerPixel: number;
  pixelRepresentation: number;
  photometricInterpretation: string;
}

let ready: Promise<void> | undefined;

/** Loads the codecs' WebAssembly once (it is only needed for compressed files). */
async function initCodecs(): Promise<void> {
  ready ??= codecs.NativeCodecs.initializeAsync({ logCodecsInfo: false, logCodecsTrace: false });
  try {
    await ready;
  } catch (e) {
    ready = undefined;
    throw e;
  }
}

/**
 * Decodes one compressed frame to raw little-endian pixel bytes
 * (rows * cols * samplesPerPixel * bitsAllocated/8 bytes).
 */
export async function decodeFrame(file: string, syntax: string, encoded: Uint8Array, layout: FrameLayout): Promise<Uint8Array> {
  const entry = COMPRESSED_SYNTAXES[syntax];
  if (!entry?.decoder) {
    const name = entry ? `${entry.name} (${syntax})` : syntax;
    throw fileError(file, `pixel data in transfer syntax ${name} cannot be decoded by modl; convert the file to an uncompressed syntax (e.g. dcmdjpeg/dcmdrle/gdcmconv --raw)`);
  }
  await initCodecs();
  const expected = layout.rows * layout.cols * layout.samplesPerPixel * (layout.bitsAllocated / 8);
  const context = new codecs.Context({
    width: layout.cols,
    height: layout.rows,
    bitsAllocated: layout.bitsAllocated,
    bitsStored: layout.bitsStored,
    samplesPerPixel: layout.samplesPerPixel,
    pixelRepresentation: layout.pixelRepresentation,
    planarConfiguration: 0,
    photometricInterpretation: layout.photometricInterpretation,
    encodedBuffer: encoded,
  });
  let decoded: Uint8Array | undefined;
  try {
    decoded = codecs.NativeCodecs[entry.decoder](context, {}).getDecodedBuffer();
  } catch (e) {
    // A decoder that aborted leaves its WebAssembly instance unusable: start a fresh one next time.
    codecs.NativeCodecs.release();
    ready = undefined;
    throw fileError(file, `corrupt ${entry.name} pixel data (${errorText(e)})`);
  }
  if (!decoded || decoded.byteLength < expected) {
    throw fileError(file, `${entry.name} frame decoded to ${decoded?.byteLength ?? 0} bytes, expected ${expected}`);
  }
  return decoded.subarray(0, expected);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
