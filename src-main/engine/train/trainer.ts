/**
 * The training loop of a run, independent of files and processes: it owns the
 * models, the optimiser and the step generator, walks the epochs (a fresh
 * seeded shuffle per epoch, last partial batch dropped, as the reference), and
 * hands out one progress record per step and checkpoint bytes when due. The job
 * around it reads the tensor cache and writes the files.
 */
import * as tf from '@tensorflow/tfjs-core';

import type { ViewsConfig } from '../augment/index.ts';
import { quadrature, type Quadrature } from '../lejepa/index.ts';
import { createLinearProbe, createProjector } from '../models/index.ts';
import type { EncoderSpec } from '../models/types.ts';
import { Rng, type RngState } from '../rng.ts';
import { AdamW } from './adamw.ts';
import { initialEncoder, subSeed } from './encoder-weights.ts';
import {
  CheckpointFormatError,
  decodeCheckpoint,
  encodeCheckpoint,
  restoreVariables,
  snapshotVariables,
  type CheckpointTensor,
} from './checkpoint.ts';
import type { ProgressRecord } from './progress.ts';
import { learningRateAt } from './schedule.ts';
import { trainStep, type StepModels, type StepSettings } from './step.ts';

/** The parts of a run configuration the loop needs (api/run-config.ts has the full one). */
export interface TrainerSettings {
  encoder: EncoderSpec;
  projector: { hidden: number; out: number };
  views: ViewsConfig;
  lambda: number;
  slices: number;
  batch: number;
  epochs: number;
  lr: number;
  weightDecay: number;
  warmupEpochs: number;
  seed: number;
  probe: boolean;
  checkpointEvery: number;
  /**
   * Fault injection for tests: the inputs of step `nonFiniteAtStep` (1-based) are made
   * NaN; step `outOfMemoryAtStep` throws the RangeError an exhausted allocator throws.
   */
  faults?: { nonFiniteAtStep?: number; outOfMemoryAtStep?: number };
}

/** Training images: the tensor cache's pixels and the rows (and labels) to train on. */
export interface TrainData {
  /** uint8 NHWC pixels of every cached image. */
  pixels: Uint8Array;
  size: number;
  channels: number;
  /** Indices into `pixels` of the training images. */
  rows: Int32Array;
  /** Label of each training row (-1: none), or null when the version has no labels. */
  labels: Int32Array | null;
  classes: number;
}

export type CheckpointReason = 'interval' | 'epoch' | 'final' | 'cancel' | 'pause';

export interface TrainerHooks {
  onProgress(record: ProgressRecord): void;
  /** Called with the bytes of a checkpoint to store (atomically) before training goes on. */
  onCheckpoint(
    bytes: Uint8Array,
    info: { step: number; epoch: number; reason: CheckpointReason },
  ): void;
  /** Asked between steps: stop now with a checkpoint? */
  control(): 'cancel' | 'pause' | null;
  /** Called once each epoch has finished and its checkpoint was handed out. */
  onEpochEnd?(epoch: number): Promise<void> | void;
}

/** A step whose loss or gradient was not a finite number. */
export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
  constructor(
    readonly step: number,
    readonly values: { total: number; pred: number; sigreg: number; gradNorm: number },
  ) {
    super(
      `the loss became non-finite at step ${step} (total ${values.total}, prediction ${values.pred}, SIGReg ${values.sigreg}, gradient norm ${values.gradNorm})`,
    );
  }
}

export class Trainer {
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly warmupSteps: number;
  /** Steps completed. */
  step = 0;
  private readonly models: StepModels;
  private readonly optimiser: AdamW;
  private rng: Rng;
  private readonly quad: Quadrature;
  private readonly settings: StepSettings;
  private epochOrder: { epoch: number; rows: Int32Array } | null = null;

