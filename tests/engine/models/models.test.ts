import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';

import { initBackend } from '../../../src-main/engine/backend.ts';
import {
  countParams,
  createEncoder,
  createLinearProbe,
  createProjector,
  ENCODER_PRESETS,
  type EncoderSpec,
} from '../../../src-main/engine/models/index.ts';
import {
  batchNormTrain,
  gelu,
  geluFormula,
  layerNormOp,
  linearOp,
} from '../../../src-main/engine/models/layers.ts';
import { Rng } from '../../../src-main/engine/rng.ts';

await initBackend({ prefer: 'wasm' });

const tiny: EncoderSpec = {
  kind: 'resnet',
  inChannels: 3,
  stem: 8,
  widths: [8, 16],
  depths: [1, 2],
};

function images(rng: Rng, shape: [number, number, number, number]): tf.Tensor4D {
  return tf.tensor4d(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
}

test('resnet-small with the 256→512→128 projector has the reference 1.42 M parameters at 3 channels', () => {
  const rng = new Rng(0);
  const enc = createEncoder(ENCODER_PRESETS['resnet-small'], rng);
  const proj = createProjector({ inDim: enc.featureDim, hidden: 512, out: 128 }, rng);
  // The PyTorch reference (1 input channel) counts 1,225,824 + 198,272; RGB adds 2·9·32 stem weights.
  assert.equal(countParams(enc.params) + countParams(proj.params), 1_424_672);
  assert.equal(enc.featureDim, 256);
  assert.equal(
    countParams(createEncoder({ ...ENCODER_PRESETS['resnet-small'], inChannels: 1 }, rng).params),
    1_225_824,
  );
  // Running statistics: two per batch-norm channel (2,880 values in the encoder), not trainable.
  let state = 0;
  for (const v of enc.params.state.values()) state += v.size;
  assert.equal(state, 2880);
  assert.ok(enc.params.trainable.has('stem.conv.w'));
  assert.ok(enc.params.trainable.has('stage2.block0.bn1.gamma'));
  assert.ok(enc.params.state.has('stage2.block0.bn1.mean'));
  assert.ok(enc.params.trainable.has('stage2.block0.short.conv.w'));
  assert.ok(!enc.params.trainable.has('stage1.block0.short.conv.w'));
  assert.ok(enc.noDecay('stem.bn.gamma') && enc.noDecay('stage1.block0.bn2.beta'));
  assert.ok(!enc.noDecay('stem.conv.w') && proj.noDecay('fc1.b') && !proj.noDecay('fc1.w'));
  enc.dispose();
  proj.dispose();
});

test('encoders accept 28–224 px with 1 or 3 channels and give [B, featureDim]', () => {
  const rng = new Rng(1);
  for (const [size, ch] of [
    [28, 1],
    [32, 3],
    [96, 3],
    [224, 1],
  ] as const) {
    const enc = createEncoder({ ...tiny, inChannels: ch }, rng);
    const x = images(rng, [2, size, size, ch]);
    const y = enc.apply(x, { training: false });
    assert.deepEqual(y.shape, [2, 16], `${size} px, ${ch} channels`);
    assert.throws(
      () => enc.apply(images(rng, [2, size, size, ch === 1 ? 3 : 1]), { training: false }),
      /NHWC/,
    );
    tf.dispose([x, y]);
    enc.dispose();
  }
  const vit = createEncoder(
    {
      kind: 'vit',
      inChannels: 1,
      imageSize: 28,
      patch: 7,
      dim: 32,
      depth: 2,
      heads: 4,
      mlpRatio: 2,
    },
    rng,
  );
  const x = images(rng, [3, 28, 28, 1]);
  assert.deepEqual(vit.apply(x, { training: true }).shape, [3, 32]);
  assert.throws(() => vit.apply(images(rng, [1, 32, 32, 1]), { training: false }), /28×28/);
  vit.dispose();
  assert.equal(countParams(createEncoder(ENCODER_PRESETS['vit-tiny'], rng).params), 5_360_832);
});

test('weights are a function of the seed only', () => {
  const weights = (seed: number) => {
    const enc = createEncoder(tiny, new Rng(seed));
    const out = [...enc.params.trainable.entries()].map(
      ([k, v]) => [k, Array.from(v.dataSync())] as const,
    );
    enc.dispose();
    return out;
  };
  assert.deepEqual(weights(5), weights(5));
  assert.notDeepEqual(weights(5), weights(6));
  // Kaiming-uniform (a = √5): every conv weight within ±1/√fan_in.
  const enc = createEncoder(tiny, new Rng(5));
  const w = enc.params.trainable.get('stage2.block0.conv1.w')!;
  const bound = 1 / Math.sqrt(3 * 3 * 8);
  const values = w.dataSync();
  assert.ok(
    values.every((v) => Math.abs(v) <= bound) && values.some((v) => Math.abs(v) > 0.9 * bound),
  );
  enc.dispose();
});

test('training mode normalises with batch statistics and moves the running ones; eval mode uses them', () => {
  const rng = new Rng(2);
  const proj = createProjector({ inDim: 6, hidden: 4, out: 3 }, rng);
  const x = tf.add(tf.mul(tf.tensor2d(rng.normalArray(40 * 6), [40, 6]), 3), 2) as tf.Tensor2D;
  const fc1 = tf.add(
    tf.matMul(x, proj.params.trainable.get('fc1.w')!),
    proj.params.trainable.get('fc1.b')!,
  );
  const batchMean = tf.mean(fc1, 0).dataSync();
  const batchVar = tf.moments(fc1, 0).variance.dataSync();

  const evalBefore = proj.apply(x, { training: false }).dataSync();
  proj.apply(x, { training: true });
  const mean = proj.params.state.get('bn1.mean')!.dataSync();
  const variance = proj.params.state.get('bn1.var')!.dataSync();
  for (let c = 0; c < 4; c++) {
    assert.ok(Math.abs(mean[c]! - 0.1 * batchMean[c]!) < 1e-5, 'mean ← 0.9·0 + 0.1·batch mean');
    const unbiased = (batchVar[c]! * 40) / 39;
    assert.ok(
      Math.abs(variance[c]! - (0.9 + 0.1 * unbiased)) < 1e-4 * unbiased,
      'var ← 0.9·1 + 0.1·unbiased',
    );
  }
  const evalAfter = proj.apply(x, { training: false }).dataSync();
  assert.notDeepEqual(evalAfter, evalBefore, 'eval output follows the running statistics');
  const again = proj.apply(x, { training: false }).dataSync();
  assert.deepEqual(again, evalAfter, 'eval mode changes nothing');
  proj.dispose();
});

test('ResNet evaluation (each convolution and batch norm folded into one) equals conv → BN → ReLU layer by layer', () => {
  const rng = new Rng(8);
  const enc = createEncoder(tiny, rng);
  // Running statistics and affine parameters far from their initial 0/1, so folding matters.
  for (const [name, v] of [...enc.params.trainable, ...enc.params.state]) {
    if (/\.(gamma|beta|mean|var)$/.test(name)) {
      const u = rng.uniformArray(v.size);
      const values = u.map((a) =>
        name.endsWith('.var')
          ? 0.2 + 2 * a
          : name.endsWith('.beta') || name.endsWith('.mean')
            ? 2 * a - 1
            : 0.5 + a,
      );
      v.assign(tf.tensor(values, v.shape));
    }
  }
  const param = (name: string): tf.Tensor1D =>
    (enc.params.trainable.get(name) ?? enc.params.state.get(name))! as tf.Tensor1D;
  const convBn = (x: tf.Tensor4D, conv: string, bn: string, stride: number): tf.Tensor4D => {
    const w = param(`${conv}.w`) as unknown as tf.Tensor4D;
    const half = (w.shape[0] - 1) / 2;
    const pad =
      half === 0
        ? ('valid' as const)
        : ([
            [0, 0],
            [half, half],
            [half, half],
            [0, 0],
          ] as [[number, number], [number, number], [number, number], [number, number]]);
    const c = tf.conv2d(x, w, stride, pad);
    return tf.batchNorm<tf.Rank.R4>(
      c,
      param(`${bn}.mean`),
      param(`${bn}.var`),
      param(`${bn}.beta`),
      param(`${bn}.gamma`),
      1e-5,
    );
  };
  const x = images(rng, [3, 28, 28, 3]);
  const reference = tf.tidy(() => {
    let h = tf.relu(convBn(x, 'stem.conv', 'stem.bn', 1));
    for (const [name, stride, project] of [
      ['stage1.block0', 1, false],
      ['stage2.block0', 2, true],
      ['stage2.block1', 1, false],
    ] as const) {
      const a = tf.relu(convBn(h, `${name}.conv1`, `${name}.bn1`, stride));
      const b = convBn(a, `${name}.conv2`, `${name}.bn2`, 1);
      const skip = project ? convBn(h, `${name}.short.conv`, `${name}.short.bn`, stride) : h;
      h = tf.relu(tf.add(b, skip));
    }
    return tf.mean(h, [1, 2]);
  });
  const before = tf.memory().numTensors;
  const folded = enc.apply(x, { training: false });
  assert.equal(tf.memory().numTensors, before + 1);
  assert.deepEqual(folded.shape, reference.shape);
  const a = folded.dataSync();
  const r = reference.dataSync();
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i]! - r[i]!) / (1e-3 + Math.abs(r[i]!)));
  assert.ok(worst < 1e-4, `worst relative difference ${worst}`);
  tf.dispose([x, folded, reference]);
  enc.dispose();
});

