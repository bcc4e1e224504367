import type { MethodDef } from './method.ts';

export const datasetMethods: MethodDef[] = [];
