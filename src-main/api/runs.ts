import type { MethodDef } from './method.ts';

export const runMethods: MethodDef[] = [];
