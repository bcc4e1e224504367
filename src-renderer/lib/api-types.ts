/**
 * The only door from the renderer into src-main: type definitions of the api
 * contract. Nothing here exists at run time; the renderer talks to the api
 * through a StudioClient.
 */
export type { ErrorData } from '../../src-main/api/errors.ts';
export type { ApiEvent } from '../../src-main/api/events.ts';
export type { StudioInfo, StudioSettings, BackendOption } from '../../src-main/api/studio.ts';
export type { RunConfig, PresetName } from '../../src-main/api/run-config.ts';
