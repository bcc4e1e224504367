/**
 * One LeJEPA training step (Balestriero & LeCun 2025, §3–4): multi-crop views,
 * the backbone on the global views then on the local views (batch-norm
 * statistics per call, as the reference), the projector once on every
 * embedding, the LeJEPA loss with fresh SIGReg directions, and an online linear
 * probe on detached global features. The gradient is taken, checked for
 * non-finite values, and only then applied, so a bad step never reaches the
 * weights. Leaves no tensor behind.
 */
import * as tf from '@tensorflow/tfjs-core';

import { makeViews, type ViewsConfig } from '../augment/index.ts';
import { drawDirections, lejepaLoss, type Quadrature } from '../lejepa/index.ts';
import type { Encoder, Model } from '../models/types.ts';
import type { Rng } from '../rng.ts';
import type { AdamW } from './adamw.ts';
import { variableGradsLean } from './backprop.ts';

/**
 * The identity with a zero gradient: tfjs-core has no stop-gradient op, so the
 * probe's features are cut from the encoder's graph this way (the zeros add
 * nothing to the encoder's gradient).
 */
const detach = tf.customGrad((...inputs) => ({
  value: tf.clone(inputs[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as <T extends tf.Tensor>(x: T) => T;

export interface StepModels {
  encoder: Encoder;
  projector: Model<tf.Tensor2D, tf.Tensor2D>;
  probe: Model<tf.Tensor2D, tf.Tensor2D> | null;
}

export interface StepSettings {
  views: ViewsConfig;
  lambda: number;
  slices: number;
  projectorOut: number;
  quad: Quadrature;
}

export interface StepValues {
  total: number;
  pred: number;
  sigreg: number;
  probeLoss: number | null;
  probeAcc: number | null;
  gradNorm: number;
  /** False when the loss or the gradient was NaN or infinite (nothing was applied). */
  finite: boolean;
}

/**
 * Trains one step on `images` [B, H, W, C] (floats in [0, 1]) with optional
 * `labels` [B] (int32, -1 = unlabelled; used by the probe only). Every random
 * draw (crops, flips, jitter, directions) comes from `rng`, in a fixed order.
 * `params` maps the names the optimiser knows to the variables of the models.
 */
export function trainStep(
  models: StepModels,
  optimiser: AdamW,
  images: tf.Tensor4D,
  labels: tf.Tensor1D | null,
  rng: Rng,
  s: StepSettings,
  lr: number,
): StepValues {
  const batch = images.shape[0];
  const nGlobal = s.views.globalViews;
  const nViews = nGlobal + s.views.localViews;
  const views = makeViews(images, rng, s.views);
  const directions = drawDirections(rng, s.projectorOut, s.slices);
  const probe = labels === null ? null : models.probe;
  const kept: tf.Tensor[] = [];

  const byVariable = new Map<string, string>();
  for (const [name, v] of optimiser.params) byVariable.set(v.name, name);
  const varList = [...optimiser.params.values()];
  // Batch-norm running statistics change in the forward pass; a bad step must not keep them.
  const stateVars = [models.encoder, models.projector, models.probe].flatMap((m) =>
    m === null ? [] : [...m.params.state.values()],
  );
  const savedState = stateVars.map((v) => tf.clone(v));
  kept.push(...savedState);

  try {
    const { value, grads } = variableGradsLean(() => {
      const hGlobal = models.encoder.apply(views.global, { training: true });
      const hLocal =
        views.local === null ? null : models.encoder.apply(views.local, { training: true });
      const h = hLocal === null ? hGlobal : tf.concat([hGlobal, hLocal], 0);
      const z = models.projector.apply(h, { training: true });
      const proj = tf.reshape(z, [nViews, batch, s.projectorOut]) as tf.Tensor3D;
      const loss = lejepaLoss(proj, nGlobal, directions, s.quad, s.lambda);
      kept.push(tf.keep(loss.total), tf.keep(loss.pred), tf.keep(loss.sigreg));
      if (probe === null || labels === null) return loss.total;

      // The probe sees detached features: it reads the encoder, never trains it.
      const logits = probe.apply(detach(hGlobal), { training: true });
      const target = tf.tile(labels, [nGlobal]);
      const mask = tf.cast(tf.greaterEqual(target, 0), 'float32');
      const classes = logits.shape[1];
      const oneHot = tf.oneHot(tf.maximum(target, tf.scalar(0, 'int32')) as tf.Tensor1D, classes);
      const logp = tf.logSoftmax(logits);
      const nll = tf.neg(tf.sum(tf.mul(oneHot, logp), 1));
      const count = tf.maximum(tf.sum(mask), 1);
      const ce = tf.div(tf.sum(tf.mul(nll, mask)), count) as tf.Scalar;
      const hit = tf.cast(tf.equal(tf.argMax(logits, 1), target), 'float32');
      const acc = tf.div(tf.sum(tf.mul(hit, mask)), count);
      kept.push(tf.keep(ce), tf.keep(acc));
      return tf.add(loss.total, ce) as tf.Scalar;
    }, varList);
    kept.push(value);
    const gradMap = new Map<string, tf.Tensor>();
    for (const [varName, g] of Object.entries(grads)) {
      kept.push(g);
      const name = byVariable.get(varName);
      if (name !== undefined) gradMap.set(name, g);
    }

    const gradNorm = tf.tidy(() =>
      tf.sqrt(tf.addN([...gradMap.values()].map((g) => tf.sum(tf.square(g))))),
    );
    kept.push(gradNorm);
    const numbers = [...kept.slice(savedState.length, kept.indexOf(value)), gradNorm].map(
      (t) => t.dataSync()[0]!,
    );
    const [total, pred, sigreg] = numbers as [number, number, number];
    const hasProbe = probe !== null;
    const values: StepValues = {
      total,
      pred,
      sigreg,
      probeLoss: hasProbe ? numbers[3]! : null,
      probeAcc: hasProbe ? numbers[4]! : null,
      gradNorm: numbers[numbers.length - 1]!,
      finite: numbers.every(Number.isFinite),
    };
    if (values.finite) optimiser.apply(gradMap, lr);
    else stateVars.forEach((v, i) => v.assign(savedState[i]!));
    return values;
  } finally {
    tf.dispose(kept);
    tf.dispose([views.global, directions]);
    if (views.local !== null) views.local.dispose();
  }
}
