/**
 * Writing an ImageVolume as a derived DICOM series (dcmjs), one file per slice.
 *
 * MR Image Storage when the volume came from DICOM (patient, study, frame of
 * reference and MR acquisition tags copied from the source), Secondary Capture
 * otherwise. New Series/SOP Instance UIDs, ImageType DERIVED\SECONDARY\OTHER, 16-bit
 * pixels: integer data that fits int16/uint16 is stored exactly, anything else is
 * quantised linearly over its range with RescaleSlope/Intercept (error <= slope/2).
 * Window centre/width span the 0.5–99.5 percentiles (left out when narrower than 1,
 * which DICOM forbids; viewers then window by range). The folder is written under a
 * temporary name and renamed, so a killed process leaves no partial series.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { ModlError } from '../util/errors.js';
import { ensureDir, withAtomicPath, writeFileAtomic } from '../util/fs.js';
import { affineColumn, norm3, percentiles, valueRange, voxelToPatient, type ImageVolume } from './volume.js';

const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const EXPLICIT_LITTLE = '1.2.840.10008.1.2.1';
const IMPLEMENTATION_UID = '2.25.150327342127733190447387325462935346741'; // modl's fixed implementation class UID

/** Tags copied from the source series when present. */
const COPIED = [
  'SpecificCharacterSet', 'PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'PatientAge', 'PatientWeight',
  'StudyInstanceUID', 'StudyID', 'StudyDate', 'StudyTime', 'StudyDescription', 'AccessionNumber', 'ReferringPhysicianName',
  'FrameOfReferenceUID', 'BodyPartExamined', 'PatientPosition', 'InstitutionName', 'Laterality',
];
const MR_COPIED = [
  'ScanningSequence', 'SequenceVariant', 'ScanOptions', 'MRAcquisitionType', 'SequenceName', 'RepetitionTime', 'EchoTime',
  'InversionTime', 'EchoTrainLength', 'MagneticFieldStrength', 'ImagingFrequency', 'FlipAngle', 'ProtocolName',
];
const DS_TAGS = new Set(['PatientWeight', 'RepetitionTime', 'EchoTime', 'InversionTime', 'MagneticFieldStrength', 'ImagingFrequency', 'FlipAngle']);

export interface DicomWriteOptions {
  /** SeriesDescription, saying what produced the series, e.g. "modl MoDL 10 iterations". */
  seriesDescription: string;
  /** Default: the source's SeriesNumber + 1000, or 1000. */
  seriesNumber?: number;
  /** Replace an existing non-empty output folder (default: refuse). */
  overwrite?: boolean;
}

export interface DicomWriteResult {
  files: string[];
  seriesInstanceUID: string;
  /** Physical value = stored * slope + intercept. */
  rescale: { slope: number; intercept: number };
}

/** A DS (decimal string) of at most 16 characters. */
export function formatDS(x: number): string {
  if (!Number.isFinite(x)) return '0';
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  for (let p = 15; p >= 1; p--) {
    const s = String(Number(x.toPrecision(p)));
    if (s.length <= 16) return s;
  }
  return x.toExponential(6);
}

/** Stored 16-bit values and the rescale that maps them back to `data`. */
export function quantise16(data: Float32Array): { pixels: Int16Array | Uint16Array; slope: number; intercept: number } {
  const [lo, hi] = valueRange(data);
  let integral = true;
  for (let i = 0; i < data.length && integral; i++) integral = Number.isInteger(data[i]!);
  if (integral && lo >= -32768 && hi <= 32767) return { pixels: Int16Array.from(data), slope: 1, intercept: 0 };
  if (integral && lo >= 0 && hi <= 65535) return { pixels: Uint16Array.from(data), slope: 1, intercept: 0 };
  // Written values are the decimal strings, so quantise with exactly those.
  const intercept = Number(formatDS(lo));
  const slope = Number(formatDS(hi > lo ? (hi - intercept) / 65535 : 1));
  const pixels = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    pixels[i] = Number.isFinite(v) ? Math.min(65535, Math.max(0, Math.round((v - intercept) / slope))) : 0;
  }
  return { pixels, slope, intercept };
}

/** Patient-orientation letters of a direction in LPS (e.g. "L", "PH"), largest component first. */
export function orientationLetters(direction: readonly number[]): string {
  const letters = [['R', 'L'], ['A', 'P'], ['F', 'H']] as const;
  return [0, 1, 2]
    .filter((axis) => Math.abs(direction[axis]!) > 1e-4)
    .sort((a, b) => Math.abs(direction[b]!) - Math.abs(direction[a]!))
    .map((axis) => letters[axis]![direction[axis]! > 0 ? 1 : 0])
    .join('');
}

const dicomDate = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, '');
const dicomTime = (d: Date) => d.toISOString().slice(11, 19).replace(/:/g, '');

