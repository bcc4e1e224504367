/**
 * Every editable setting of a run as the New run form shows it: where it sits
 * in the configuration, what it means in the user's words, and its valid range
 * (the same ranges as the api's RunConfig schema, which has the final say).
 */
export interface NumberField {
  kind: 'number';
  path: string[];
  label: string;
  help: string;
  min: number;
  max: number;
  integer?: boolean;
  /** The lower bound itself is not allowed (learning rate > 0). */
  exclusiveMin?: boolean;
  nullable?: string;
}

export interface ChoiceField {
  kind: 'choice';
  path: string[];
  label: string;
  help: string;
  options: { value: string | number | boolean; label: string }[];
}

export type RunField = NumberField | ChoiceField;

const n = (
  path: string,
  label: string,
  help: string,
  min: number,
  max: number,
  extra: Partial<NumberField> = {},
): NumberField => ({ kind: 'number', path: path.split('.'), label, help, min, max, ...extra });

export const FIELD_GROUPS: { title: string; fields: RunField[] }[] = [
  {
    title: 'Model',
    fields: [
      {
        kind: 'choice',
        path: ['encoder'],
        label: 'Encoder',
        help: 'The network that turns an image into features: a small ResNet (the reference) or a tiny ViT.',
        options: [
          { value: 'resnet-small', label: 'ResNet small (1.4 M parameters)' },
          { value: 'vit-tiny', label: 'ViT tiny' },
        ],
      },
      n(
        'projector.hidden',
        'Projector width',
        'Hidden units of the projector MLP after the encoder.',
        8,
        8192,
        { integer: true },
      ),
      n(
        'projector.out',
        'Embedding size',
        'Size of the projected embedding that SIGReg shapes into an isotropic Gaussian.',
        2,
        4096,
        { integer: true },
      ),
      n(
        'imageSize',
        'Image size',
        'Side of the training images in pixels after resizing.',
        8,
        512,
        { integer: true },
      ),
      {
        kind: 'choice',
        path: ['channels'],
        label: 'Channels',
        help: '1 for grey images, 3 for colour (the per-channel normalisation follows).',
        options: [
          { value: 1, label: '1 (grey)' },
          { value: 3, label: '3 (RGB)' },
        ],
      },
    ],
  },
  {
    title: 'LeJEPA objective',
    fields: [
      n(
        'lambda',
        'λ (SIGReg weight)',
        'Loss = (1 − λ)·prediction + λ·SIGReg. Small values (0.02–0.1) work well.',
        0,
        1,
      ),
      n(
        'slices',
        'Slices',
        'Random directions per step on which SIGReg compares the embedding with a Gaussian.',
        1,
        8192,
        { integer: true },
      ),
      n(
        'views.globalViews',
        'Global views',
        'Large crops per image; their mean embedding is the prediction target.',
        1,
        8,
        { integer: true },
      ),
      n(
        'views.localViews',
        'Local views',
        'Small crops per image that must predict the global target.',
        0,
        16,
        { integer: true },
      ),
      n(
        'views.globalSize',
        'Global view size',
        'Side of a global crop in pixels (at most 4× image size).',
        8,
        512,
        { integer: true },
      ),
      n(
        'views.localSize',
        'Local view size',
        'Side of a local crop in pixels (at most 4× image size).',
        4,
        512,
        { integer: true },
      ),
      n(
        'views.globalScale.0',
        'Global crop area, smallest',
        'Smallest share of the image a global crop covers (at most the largest).',
        0,
        1,
        { exclusiveMin: true },
      ),
      n(
        'views.globalScale.1',
        'Global crop area, largest',
        'Largest share of the image a global crop covers.',
        0,
        1,
        { exclusiveMin: true },
      ),
      n(
        'views.localScale.0',
        'Local crop area, smallest',
        'Smallest share of the image a local crop covers (at most the largest).',
        0,
        1,
        { exclusiveMin: true },
      ),
      n(
        'views.localScale.1',
        'Local crop area, largest',
        'Largest share of the image a local crop covers.',
        0,
        1,
        { exclusiveMin: true },
      ),
      n('views.flip', 'Flip probability', 'Chance that a view is mirrored left–right.', 0, 1),
      n(
        'views.jitter.p',
        'Colour jitter probability',
        'Chance that brightness/contrast of a view are changed.',
        0,
        1,
      ),
      n('views.jitter.brightness', 'Brightness jitter', 'Strength of the brightness change.', 0, 1),
      n('views.jitter.contrast', 'Contrast jitter', 'Strength of the contrast change.', 0, 1),
      n(
        'views.jitter.saturation',
        'Saturation jitter',
        'Strength of the saturation change (colour images only).',
        0,
        1,
      ),
      n(
        'views.jitter.hue',
        'Hue jitter',
        'Largest hue shift, in turns of the colour wheel (colour images only).',
        0,
        0.5,
      ),
      n(
        'views.grayscale',
        'Greyscale probability',
        'Chance that a colour view is turned grey.',
        0,
        1,
      ),
      n('views.blur', 'Blur probability', 'Chance of a Gaussian blur on a view.', 0, 1),
      n(
        'views.solarize',
        'Solarize probability',
        'Chance of inverting bright pixels of a view.',
        0,
        1,
      ),
    ],
  },
  {
    title: 'Optimisation',
    fields: [
      n('batch', 'Batch size', 'Images per step; each is seen in every view.', 2, 4096, {
        integer: true,
      }),
      n('epochs', 'Epochs', 'Passes over the training images.', 1, 10000, { integer: true }),
      n(
        'lr',
        'Learning rate',
        'Peak AdamW learning rate (after warm-up, then cosine decay).',
        0,
        10,
        { exclusiveMin: true },
      ),
      n(
        'weightDecay',
        'Weight decay',
        'Decoupled AdamW weight decay (not on norms and biases).',
        0,
        10,
      ),
      n(
        'warmupEpochs',
        'Warm-up epochs',
        'Epochs of linear warm-up; at most the number of epochs.',
        0,
        10000,
      ),
      n(
        'trainLimit',
        'Image limit',
        'Train on a random subset of N training images, drawn with the seed (empty: all).',
        2,
        10_000_000,
        { integer: true, nullable: 'all' },
      ),
      n(
        'seed',
        'Seed',
        'Seed of every random draw, so a run can be replayed exactly.',
        0,
        2 ** 32 - 1,
        { integer: true },
      ),
    ],
  },
  {
    title: 'Compute and bookkeeping',
    fields: [
      {
        kind: 'choice',
        path: ['backend'],
        label: 'Backend',
        help: 'TensorFlow.js backend; auto picks the fastest that loads here.',
        options: ['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'].map((v) => ({
          value: v,
          label: v,
        })),
      },
      n('threads', 'Threads', 'Threads for native backends (empty: the backend decides).', 1, 256, {
        integer: true,
        nullable: 'automatic',
      }),
      n(
        'checkpointEvery',
        'Checkpoint every',
        'Steps between checkpoints (also at the end, on pause and on cancel).',
        1,
        1_000_000,
        { integer: true },
      ),
      {
        kind: 'choice',
        path: ['probe'],
        label: 'Online probe',
        help: 'Train a linear classifier on detached features to watch accuracy (needs labels).',
        options: [
          { value: true, label: 'on' },
          { value: false, label: 'off' },
        ],
      },
    ],
  },
];

/** A sentence when `raw` is outside the field's range, else null. */
export function checkNumber(field: NumberField, raw: string): string | null {
  if (raw.trim() === '') return field.nullable ? null : `${field.label} is required.`;
  const v = Number(raw);
  const range = `${field.exclusiveMin ? 'above ' : ''}${field.min}–${field.max}`;
  if (!Number.isFinite(v)) return `${field.label} must be a number (${range}).`;
  if (field.integer && !Number.isInteger(v))
    return `${field.label} must be a whole number (${range}).`;
  if (field.exclusiveMin ? v <= field.min : v < field.min)
    return `${field.label} must be ${field.exclusiveMin ? 'above' : 'at least'} ${field.min} (allowed ${range}).`;
  if (v > field.max) return `${field.label} must be at most ${field.max} (allowed ${range}).`;
  return null;
}

export function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const key of path) cur = (cur as Record<string, unknown> | undefined)?.[key];
  return cur;
}

export function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) cur = cur[key] as Record<string, unknown>;
  cur[path[path.length - 1]!] = value;
}
