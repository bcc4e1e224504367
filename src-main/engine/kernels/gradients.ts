/**
 * Registers TensorFlow.js's gradient functions. tfjs-core's Node build ships the ops but not
 * their gradients (only its ES-module build has them, and Node cannot load that build's
 * extensionless imports); the `@tensorflow/tfjs` bundle registers them all on import. Every
 * engine module that differentiates imports this file, so `tf.grad` works whichever engine
 * file a caller starts from.
 */
import '@tensorflow/tfjs';
