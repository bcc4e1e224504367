/**
 * The model card of an export, as JSON (for tools) and Markdown (for people):
 * architecture, input size and normalisation, training configuration,
 * dataset version, metrics, parity check and the studio version.
 */
import type { ParityReport } from './export-parity.ts';

export interface CardFacts {
  studioVersion: string;
  runId: number;
  runName: string;
  checkpointStep: number;
  exportedAt: string;
  datasetVersionId: number;
  datasetVersionHash: string;
  trainingConfig: unknown;
  metrics: {
    finalLoss: number | null;
    finalPred: number | null;
    finalSigreg: number | null;
    knnAccuracy: number | null;
    probeAccuracy: number | null;
  };
  architecture: { spec: unknown; parameters: number; featureDim: number };
  input: {
    size: number;
    channels: number;
    layout: { onnx: string; tfjs: string };
    preprocessing: { scale: number; mean: number[]; std: number[]; formula: string };
  };
  output: { dim: number; head: 'backbone' | 'projector' };
  files: string[];
  parity: ParityReport[];
}

export function modelCard(f: CardFacts): Record<string, unknown> {
  return { format: 1, ...f };
}

const pct = (v: number | null) => (v === null ? 'not evaluated' : `${(v * 100).toFixed(2)} %`);
const num = (v: number | null) => (v === null ? '–' : v.toFixed(4));

/** The training recipe in one line (the fields a reader compares first). */
function recipe(config: unknown): string {
  const c = (config ?? {}) as Record<string, unknown>;
  const parts = [
    ['λ', c.lambda],
    ['slices', c.slices],
    ['batch', c.batch],
    ['epochs', c.epochs],
    ['learning rate', c.lr],
    ['seed', c.seed],
  ]
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k as string} ${v as number}`);
  return parts.length === 0 ? 'Trained with LeJEPA' : `Trained with LeJEPA: ${parts.join(', ')}`;
}

export function modelCardMarkdown(f: CardFacts): string {
  const spec = f.architecture.spec as { kind: string };
  const p = f.input.preprocessing;
  const lines = [
    `# LeJEPA encoder: run ${f.runId} (${f.runName}), step ${f.checkpointStep}`,
    '',
    `Exported by LeJEPA Studio ${f.studioVersion} on ${f.exportedAt}.`,
    '',
    '## Architecture',
    '',
    `- ${spec.kind === 'resnet' ? 'ResNet' : 'Vision Transformer'}: \`${JSON.stringify(f.architecture.spec)}\``,
    `- ${f.architecture.parameters.toLocaleString('en')} trainable parameters in the encoder`,
    `- Output: ${f.output.dim}-d ${f.output.head === 'projector' ? 'projector output' : 'backbone features'}`,
    '',
    '## Input',
    '',
    `- ${f.input.size}×${f.input.size} pixels, ${f.input.channels} channel${f.input.channels === 1 ? '' : 's'}`,
    `- Layout: ONNX ${f.input.layout.onnx}, TensorFlow.js ${f.input.layout.tfjs}, float32`,
    `- Normalisation: ${p.formula} with mean ${JSON.stringify(p.mean)} and std ${JSON.stringify(p.std)}`,
    '',
    '## Data and training',
    '',
    `- Dataset version ${f.datasetVersionId}, content hash \`${f.datasetVersionHash}\``,
    `- Final training loss ${num(f.metrics.finalLoss)} (prediction ${num(f.metrics.finalPred)}, SIGReg ${num(f.metrics.finalSigreg)})`,
    `- kNN accuracy ${pct(f.metrics.knnAccuracy)}; linear probe ${pct(f.metrics.probeAccuracy)}`,
    `- ${recipe(f.trainingConfig)}; the full training configuration:`,
    '',
    '```json',
    JSON.stringify(f.trainingConfig, null, 2),
    '```',
    '',
    '## Parity check',
    '',
    '| format | images | max abs diff | scale | relative | result |',
    '| --- | --- | --- | --- | --- | --- |',
    ...f.parity.map(
      (r) =>
        `| ${r.format} | ${r.images} | ${r.maxAbsDiff.toExponential(2)} | ${r.scale.toPrecision(3)} | ${r.relative.toExponential(2)} | ${r.passed ? 'passed' : `FAILED${r.error ? `: ${r.error}` : ''}`} |`,
    ),
    '',
    `An export passes when the largest absolute difference from the studio's own embeddings of the same images is at most ${f.parity[0]?.tolerance ?? 1e-4} × the embeddings' largest absolute value.`,
    '',
    '## Files',
    '',
    ...f.files.map((file) => `- \`${file}\``),
    '',
  ];
  return lines.join('\n');
}