/** Writes `vol` as a DICOM series into folder `dir` (IM00001.dcm, ...). */
export async function writeDicomSeries(dir: string, vol: ImageVolume, opts: DicomWriteOptions): Promise<DicomWriteResult> {
  const [slices, rows, cols] = vol.shape;
  if (rows > 65535 || cols > 65535 || slices < 1) throw new ModlError(`writeDicomSeries ${dir}: cannot store shape [${vol.shape.join(', ')}]`);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!opts.overwrite) throw new ModlError(`${dir}: output folder exists and is not empty (choose another or allow overwriting)`);
  }
  const src = vol.source.dicomTags ?? {};
  const fromDicom = vol.source.dicomTags !== undefined;
  const sopClass = fromDicom ? MR_IMAGE_STORAGE : SECONDARY_CAPTURE;
  const { pixels, slope, intercept } = quantise16(vol.data);
  const [wLo, wHi] = percentiles(vol.data, [0.5, 99.5]) as [number, number];
  const uid = () => dcmjs.data.DicomMetaDictionary.uid();
  const seriesUID = uid();
  const now = new Date();
  const rowDir = affineColumn(vol.affine, 0).map((v) => v / (norm3(affineColumn(vol.affine, 0)) || 1));
  const colDir = affineColumn(vol.affine, 1).map((v) => v / (norm3(affineColumn(vol.affine, 1)) || 1));
  const normal = [rowDir[1]! * colDir[2]! - rowDir[2]! * colDir[1]!, rowDir[2]! * colDir[0]! - rowDir[0]! * colDir[2]!, rowDir[0]! * colDir[1]! - rowDir[1]! * colDir[0]!];
  const [sliceSpacing, rowSpacing, colSpacing] = vol.spacing;

  const common: Record<string, unknown> = {
    SpecificCharacterSet: 'ISO_IR 100',
    PatientName: '',
    PatientID: '',
    PatientBirthDate: '',
    PatientSex: '',
    StudyInstanceUID: uid(),
    StudyID: '',
    StudyDate: dicomDate(now),
    StudyTime: dicomTime(now),
    AccessionNumber: '',
    ReferringPhysicianName: '',
    FrameOfReferenceUID: uid(),
    PositionReferenceIndicator: '',
    PatientPosition: '',
    Laterality: '', // type 2C: a head is not a paired structure
  };
  for (const k of [...COPIED, ...(fromDicom ? MR_COPIED : [])]) {
    const v = src[k];
    if (v === undefined || v === '') continue;
    common[k] = typeof v === 'number' ? (DS_TAGS.has(k) ? formatDS(v) : v) : v.includes('\\') ? v.split('\\') : v;
  }
  Object.assign(common, {
    SOPClassUID: sopClass,
    Modality: fromDicom ? String(src.Modality ?? 'MR') : 'OT',
    SeriesInstanceUID: seriesUID,
    SeriesNumber: opts.seriesNumber ?? Number(src.SeriesNumber ?? 0) + 1000,
    SeriesDescription: opts.seriesDescription.slice(0, 64),
    SeriesDate: dicomDate(now),
    SeriesTime: dicomTime(now),
    ContentDate: dicomDate(now),
    ContentTime: dicomTime(now),
    Manufacturer: 'modl',
    ManufacturerModelName: 'modl',
    SoftwareVersions: 'modl',
    ImageType: ['DERIVED', 'SECONDARY', 'OTHER'], // MR images need value 3
    DerivationDescription: opts.seriesDescription.slice(0, 1024),
    ImageOrientationPatient: [...rowDir, ...colDir].map(formatDS),
    PixelSpacing: [formatDS(rowSpacing), formatDS(colSpacing)],
    SliceThickness: formatDS(Number(src.SliceThickness ?? sliceSpacing)),
    SpacingBetweenSlices: formatDS(sliceSpacing),
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: rows,
    Columns: cols,
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: pixels instanceof Int16Array ? 1 : 0,
    RescaleIntercept: formatDS(intercept),
    RescaleSlope: formatDS(slope),
    RescaleType: 'US',
  });
  if (wHi - wLo >= 1) Object.assign(common, { WindowCenter: formatDS((wLo + wHi) / 2), WindowWidth: formatDS(wHi - wLo) });
  if (fromDicom) {
    common.ScanningSequence ??= 'RM';
    common.SequenceVariant ??= 'NONE';
    common.ScanOptions ??= '';
    common.MRAcquisitionType ??= '';
    common.EchoTime ??= '';
    common.EchoTrainLength ??= '';
  } else {
    common.ConversionType = 'WSD';
    // type 2C in Secondary Capture, which has no Image Orientation (Patient) to say it
    common.PatientOrientation = [orientationLetters(rowDir), orientationLetters(colDir)];
  }

  const sliceValues = rows * cols;
  return withAtomicPath(dir, (tmp) => {
    ensureDir(tmp);
    const files: string[] = [];
    for (let k = 0; k < slices; k++) {
      const position = voxelToPatient(vol.affine, 0, 0, k);
      const sopUID = uid();
      const slicePixels = pixels.slice(k * sliceValues, (k + 1) * sliceValues);
      const dataset: Record<string, unknown> = {
        ...common,
        SOPInstanceUID: sopUID,
        InstanceNumber: k + 1,
        ImagePositionPatient: position.map(formatDS),
        SliceLocation: formatDS(position[0] * normal[0]! + position[1] * normal[1]! + position[2] * normal[2]!),
        PixelData: [slicePixels.buffer],
        _vrMap: { PixelData: 'OW' },
      };
      const meta = {
        FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
        MediaStorageSOPClassUID: sopClass,
        MediaStorageSOPInstanceUID: sopUID,
        TransferSyntaxUID: EXPLICIT_LITTLE,
        ImplementationClassUID: IMPLEMENTATION_UID,
        ImplementationVersionName: 'MODL',
      };
      const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
      dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
      const name = `IM${String(k + 1).padStart(5, '0')}.dcm`;
      writeFileAtomic(join(tmp, name), new Uint8Array(dict.write()));
      files.push(join(dir, name));
    }
    if (opts.overwrite && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    return { files, seriesInstanceUID: seriesUID, rescale: { slope, intercept } };
  });
}