test("the fused batch norm's gradient equals autodiff of the textbook formula", () => {
  const rng = new Rng(3);
  const x = tf.tensor4d(rng.normalArray(3 * 4 * 5 * 6), [3, 4, 5, 6]);
  const gamma = tf.tensor1d(rng.normalArray(6));
  const beta = tf.tensor1d(rng.normalArray(6));
  const w = tf.tensor4d(rng.normalArray(3 * 4 * 5 * 6), [3, 4, 5, 6]);
  const fused = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const r = batchNormTrain(a, g, b);
    tf.dispose([r.batchMean, r.batchVar]);
    return tf.sum(tf.mul(r.y, w));
  })([x, gamma, beta]);
  const plain = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const m = tf.moments(a, [0, 1, 2]);
    const y = tf.add(tf.mul(tf.div(tf.sub(a, m.mean), tf.sqrt(tf.add(m.variance, 1e-5))), g), b);
    return tf.sum(tf.mul(y, w));
  })([x, gamma, beta]);
  for (let i = 0; i < 3; i++) {
    const err = tf.max(tf.abs(tf.sub(fused[i]!, plain[i]!))).dataSync()[0]!;
    const scale = tf.max(tf.abs(plain[i]!)).dataSync()[0]!;
    assert.ok(err < 1e-4 * Math.max(1, scale), `gradient ${i}: ${err}`);
  }
  tf.dispose([x, gamma, beta, w, ...fused, ...plain]);
});

