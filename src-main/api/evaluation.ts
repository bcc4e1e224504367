import type { MethodDef } from './method.ts';

export const evaluationMethods: MethodDef[] = [];