  /**
   * Builds fresh models from `cfg.seed` (same seed, same initial weights on every
   * backend). `configHash` is written into every checkpoint and checked on restore.
   */
  constructor(
    readonly cfg: TrainerSettings,
    readonly data: TrainData,
    readonly configHash: string,
  ) {
    if (data.rows.length < cfg.batch) {
      throw new RangeError(
        `the batch (${cfg.batch}) is larger than the ${data.rows.length} training images`,
      );
    }
    this.stepsPerEpoch = Math.floor(data.rows.length / cfg.batch);
    this.totalSteps = this.stepsPerEpoch * cfg.epochs;
    this.warmupSteps = Math.round(cfg.warmupEpochs * this.stepsPerEpoch);
    const init = new Rng(subSeed(cfg.seed, 1));
    const encoder = initialEncoder(cfg, init);
    const projector = createProjector(
      { inDim: encoder.featureDim, hidden: cfg.projector.hidden, out: cfg.projector.out },
      init,
    );
    const probe =
      cfg.probe && data.labels !== null && data.classes > 1
        ? createLinearProbe(encoder.featureDim, data.classes, init)
        : null;
    this.models = { encoder, projector, probe };
    const params = new Map<string, tf.Variable>();
    for (const [prefix, model] of this.namedModels()) {
      for (const [name, v] of model.params.trainable) params.set(prefix + name, v);
    }
    this.optimiser = new AdamW(params, {
      weightDecay: cfg.weightDecay,
      noDecay: (name) => {
        const [prefix, model] = this.namedModels().find(([p]) => name.startsWith(p))!;
        return model.noDecay(name.slice(prefix.length));
      },
    });
    this.rng = new Rng(subSeed(cfg.seed, 2));
    this.quad = quadrature();
    this.settings = {
      views: cfg.views,
      lambda: cfg.lambda,
      slices: cfg.slices,
      projectorOut: cfg.projector.out,
      quad: this.quad,
    };
  }

  get encoder() {
    return this.models.encoder;
  }

  private namedModels(): [string, StepModels['encoder'] | NonNullable<StepModels['probe']>][] {
    const out: [string, StepModels['encoder'] | NonNullable<StepModels['probe']>][] = [
      ['encoder/', this.models.encoder],
      ['projector/', this.models.projector],
    ];
    if (this.models.probe !== null) out.push(['probe/', this.models.probe]);
    return out;
  }

  /** The whole state of training as checkpoint bytes. */
  checkpoint(): Uint8Array {
    const tensors: CheckpointTensor[] = [];
    for (const [prefix, model] of this.namedModels()) {
      tensors.push(...snapshotVariables(prefix, model.params.trainable));
      tensors.push(...snapshotVariables(`${prefix}state/`, model.params.state));
    }
    const moments = this.optimiser.moments();
    tensors.push(
      ...snapshotVariables('adamw.m/', new Map([...moments].map(([n, s]) => [n, s.m]))),
      ...snapshotVariables('adamw.v/', new Map([...moments].map(([n, s]) => [n, s.v]))),
    );
    return encodeCheckpoint({
      configHash: this.configHash,
      step: this.step,
      rngState: this.rng.getState(),
      extra: { updates: this.optimiser.updates, stepsPerEpoch: this.stepsPerEpoch },
      tensors,
    });
  }

  /** Continues from checkpoint bytes of this same configuration (refused otherwise). */
  restore(bytes: Uint8Array): void {
    const c = decodeCheckpoint(bytes);
    if (c.configHash !== this.configHash) {
      throw new CheckpointFormatError('it belongs to a run with a different configuration');
    }
    if (c.extra.stepsPerEpoch !== this.stepsPerEpoch) {
      throw new CheckpointFormatError(
        `it was trained with ${String(c.extra.stepsPerEpoch)} steps per epoch, this data gives ${this.stepsPerEpoch}`,
      );
    }
    const byName = new Map(c.tensors.map((t) => [t.name, t]));
    for (const [prefix, model] of this.namedModels()) {
      restoreVariables(prefix, model.params.trainable, byName);
      restoreVariables(`${prefix}state/`, model.params.state, byName);
    }
    const moments = this.optimiser.moments();
    restoreVariables('adamw.m/', new Map([...moments].map(([n, s]) => [n, s.m])), byName);
    restoreVariables('adamw.v/', new Map([...moments].map(([n, s]) => [n, s.v])), byName);
    this.optimiser.updates = Number(c.extra.updates);
    this.rng = Rng.fromState(c.rngState as RngState);
    this.step = c.step;
    this.epochOrder = null;
  }