test("the GELU, layer norm and linear ops give the formulas' values and their autodiff gradients", () => {
  const rng = new Rng(9);
  const x = tf.tensor3d(
    rng.normalArray(2 * 5 * 8).map((v) => 2 * v),
    [2, 5, 8],
  );
  const gamma = tf.tensor1d(rng.normalArray(8));
  const beta = tf.tensor1d(rng.normalArray(8));
  const w = tf.tensor3d(rng.normalArray(2 * 5 * 8), [2, 5, 8]);
  const close = (a: tf.Tensor, b: tf.Tensor, what: string) => {
    const err = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
    const scale = tf.max(tf.abs(b)).dataSync()[0]!;
    assert.ok(err < 1e-4 * Math.max(1, scale), `${what}: ${err}`);
  };
  close(gelu(x), geluFormula(x), 'GELU value');
  const [gOp] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(gelu(a), w)))([x]);
  const [gPlain] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(geluFormula(a), w)))([x]);
  close(gOp!, gPlain!, 'GELU gradient');

  const plainLn = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const m = tf.moments(a, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(a, m.mean), tf.sqrt(tf.add(m.variance, 1e-6))), g), b);
  };
  close(layerNormOp(x, gamma, beta), plainLn(x, gamma, beta), 'layer norm value');
  const op = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(layerNormOp(a, g, b), w)),
  )([x, gamma, beta]);
  const plain = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(plainLn(a, g, b), w)),
  )([x, gamma, beta]);
  for (let i = 0; i < 3; i++) close(op[i]!, plain[i]!, `layer norm gradient ${i}`);

  const x2 = tf.tensor2d(rng.normalArray(7 * 8), [7, 8]);
  const weights = tf.tensor2d(rng.normalArray(8 * 5), [8, 5]);
  const bias = tf.tensor1d(rng.normalArray(5));
  const dy = tf.tensor2d(rng.normalArray(7 * 5), [7, 5]);
  close(linearOp(x2, weights, bias), tf.add(tf.matMul(x2, weights), bias), 'linear value');
  const lin = tf.grads((a: tf.Tensor, m: tf.Tensor, c: tf.Tensor) =>
    tf.sum(tf.mul(linearOp(a as tf.Tensor2D, m as tf.Tensor2D, c), dy)),
  )([x2, weights, bias]);
  const linPlain = tf.grads((a: tf.Tensor, m: tf.Tensor, c: tf.Tensor) =>
    tf.sum(tf.mul(tf.add(tf.matMul(a as tf.Tensor2D, m as tf.Tensor2D), c), dy)),
  )([x2, weights, bias]);
  for (let i = 0; i < 3; i++) close(lin[i]!, linPlain[i]!, `linear gradient ${i}`);
  tf.dispose([x, gamma, beta, w, gOp!, gPlain!, ...op, ...plain, x2, weights, bias, dy]);
  tf.dispose([...lin, ...linPlain]);
});

