/**
 * Gradients of a scalar with respect to variables, as `tf.variableGrads`, with the same tape,
 * the same gradient functions and the same order of accumulation (so the same numbers), but
 * holding far less memory at its peak.
 *
 * tfjs-core's own backward pass keeps every tensor it makes until the end: the gradient of
 * every intermediate tensor, every partial gradient that was summed into another, and every
 * tensor the forward pass saved for the backward one. For a convolutional network that is the
 * activations plus a gradient of the size of each of them, several times over. Here each
 * tape node is freed as soon as it has been walked: the gradients of its outputs (complete
 * by then, since the tape is walked in reverse order of creation) and the tensors it saved
 * for its gradient. Saved tensors of nodes that do not lie between the variables and the
 * result are freed before the walk starts. The peak is then the saved activations at the
 * start of the walk plus the gradients in flight, instead of all of them at once.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-core's engine this file drives (they are not in its typings). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
}

function internals(): EngineInternals | null {
  const e = tf.engine() as unknown as Partial<EngineInternals>;
  const ok =
    typeof e.startTape === 'function' &&
    typeof e.endTape === 'function' &&
    e.state !== undefined &&
    typeof e.state.gradientDepth === 'number';
  return ok ? (e as EngineInternals) : null;
}

/**
 * The nodes of `tape` on a path from one of `xs` to `y`, in tape order, each with only those
 * inputs that depend on `xs` (as tfjs-core's own filter).
 */
function between(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      nodeFromX.add(node.id);
    }
  }
  const leadsToY = new Set<number>([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => leadsToY.has(o.id))) {
      for (const t of Object.values(node.inputs)) leadsToY.add(t.id);
      nodeToY.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodeFromX.has(node.id) || !nodeToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    out.push({ ...node, inputs });
  }
  return out;
}

/**
 * Walks `nodes` backwards from `y` (gradient one), freeing each node's output gradients and
 * saved tensors once it has been walked. Returns the gradient of each of `xs` (null when `y`
 * does not depend on it).
 */
function walk(nodes: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): (tf.Tensor | null)[] {
  const grads = new Map<number, tf.Tensor>([[y.id, tf.onesLike(y)]]);
  const keepIds = new Set(xs.map((x) => x.id));
  const inUse = (t: tf.Tensor) => {
    for (const g of grads.values()) if (g === t) return true;
    return false;
  };
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (node.gradient === undefined) {
      throw new Error(
        `Cannot compute gradient: gradient function not found for ${node.kernelName}.`,
      );
    }
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    const names = Object.keys(node.inputs);
    const dxs = tf.tidy(() => {
      const fns = node.gradient!(dys);
      return names.map((name) => {
        const fn = fns[name];
        if (fn === undefined) {
          throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
        }
        return tf.tidy(fn);
      });
    });
    names.forEach((name, k) => {
      const x = node.inputs[name]!;
      const dx = dxs[k]!;
      if (dx.dtype !== 'float32' || !tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(
          `Error in gradient for op ${node.kernelName}: the gradient of input '${name}' is ${dx.dtype} [${dx.shape.join(', ')}], its input float32 [${x.shape.join(', ')}].`,
        );
      }
      const current = grads.get(x.id);
      if (current === undefined) {
        grads.set(x.id, dx);
        return;
      }
      grads.set(x.id, tf.add(current, dx));
      if (!inUse(current)) current.dispose();
      if (!inUse(dx)) dx.dispose();
    });
    // Every consumer of this node's outputs came later on the tape and has been walked.
    for (const o of node.outputs) {
      const dy = grads.get(o.id);
      if (dy === undefined || keepIds.has(o.id)) continue;
      grads.delete(o.id);
      if (!inUse(dy)) dy.dispose();
    }
    for (const t of node.saved ?? []) if (!inUse(t)) t.dispose();
  }
  return xs.map((x) => grads.get(x.id) ?? null);
}

/**
 * `tf.variableGrads(f, varList)` with a backward pass that frees as it goes (see the top of
 * this file). Falls back to `tf.variableGrads` inside another gradient computation or when the
 * engine does not expose its tape.
 */
export function variableGradsLean(
  f: () => tf.Scalar,
  varList: tf.Variable[],
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const engine = internals();
  if (engine === null || engine.state.gradientDepth !== 0) return tf.variableGrads(f, varList);
  const vars = varList.filter((v) => v.trainable);
  if (vars.length === 0) {
    throw new Error(`variableGradsLean: none of the ${varList.length} variables is trainable.`);
  }

  const freeTape = () => {
    for (const node of engine.state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
    engine.state.activeTape = null;
  };
  let y: tf.Tensor;
  engine.startTape();
  try {
    y = tf.tidy('forward', f);
  } catch (e) {
    freeTape();
    throw e;
  } finally {
    engine.endTape();
  }
  const tape = engine.state.activeTape ?? [];
  try {
    if (!(y instanceof tf.Tensor) || y.rank !== 0) {
      throw new Error('variableGradsLean: f must return a scalar tensor.');
    }
    const nodes = between(tape, vars, y);
    const walked = new Set(nodes.map((n) => n.id));
    for (const node of tape) {
      if (!walked.has(node.id)) for (const t of node.saved ?? []) t.dispose();
    }
    const named = tf.tidy(() => {
      const out: tf.NamedTensorMap = {};
      walk(nodes, vars, y).forEach((g, i) => {
        if (g !== null) out[vars[i]!.name] = g;
      });
      return out;
    });
    if (Object.keys(named).length === 0) {
      throw new Error('variableGradsLean: the result does not depend on any of the variables.');
    }
    return { value: y as tf.Scalar, grads: named };
  } catch (e) {
    y.dispose();
    throw e;
  } finally {
    freeTape();
  }
}
