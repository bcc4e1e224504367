/** The one Studio and Router of the page, created at start-up (main.ts). */
import { createClient } from './client/index.ts';
import { Router } from './stores/router.svelte.ts';
import { Studio } from './stores/studio.svelte.ts';

export const studio = new Studio(createClient());
export const router = new Router();
