/**
 * One record per training step: the same object streams to the UI, goes to the
 * log and is stored in the catalog.
 */
export interface ProgressRecord {
  /** Optimiser steps completed, counting this one (1-based). */
  step: number;
  /** Fractional epoch at the end of this step (1.0 = one full pass). */
  epoch: number;
  /** Learning rate this step trained with. */
  lr: number;
  /** Prediction term: views against the mean of the global views. */
  pred: number;
  /** SIGReg term, averaged over views. */
  sigreg: number;
  /** (1-λ)·pred + λ·SIGReg. */
  total: number;
  /** Online linear probe accuracy on this batch's global views (null: no labels or probe off). */
  probeAcc: number | null;
  /** Source images per second (each counted once, whatever the number of views). */
  imagesPerSec: number;
  msPerStep: number;
  /** Tensors alive after the step (constant in a healthy run). */
  liveTensors: number;
  /** Memory the backend reports in use, MiB. */
  memoryMB: number;
  /** Global L2 norm of the gradient of every trained parameter. */
  gradNorm: number;
}