test('a training step leaves the live tensor count unchanged and every gradient finite', () => {
  const rng = new Rng(4);
  for (const spec of [
    tiny,
    {
      kind: 'vit',
      inChannels: 3,
      imageSize: 16,
      patch: 4,
      dim: 16,
      depth: 1,
      heads: 2,
      mlpRatio: 2,
    } as EncoderSpec,
  ]) {
    const enc = createEncoder(spec, rng);
    const proj = createProjector({ inDim: enc.featureDim, hidden: 12, out: 5 }, rng);
    const probe = createLinearProbe(enc.featureDim, 4, rng);
    const x = images(rng, [6, 16, 16, 3]);
    const vars = [...enc.params.trainable.values(), ...proj.params.trainable.values()];
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const h = enc.apply(x, { training: true });
          const z = proj.apply(h, { training: true });
          return tf.add(
            tf.mean(tf.square(z)),
            tf.mean(probe.apply(h, { training: true })),
          ) as tf.Scalar;
        }, vars);
        return [value, ...Object.values(grads)];
      });
    tf.dispose(step()); // first call may create lazily allocated backend state
    const before = tf.memory().numTensors;
    const out = step();
    assert.equal(out.length, vars.length + 1, 'one gradient per trainable variable');
    for (const g of out) assert.ok(g.dataSync().every(Number.isFinite));
    tf.dispose(out);
    assert.equal(tf.memory().numTensors, before, `${spec.kind}: no tensor leaks across a step`);
    tf.dispose(x);
    for (const m of [enc, proj, probe]) m.dispose();
  }
});
