/**
 * Reading one DICOM file (dicom-parser) into frames of physical pixel values.
 *
 * Handles implicit/explicit VR, little/big endian and deflated transfer syntaxes,
 * compressed pixel data through dicom-codecs.ts, multi-frame files (including the
 * per-frame geometry of enhanced MR), signed/unsigned 8/16/32-bit pixels with
 * BitsStored < BitsAllocated, and RescaleSlope/Intercept. Grouping files into
 * ordered series is dicom-series.ts's job.
 */
import { inflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { fileError, ModlError } from '../util/errors.js';
import { COMPRESSED_SYNTAXES, decodeFrame, type FrameLayout } from './dicom-codecs.js';
import { checkAllocation, zeroNonFinite } from './volume.js';
import { readRegularFile } from '../util/fs.js';

export interface DicomFrame {
  file: string;
  /** Index of the frame within its file (0 for single-frame files). */
  frameIndex: number;
  sopInstanceUID: string;
  instanceNumber?: number;
  rows: number;
  cols: number;
  /** rows x cols physical values (rescale applied), row-major. */
  pixels: Float32Array;
  /** ImagePositionPatient: centre of the first pixel, LPS mm. */
  position?: [number, number, number];
  /** ImageOrientationPatient: row direction (along a row) then column direction. */
  orientation?: [number, number, number, number, number, number];
  /** PixelSpacing: [between rows, between columns] mm. */
  pixelSpacing?: [number, number];
  sliceThickness?: number;
  /** Orders frames that share a position (echo, dynamic): TemporalPositionIdentifier, EchoNumbers, ... */
  stackOrder?: number;
}

export interface DicomFile {
  path: string;
  transferSyntax: string;
  seriesInstanceUID?: string;
  /** 'uint8', 'int16', 'uint16', ... as stored. */
  storedType: string;
  /** Patient/study/series/MR tags by keyword (see KEPT_TAGS). */
  tags: Record<string, string | number>;
  frames: DicomFrame[];
}

/** Tags kept for writing a derived series and for `modl info`: keyword -> [tag, numeric?]. */
export const KEPT_TAGS: Record<string, [string, boolean]> = {
  SpecificCharacterSet: ['00080005', false], ImageType: ['00080008', false], SOPClassUID: ['00080016', false],
  StudyDate: ['00080020', false], SeriesDate: ['00080021', false], StudyTime: ['00080030', false], SeriesTime: ['00080031', false],
  AccessionNumber: ['00080050', false], Modality: ['00080060', false], Manufacturer: ['00080070', false],
  InstitutionName: ['00080080', false], ReferringPhysicianName: ['00080090', false], StudyDescription: ['00081030', false],
  SeriesDescription: ['0008103E', false], ManufacturerModelName: ['00081090', false],
  PatientName: ['00100010', false], PatientID: ['00100020', false], PatientBirthDate: ['00100030', false],
  PatientSex: ['00100040', false], PatientAge: ['00101010', false], PatientWeight: ['00101030', true],
  BodyPartExamined: ['00180015', false], ScanningSequence: ['00180020', false], SequenceVariant: ['00180021', false],
  ScanOptions: ['00180022', false], MRAcquisitionType: ['00180023', false], SequenceName: ['00180024', false],
  SliceThickness: ['00180050', true], RepetitionTime: ['00180080', true], EchoTime: ['00180081', true],
  InversionTime: ['00180082', true], ImagingFrequency: ['00180084', true], MagneticFieldStrength: ['00180087', true],
  SpacingBetweenSlices: ['00180088', true], EchoTrainLength: ['00180091', true], ProtocolName: ['00181030', false],
  FlipAngle: ['00181314', true], PatientPosition: ['00185100', false],
  StudyInstanceUID: ['0020000D', false], SeriesInstanceUID: ['0020000E', false], StudyID: ['00200010', false],
  SeriesNumber: ['00200011', true], FrameOfReferenceUID: ['00200052', false],
};

const MAX_DECOMPRESSED = 2 ** 31; // bytes of a deflated dataset

const hex = (tag: string) => `x${tag.toLowerCase()}`;

function numbers(ds: DataSet, tag: string, count: number): number[] | undefined {
  const s = ds.string(hex(tag));
  if (!s) return undefined;
  const v = s.split('\\').map(Number);
  return v.length >= count && v.slice(0, count).every(Number.isFinite) ? v.slice(0, count) : undefined;
}

function number(ds: DataSet, tag: string): number | undefined {
  return numbers(ds, tag, 1)?.[0];
}

/** First item's dataset of sequence `seq` in a functional-group item, if any. */
function seqItem(group: DataSet | undefined, seq: string): DataSet | undefined {
  return group?.elements[hex(seq)]?.items?.[0]?.dataSet;
}

/** Parses the file's bytes; files without the DICM preamble are tried as raw implicit little endian. */
function parse(path: string, bytes: Uint8Array): DataSet {
  const inflater = (arr: Uint8Array, position: number) => {
    const inflated = inflateRawSync(arr.subarray(position), { maxOutputLength: MAX_DECOMPRESSED });
    const full = new Uint8Array(position + inflated.length);
    full.set(arr.subarray(0, position));
    full.set(inflated, position);
    return full;
  };
  const hasPreamble = bytes.length >= 132 && String.fromCharCode(...bytes.subarray(128, 132)) === 'DICM';
  try {
    return dicomParser.parseDicom(bytes, hasPreamble ? { inflater } : { TransferSyntaxUID: '1.2.840.10008.1.2', inflater });
  } catch (e) {
    throw fileError(path, `not a readable DICOM file (${libraryMessage(e)})`);
  }
}

/** True when the file starts with a DICOM Part 10 preamble ("DICM" at byte 128). */
export function hasDicomPreamble(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** Reads one DICOM file with all its frames decoded to physical values. */
export async function readDicomFile(path: string, bytes?: Uint8Array): Promise<DicomFile> {
  bytes ??= readRegularFile(path);
  const ds = parse(path, bytes);
  try {
    return await decodeDataset(path, ds);
  } catch (e) {
    // dicom-parser reads element values lazily and throws strings on corrupt lengths.
    if (e instanceof ModlError) throw e;
    throw fileError(path, `corrupt DICOM data (${libraryMessage(e)})`);
  }
}

function libraryMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : typeof e === 'string' ? e : ((e as { exception?: string })?.exception ?? String(e));
  return msg.replace(/^dicomParser\.\w+: /, '');
}

async function decodeDataset(path: string, ds: DataSet): Promise<DicomFile> {
  const syntax = (ds.string('x00020010') ?? '1.2.840.10008.1.2').replace(/\0/g, '').trim();
  const tags: Record<string, string | number> = {};
  for (const [keyword, [tag, numeric]] of Object.entries(KEPT_TAGS)) {
    const s = ds.string(hex(tag));
    if (s === undefined || s === '') continue;
    tags[keyword] = numeric && Number.isFinite(Number(s.split('\\')[0])) ? Number(s.split('\\')[0]) : s;
  }
  const pixelElement = ds.elements.x7fe00010;
  if (!pixelElement) throw fileError(path, `DICOM object has no pixel data (SOP class ${tags.SOPClassUID ?? 'unknown'})`);
  const layout = readLayout(path, ds);
  const nFrames = Math.max(1, ds.intString('x00280008') ?? 1);
  const frameValues = layout.rows * layout.cols;
  checkAllocation(path, nFrames * frameValues, `${nFrames} frames of ${layout.rows}x${layout.cols}`);
  const frameBytes = frameValues * (layout.bitsAllocated / 8);
  const compressed = syntax in COMPRESSED_SYNTAXES;
  if (compressed !== !!pixelElement.encapsulatedPixelData) {
    throw fileError(path, `pixel data ${compressed ? 'is not' : 'is'} encapsulated but transfer syntax is ${syntax}`);
  }
  // The parsed bytes: the file's, or the inflated dataset of a deflated transfer syntax.
  const source = ds.byteArray;
  const available = Math.min(pixelElement.length, source.length - pixelElement.dataOffset);
  if (!compressed && available < nFrames * frameBytes) {
    throw fileError(path, `truncated pixel data: ${Math.max(0, available)} bytes for ${nFrames} frame(s) of ${frameBytes}`);
  }
  const little = syntax !== '1.2.840.10008.1.2.2';
  const slope = number(ds, '00281053') ?? 1;
  const intercept = number(ds, '00281052') ?? 0;
  const shared = ds.elements.x52009229?.items?.[0]?.dataSet;
  const perFrame = ds.elements.x52009230?.items;
  const frames: DicomFrame[] = [];
  for (let f = 0; f < nFrames; f++) {
    const raw = compressed
      ? await decodeFrame(path, syntax, encapsulatedFrame(path, ds, pixelElement, f, nFrames), layout)
      : source.subarray(pixelElement.dataOffset + f * frameBytes, pixelElement.dataOffset + (f + 1) * frameBytes);
    const own = perFrame?.[f]?.dataSet;
    // Enhanced (multi-frame) objects carry geometry and rescale in functional groups.
    const fg = (seq: string, tag: string, n: number) =>
      numbers(seqItem(own, seq) ?? ds, tag, n) ?? (seqItem(shared, seq) ? numbers(seqItem(shared, seq)!, tag, n) : undefined);
    const s = fg('00289145', '00281053', 1)?.[0] ?? slope;
    const b = fg('00289145', '00281052', 1)?.[0] ?? intercept;
    // Decoders return little-endian pixels; 8-bit OW data in big endian files is stored byte-swapped in words.
    const swapped8 = !little && !compressed && layout.bitsAllocated === 8 && pixelElement.vr === 'OW';
    const pixels = toPhysical(raw, frameValues, layout, compressed || little, s, b, swapped8);
    zeroNonFinite(path, pixels);
    frames.push({
      file: path,
      frameIndex: f,
      sopInstanceUID: ds.string('x00080018') ?? `${path}#${f}`,
      instanceNumber: ds.intString('x00200013'),
      rows: layout.rows,
      cols: layout.cols,
      pixels,
      position: fg('00209113', '00200032', 3) as DicomFrame['position'],
      orientation: fg('00209116', '00200037', 6) as DicomFrame['orientation'],
      pixelSpacing: fg('00289110', '00280030', 2) as DicomFrame['pixelSpacing'],
      sliceThickness: fg('00289110', '00180050', 1)?.[0],
      stackOrder: numbers(seqItem(own, '00209111') ?? ds, '00200100', 1)?.[0] ?? number(ds, '00180086'),
    });
  }
  const storedType = `${layout.pixelRepresentation ? 'int' : 'uint'}${layout.bitsAllocated}`;
  return { path, transferSyntax: syntax, seriesInstanceUID: ds.string('x0020000e'), storedType, tags, frames };
}

function readLayout(path: string, ds: DataSet): FrameLayout {
  const rows = ds.uint16('x00280010') ?? 0;
  const cols = ds.uint16('x00280011') ?? 0;
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const samplesPerPixel = ds.uint16('x00280002') ?? 1;
  const pixelRepresentation = ds.uint16('x00280103') ?? 0;
  const photometricInterpretation = (ds.string('x00280004') ?? 'MONOCHROME2').trim();
  if (rows < 1 || cols < 1) throw fileError(path, `invalid image size ${rows}x${cols}`);
  if (![8, 16, 32].includes(bitsAllocated)) throw fileError(path, `unsupported BitsAllocated ${bitsAllocated} (need 8, 16 or 32)`);
  if (bitsStored < 1 || bitsStored > bitsAllocated) throw fileError(path, `invalid BitsStored ${bitsStored} for BitsAllocated ${bitsAllocated}`);
  if (samplesPerPixel !== 1 || !photometricInterpretation.startsWith('MONOCHROME')) {
    throw fileError(path, `colour images are not supported (${photometricInterpretation}, ${samplesPerPixel} samples per pixel); modl reads greyscale MR`);
  }
  return { rows, cols, bitsAllocated, bitsStored, samplesPerPixel, pixelRepresentation, photometricInterpretation };
}

/** The compressed bytes of frame `f`, using the offset table when there is one. */
function encapsulatedFrame(path: string, ds: DataSet, element: Element, f: number, nFrames: number): Uint8Array {
  const fragments = element.fragments ?? [];
  try {
    if (fragments.length === 0) throw new ModlError('no fragments');
    if (element.basicOffsetTable && element.basicOffsetTable.length > 0) return dicomParser.readEncapsulatedImageFrame(ds, element, f);
    if (nFrames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, element, 0, fragments.length);
    if (fragments.length === nFrames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, element, f, 1);
    const table = dicomParser.createJPEGBasicOffsetTable(ds, element);
    return dicomParser.readEncapsulatedImageFrame(ds, element, f, table);
  } catch (e) {
    throw fileError(path, `cannot locate compressed frame ${f + 1} of ${nFrames} (${libraryMessage(e)})`);
  }
}

/** Stored pixel values -> physical values: BitsStored masking, sign, slope and intercept. */
function toPhysical(raw: Uint8Array, n: number, layout: FrameLayout, little: boolean, slope: number, intercept: number, swapped8 = false): Float32Array {
  const { bitsAllocated, bitsStored, pixelRepresentation } = layout;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(n);
  const signed = pixelRepresentation === 1;
  const mask = bitsStored >= 32 ? 0xffffffff : 2 ** bitsStored - 1;
  const signBit = 2 ** (bitsStored - 1);
  const size = bitsAllocated / 8;
  for (let i = 0; i < n; i++) {
    let v = size === 1 ? view.getUint8(swapped8 ? Math.min(i ^ 1, n - 1) : i) : size === 2 ? view.getUint16(2 * i, little) : view.getUint32(4 * i, little);
    if (bitsStored < 32) v = v % (mask + 1); // drop bits above BitsStored (overlays, padding)
    if (signed && v >= signBit) v -= 2 * signBit;
    out[i] = v * slope + intercept;
  }
  return out;
}