  /** The training rows of `epoch` (0-based) in their shuffled order: the same for any resume. */
  private orderOf(epoch: number): Int32Array {
    if (this.epochOrder?.epoch !== epoch) {
      const rows = Array.from(this.data.rows.keys());
      new Rng(subSeed(this.cfg.seed, 3, epoch)).shuffle(rows);
      this.epochOrder = { epoch, rows: Int32Array.from(rows) };
    }
    return this.epochOrder.rows;
  }

  /** Images [B, H, W, C] in [0, 1] and labels [B] of step `step`. */
  private batchAt(step: number): { images: tf.Tensor4D; labels: tf.Tensor1D | null } {
    const { size, channels, pixels } = this.data;
    const per = size * size * channels;
    const b = this.cfg.batch;
    const order = this.orderOf(Math.floor(step / this.stepsPerEpoch));
    const start = (step % this.stepsPerEpoch) * b;
    const x = new Float32Array(b * per);
    const y = new Int32Array(b);
    for (let i = 0; i < b; i++) {
      const k = order[start + i]!;
      const row = this.data.rows[k]!;
      const src = pixels.subarray(row * per, row * per + per);
      for (let j = 0; j < per; j++) x[i * per + j] = src[j]! / 255;
      y[i] = this.data.labels === null ? -1 : this.data.labels[k]!;
    }
    if (this.cfg.faults?.nonFiniteAtStep === step + 1) x.fill(Number.NaN);
    return {
      images: tf.tensor4d(x, [b, size, size, channels]),
      labels: this.models.probe === null ? null : tf.tensor1d(y, 'int32'),
    };
  }

  /** Trains the next step and returns its progress record. Throws NonFiniteLossError. */
  trainOne(): ProgressRecord {
    const started = performance.now();
    const lr = learningRateAt(this.step, {
      peak: this.cfg.lr,
      warmupSteps: this.warmupSteps,
      totalSteps: this.totalSteps,
    });
    if (this.cfg.faults?.outOfMemoryAtStep === this.step + 1) {
      throw new RangeError('Array buffer allocation failed');
    }
    const { images, labels } = this.batchAt(this.step);
    let v;
    try {
      v = trainStep(this.models, this.optimiser, images, labels, this.rng, this.settings, lr);
    } finally {
      images.dispose();
      labels?.dispose();
    }
    if (!v.finite) throw new NonFiniteLossError(this.step + 1, v);
    this.step += 1;
    const ms = performance.now() - started;
    const mem = tf.memory();
    return {
      step: this.step,
      epoch: this.step / this.stepsPerEpoch,
      lr,
      pred: v.pred,
      sigreg: v.sigreg,
      total: v.total,
      probeAcc: v.probeAcc,
      imagesPerSec: (this.cfg.batch * 1000) / ms,
      msPerStep: ms,
      liveTensors: mem.numTensors,
      memoryMB: mem.numBytes / 2 ** 20,
      gradNorm: v.gradNorm,
    };
  }

  /**
   * Trains until the last step or until `hooks.control()` asks to stop, handing
   * out a checkpoint every `checkpointEvery` steps, at each epoch's end, at the
   * end and when stopped. Yields to the event loop between steps so that
   * control messages arrive.
   */
  async run(hooks: TrainerHooks): Promise<'completed' | 'cancelled' | 'paused'> {
    const save = (reason: CheckpointReason) =>
      hooks.onCheckpoint(this.checkpoint(), {
        step: this.step,
        epoch: this.step / this.stepsPerEpoch,
        reason,
      });
    while (this.step < this.totalSteps) {
      const asked = hooks.control();
      if (asked !== null) {
        save(asked);
        return asked === 'cancel' ? 'cancelled' : 'paused';
      }
      hooks.onProgress(this.trainOne());
      const epochEnd = this.step % this.stepsPerEpoch === 0;
      if (this.step === this.totalSteps) save('final');
      else if (epochEnd) save('epoch');
      else if (this.step % this.cfg.checkpointEvery === 0) save('interval');
      if (epochEnd) await hooks.onEpochEnd?.(this.step / this.stepsPerEpoch);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return 'completed';
  }

  dispose(): void {
    this.optimiser.dispose();
    this.models.encoder.dispose();
    this.models.projector.dispose();
    this.models.probe?.dispose();
  }
}
