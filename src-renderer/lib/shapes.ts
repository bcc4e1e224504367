/**
 * Shapes of api results the views read. The api's result types live in
 * catalog/ and datasets/ modules that the renderer must not import (not even
 * as types: only src-main/api is its door), so the fields used are restated
 * here; the end-to-end tests catch a drift.
 */
export type Split = 'train' | 'val' | 'test';

export interface DatasetSummary {
  id: number;
  name: string;
  labels: 'imagefolder' | 'csv' | 'none';
  createdAt: string;
  updatedAt: string;
  items: number;
  files: number;
  excluded: number;
  missing: number;
  skipped: number;
  warnings: number;
  classes: number;
  versions: number;
}

export interface Version {
  id: number;
  datasetId: number;
  number: number;
  name: string | null;
  note: string | null;
  contentHash: string;
  itemCount: number;
  classes: string[];
  splitCounts: Record<Split, number>;
  createdAt: string;
}

export interface DatasetDetail extends Omit<DatasetSummary, 'classes' | 'versions'> {
  classes: ClassCount[];
  roots: { path: string; csv: string | null; splitLayout: boolean }[];
  tags: { name: string; items: number }[];
  duplicates: { exact: number; labelConflicts: number; splitConflicts: number; near: number };
  lastImport: { status: string; startedAt: string; finishedAt: string | null } | null;
  versions: Version[];
}

export interface ClassCount {
  label: string | null;
  train: number;
  val: number;
  test: number;
  none: number;
}

export interface ItemRow {
  id: number;
  hash: string;
  path: string;
  files: number;
  format: string;
  width: number;
  height: number;
  channels: number;
  label: string | null;
  split: Split | null;
  excluded: boolean;
  tags: string[];
  thumb: string;
}

export interface IssueRow {
  path: string;
  kind: 'skipped' | 'warning';
  code: string;
  message: string;
}

export interface ImportSummary {
  datasetId: number;
  name: string;
  files: number;
  imported: number;
  decoded: number;
  unchanged: number;
  warned: number;
  skipped: Record<string, number>;
  skippedTotal: number;
  items: number;
  exactDuplicates: number;
  nearDuplicates: number;
  seconds: number;
}

export interface NearDuplicate {
  a: { id: number; path: string; label: string | null };
  b: { id: number; path: string; label: string | null };
  distance: number;
  status: 'open' | 'kept' | 'dismissed';
}

export interface ExactDuplicate {
  itemId: number;
  hash: string;
  label: string | null;
  labelConflict: boolean;
  splitConflict: boolean;
  files: { path: string; label: string | null; split: Split | null }[];
}

export type RunStatus =
  'queued' | 'running' | 'paused' | 'completed' | 'cancelled' | 'failed' | 'interrupted';

export interface RunRow {
  id: number;
  name: string;
  datasetVersionId: number;
  config: Record<string, unknown>;
  status: RunStatus;
  message: string | null;
  backend: string | null;
  step: number;
  totalSteps: number | null;
  stepsPerEpoch: number | null;
  createdAt: string;
  startedAt: string | null;
  updatedAt: string;
  finishedAt: string | null;
}

export interface MetricRow {
  step: number;
  epoch: number;
  lr: number;
  pred: number;
  sigreg: number;
  total: number;
  probeAcc: number | null;
  imagesPerSec: number;
  msPerStep: number;
  memoryMB: number;
  gradNorm: number;
  time?: string;
}

export interface CheckpointRow {
  id: number;
  step: number;
  epoch: number;
  path: string;
  bytes: number;
  reason: string;
  createdAt: string;
}

export interface RunDetail {
  run: RunRow;
  last: MetricRow | null;
  checkpoints: CheckpointRow[];
  logs: { time?: string; level?: string; message: string }[];
}
