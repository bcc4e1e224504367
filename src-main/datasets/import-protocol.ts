/**
 * Messages between the process that owns the catalog and the import child.
 * The child scans and decodes; it never writes the catalog. Killing either side
 * at any moment leaves the catalog consistent: the parent commits whole batches.
 */
import type { ErrorData } from '../api/errors.ts';
import type { DecodeOptions, DecodedFacts, SkipCode } from './decode.ts';
import type { ScanResult } from './scan.ts';

export interface DecodeJob {
  key: number;
  path: string;
  size: number;
}

export type DecodeResult =
  | { key: number; ok: true; facts: DecodedFacts }
  | { key: number; ok: false; code: SkipCode; message: string };

export type ToWorker =
  /** `skip`: folders not to enter (the workspace, when it lies inside a root). */
  | { type: 'scan'; roots: string[]; skip: string[] }
  | { type: 'decode'; jobs: DecodeJob[]; options: DecodeOptions; concurrency: number };

export type FromWorker =
  | { type: 'scan-progress'; found: number }
  | { type: 'scanned'; results: ScanResult[]; cpuSeconds: number }
  | { type: 'decoded'; results: DecodeResult[] }
  /** `cpuSeconds`: the child's CPU time so far (user + system, all threads). */
  | { type: 'decode-done'; cpuSeconds: number }
  | { type: 'error'; error: ErrorData };
